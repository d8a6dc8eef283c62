/**
 * Who sees which conversations over HTTP: two static tokens, one listed in
 * `MCP_OWNER_TOKENS`. The owner sees every conversation; the other token
 * sees only those it started through this bridge; OAuth-free stdio-like
 * single users are covered in tests/tools/recall_test.ts.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TestGateway } from "../../testing/test_gateway.ts";
import { withServedApp } from "../helpers/served_app.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const OWNER_TOKEN = "owner-token-0123456789abcdef0123456789";
const OTHER_TOKEN = "other-token-0123456789abcdef0123456789";

type Result = { isError?: boolean; structuredContent?: Record<string, unknown> };

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "recall-test", version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  return await client.callTool({ name, arguments: args }) as Result;
}

function keys(result: Result): string[] {
  return (result.structuredContent!.sessions as { key: string }[]).map((s) => s.key);
}

async function withTwoTokens(
  env: Record<string, string>,
  fn: (owner: Client, other: Client, gateway: TestGateway) => Promise<void>,
) {
  const gateway = await TestGateway.start();
  try {
    await withServedApp({
      env: {
        OPENCLAW_URL: gateway.url,
        OPENCLAW_GATEWAY_TOKEN: "test-token",
        MCP_AUTH_TOKENS: OTHER_TOKEN,
        MCP_OWNER_TOKENS: OWNER_TOKEN,
        ...env,
      },
    }, async ({ url }) => {
      const owner = await connect(url, OWNER_TOKEN);
      const other = await connect(url, OTHER_TOKEN);
      try {
        await fn(owner, other, gateway);
      } finally {
        await owner.close();
        await other.close();
      }
    });
  } finally {
    await gateway.close();
  }
}

Deno.test(
  "http recall: the owner token sees every conversation, the other token only its own",
  opts,
  async () => {
    await withTwoTokens({}, async (owner, other) => {
      for (const [client, id] of [[owner, "mine"], [other, "theirs"], [other, "theirs"]] as const) {
        const chat = await call(client, "openclaw_chat", { message: `hi ${id}`, session_id: id });
        assert.ok(!chat.isError);
      }
      const all = await call(owner, "openclaw_sessions");
      assert.equal(all.structuredContent!.scope, "all");
      assert.equal(keys(all).length, 2);
      const own = await call(other, "openclaw_sessions");
      assert.equal(own.structuredContent!.scope, "own");
      assert.equal(keys(own).length, 1);
      assert.equal(
        (own.structuredContent!.sessions as { session_id: string }[])[0].session_id,
        "theirs",
      );
      const history = await call(other, "openclaw_history", { session_id: "theirs" });
      assert.deepEqual(
        (history.structuredContent!.messages as { text: string }[]).map((m) => m.text),
        ["hi theirs", "echo: hi theirs", "hi theirs", "echo: hi theirs"],
      );
      // The owner's conversation, by its listed key: as missing as a missing one.
      const ownerKey = keys(all).find((k) => !keys(own).includes(k))!;
      const refused = await call(other, "openclaw_history", { session_id: ownerKey });
      const missing = await call(other, "openclaw_history", { session_id: "nope" });
      assert.equal(refused.isError, true);
      assert.deepEqual(refused.structuredContent, missing.structuredContent);
      assert.equal((refused.structuredContent!.error as { code: string }).code, "not_found");
      // The owner reads the other's conversation.
      const read = await call(owner, "openclaw_history", { session_id: keys(own)[0] });
      assert.equal((read.structuredContent!.messages as unknown[]).length, 4);
    });
  },
);

Deno.test("http recall: OPENCLAW_RECALL_TOOLS=off leaves both tools out", opts, async () => {
  await withTwoTokens({ OPENCLAW_RECALL_TOOLS: "off" }, async (owner) => {
    const names = (await owner.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes("openclaw_sessions"));
    assert.ok(!names.includes("openclaw_history"));
  });
});
