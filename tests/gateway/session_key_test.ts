/**
 * Gateway session keys: namespaced per principal when more than one can
 * exist, unchanged otherwise; OpenClaw's own key shapes refused unless
 * allowed; session ids that cannot be an HTTP header refused at the edge.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  isInternalSessionKey,
  namespaceSessions,
  SessionKeys,
} from "../../src/gateway/session_key.ts";
import type { BridgeError } from "../../src/errors.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { connectStdio, gatewayEnv, startHttp } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Result = {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content: { text?: string }[];
};

const TOKEN_A = "token-a-0123456789abcdef";
const TOKEN_B = "token-b-0123456789abcdef";

async function httpClient(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "session-key-tests", version: "0" });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  return await client.callTool({ name, arguments: args }) as Result;
}

async function finished(client: Client, taskId: unknown): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const status = (await call(client, "openclaw_task_status", { task_id: taskId }))
      .structuredContent!;
    if (status.status === "completed" || status.status === "failed") return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("task did not finish");
}

Deno.test("session keys: when keys are namespaced", () => {
  const base = { transport: "http" as const, oauth: false, staticTokens: 0 };
  assert.equal(namespaceSessions({ ...base, mode: "auto" }), false, "HTTP without auth");
  assert.equal(namespaceSessions({ ...base, mode: "auto", staticTokens: 1 }), false);
  assert.equal(namespaceSessions({ ...base, mode: "auto", staticTokens: 2 }), true);
  assert.equal(namespaceSessions({ ...base, mode: "auto", oauth: true }), true);
  assert.equal(
    namespaceSessions({ ...base, mode: "auto", transport: "stdio", staticTokens: 2 }),
    false,
  );
  assert.equal(namespaceSessions({ ...base, mode: "on", transport: "stdio" }), true);
  assert.equal(namespaceSessions({ ...base, mode: "off", oauth: true }), false);
});

Deno.test("session keys: OpenClaw's own shapes are recognised", async () => {
  for (const key of ["agent:main:main", "AGENT:coder:telegram:group:1", "x:incognito-1234"]) {
    assert.ok(isInternalSessionKey(key), key);
  }
  for (const key of ["agent", "agent:main", "my-agent:main:main", "conv-42", "s:1:2"]) {
    assert.ok(!isInternalSessionKey(key), key);
  }
  const keys = new SessionKeys({ namespaced: true });
  assert.throws(
    () => keys.check("agent:main:main"),
    (e: BridgeError) =>
      e.code === "invalid_argument" && /MCP_ALLOW_INTERNAL_SESSION_KEYS/.test(e.hint),
  );
  new SessionKeys({ allowInternalKeys: true }).check("agent:main:main");
  const a = await keys.toGateway("token:1111", "s");
  assert.match(a!, /^mcp-[0-9a-f]{16}:s$/);
  assert.equal(await keys.toGateway("token:1111", "s"), a, "stable");
  assert.notEqual(await keys.toGateway("token:2222", "s"), a);
  assert.equal(await keys.toGateway("token:1111", undefined), undefined);
  assert.equal(await new SessionKeys().toGateway("token:1111", "s"), "s");
});

Deno.test("session keys: the gateway's bare aliases and the namespaced shape are refused", async () => {
  // OpenClaw lowercases and trims a key and sends a bare one to
  // agent:<agentId>:<key>: "main" is the agent's main conversation
  // (measured against OpenClaw 2026.9.6), "global" and "unknown" are shared.
  for (
    const key of [
      "main",
      "MAIN",
      "Main",
      " main ",
      "global",
      "GLOBAL",
      "unknown",
      "mcp-0123456789abcdef:conv",
      "MCP-0123456789ABCDEF:conv",
    ]
  ) {
    assert.ok(isInternalSessionKey(key), JSON.stringify(key));
  }
  for (const key of ["main-chat", "main:main", "mainly", "my main", "mcp-12:conv", "mcp-x"]) {
    assert.ok(!isInternalSessionKey(key), key);
  }
  for (const namespaced of [false, true]) {
    const keys = new SessionKeys({ namespaced });
    for (const key of ["main", "mcp-0123456789abcdef:conv"]) {
      assert.throws(() => keys.check(key), (e: BridgeError) => e.code === "invalid_argument");
      // The runner calls toGateway alone: a task queued before the rule is refused there too.
      await assert.rejects(
        keys.toGateway("token:1111", key),
        (e: BridgeError) => e.code === "invalid_argument",
      );
    }
  }
  const allowed = new SessionKeys({ allowInternalKeys: true });
  assert.equal(await allowed.toGateway("token:1111", "main"), "main");
});

Deno.test(
  "session keys: two tokens, same session_id: two gateway conversations; results keep the caller's id",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const server = await startHttp({
      env: { ...gatewayEnv(gateway.url), MCP_AUTH_TOKENS: `${TOKEN_A},${TOKEN_B}` },
    });
    try {
      const a = await httpClient(server.url, TOKEN_A);
      const b = await httpClient(server.url, TOKEN_B);
      const ra = await call(a, "openclaw_chat", { message: "from a", session_id: "shared" });
      const rb = await call(b, "openclaw_chat", { message: "from b", session_id: "shared" });
      assert.equal(ra.structuredContent?.session_id, "shared");
      assert.equal(rb.structuredContent?.session_id, "shared");
      const direct = gateway.chats.map((c) => c.headers["x-openclaw-session-key"]);
      assert.equal(direct.length, 2);
      for (const key of direct) assert.match(key, /^mcp-[0-9a-f]{16}:shared$/);
      assert.notEqual(direct[0], direct[1], "tenants never share a conversation");

      // The task runner sends the same key as the direct call, per principal.
      const task = await call(a, "openclaw_chat_async", {
        message: "async a",
        session_id: "shared",
      });
      const done = await finished(a, task.structuredContent?.task_id);
      assert.equal(done.session_id, "shared", "the task record keeps the caller's id");
      assert.equal(gateway.chats[2].headers["x-openclaw-session-key"], direct[0]);

      const internal = await call(a, "openclaw_chat", {
        message: "x",
        session_id: "agent:main:main",
      });
      assert.equal(
        (internal.structuredContent?.error as { code: string }).code,
        "invalid_argument",
      );
      assert.match(internal.content[0].text!, /OpenClaw's own session keys/);
      const internalAsync = await call(b, "openclaw_chat_async", {
        message: "x",
        session_id: "agent:main:main",
      });
      assert.equal(
        (internalAsync.structuredContent?.error as { code: string }).code,
        "invalid_argument",
      );
      assert.equal(gateway.chats.length, 3, "refused keys never reach the gateway");
      await a.close();
      await b.close();
    } finally {
      await server.stop();
      await gateway.close();
    }
  },
);

Deno.test(
  "session keys: one token keeps raw keys; the allow flag admits agent:main:main",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const server = await startHttp({
      env: {
        ...gatewayEnv(gateway.url),
        MCP_AUTH_TOKENS: TOKEN_A,
        MCP_ALLOW_INTERNAL_SESSION_KEYS: "true",
      },
    });
    try {
      const a = await httpClient(server.url, TOKEN_A);
      await call(a, "openclaw_chat", { message: "one", session_id: "conv-1" });
      const main = await call(a, "openclaw_chat", {
        message: "two",
        session_id: "agent:main:main",
      });
      assert.ok(!main.isError, main.content[0].text);
      assert.deepEqual(
        gateway.chats.map((c) => c.headers["x-openclaw-session-key"]),
        ["conv-1", "agent:main:main"],
      );
      await a.close();
    } finally {
      await server.stop();
      await gateway.close();
    }
  },
);

Deno.test(
  "session keys: stdio sends raw keys; header-unsafe session ids are refused",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const session = await connectStdio({ env: gatewayEnv(gateway.url) });
    try {
      const ok = await session.client.callTool({
        name: "openclaw_chat",
        arguments: { message: "hi", session_id: "café ÿ-1" },
      }) as Result;
      assert.ok(!ok.isError, ok.content[0].text);
      assert.equal(gateway.chats[0].headers["x-openclaw-session-key"], "café ÿ-1");
      for (const tool of ["openclaw_chat", "openclaw_chat_async"]) {
        for (
          const sessionId of [
            "line\nbreak",
            "snow☃",
            "emoji😀",
            "c1\u0085",
            "agent:main:main",
            // Sent raw, these reach agent:main:main and another bridge's namespaced key.
            "Main",
            "mcp-0123456789abcdef:x",
          ]
        ) {
          const result = await session.client.callTool({
            name: tool,
            arguments: { message: "hi", session_id: sessionId },
          }) as Result;
          const error = result.structuredContent?.error as { code: string; message: string };
          assert.equal(error?.code, "invalid_argument", `${tool} ${JSON.stringify(sessionId)}`);
          assert.match(error.message, /session_id/);
          if (/^[\x20-\x7e]*$/.test(sessionId)) {
            assert.match(error.message, /OpenClaw's own session keys/);
          } else {
            assert.match(error.message, /printable ASCII/);
          }
        }
      }
      assert.equal(gateway.chats.length, 1, "nothing refused reached the gateway");
    } finally {
      await session.close();
      await gateway.close();
    }
  },
);
