/**
 * `startBridge` from a loaded configuration: one toolset and task store shared
 * by every principal's server, tasks kept apart by owner, session keys
 * namespaced when configured, and a stop that ends the runner.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { type Bridge, startBridge } from "../src/bridge.ts";
import { loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/log.ts";
import { TestGateway } from "../testing/test_gateway.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Result = { isError?: boolean; structuredContent?: Record<string, unknown> };

async function withBridge(
  env: Record<string, string>,
  fn: (bridge: Bridge, gateway: TestGateway) => Promise<void>,
) {
  const gateway = await TestGateway.start();
  const command = loadConfig({
    args: ["--transport", "http"],
    env: { OPENCLAW_URL: gateway.url, OPENCLAW_GATEWAY_TOKEN: "test-token", ...env },
  });
  if (command.kind !== "run") throw new Error("expected a run command");
  const kv = await Deno.openKv(":memory:");
  const bridge = startBridge(command.config, { kv, log: silentLogger });
  try {
    await fn(bridge, gateway);
  } finally {
    await bridge.stop();
    kv.close();
    await gateway.close();
  }
}

async function clientFor(bridge: Bridge, owner: string): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await bridge.serverFor(owner).connect(serverSide);
  const client = new Client({ name: "bridge-test", version: "0" });
  await client.connect(clientSide);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  return await client.callTool({ name, arguments: args }) as Result;
}

async function completed(client: Client, taskId: unknown): Promise<Record<string, unknown>> {
  const deadline = performance.now() + 3_000;
  while (performance.now() < deadline) {
    const status = (await call(client, "openclaw_task_status", { task_id: taskId }))
      .structuredContent!;
    if (status.status === "completed") return status;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the task did not complete");
}

Deno.test(
  "bridge: the runner is started; each principal sees only its own tasks",
  opts,
  async () => {
    await withBridge({}, async (bridge) => {
      assert.deepEqual(bridge.gateways.list().map((c) => c.instance.name), ["default"]);
      const alice = await clientFor(bridge, "alice");
      const bob = await clientFor(bridge, "bob");
      const { tools } = await alice.listTools();
      assert.ok(tools.some((t) => t.name === "openclaw_chat_async"), "task tools are on");
      const submitted = await call(alice, "openclaw_chat_async", { message: "for alice" });
      const done = await completed(alice, submitted.structuredContent!.task_id);
      assert.equal(done.reply, "echo: for alice");
      const seen = await call(bob, "openclaw_task_status", {
        task_id: submitted.structuredContent!.task_id,
      });
      assert.equal(
        (seen.structuredContent!.error as { code: string }).code,
        "task_not_found",
      );
      await alice.close();
      await bob.close();
    });
  },
);

Deno.test(
  "bridge: with MCP_SESSION_NAMESPACE=on the gateway gets a per-principal key",
  opts,
  async () => {
    await withBridge({ MCP_SESSION_NAMESPACE: "on" }, async (bridge, gateway) => {
      const alice = await clientFor(bridge, "alice");
      const bob = await clientFor(bridge, "bob");
      await call(alice, "openclaw_chat", { message: "a", session_id: "shared" });
      await call(bob, "openclaw_chat", { message: "b", session_id: "shared" });
      const keys = gateway.chats.map((c) => c.headers["x-openclaw-session-key"]);
      assert.match(keys[0], /^mcp-[0-9a-f]{16}:shared$/);
      assert.match(keys[1], /^mcp-[0-9a-f]{16}:shared$/);
      assert.notEqual(keys[0], keys[1], "two principals, two conversations");
      const refused = await call(alice, "openclaw_chat", {
        message: "x",
        session_id: "agent:main:main",
      });
      assert.equal((refused.structuredContent!.error as { code: string }).code, "invalid_argument");
      await alice.close();
      await bob.close();
    });
  },
);

Deno.test("bridge: without namespacing the key is sent unchanged", opts, async () => {
  await withBridge({ MCP_SESSION_NAMESPACE: "off" }, async (bridge, gateway) => {
    const client = await clientFor(bridge, "local");
    await call(client, "openclaw_chat", { message: "a", session_id: "mine" });
    assert.equal(gateway.chats[0].headers["x-openclaw-session-key"], "mine");
    await client.close();
  });
});

Deno.test("bridge: aborting shutdown cancels calls in flight", opts, async () => {
  await withBridge({}, async (bridge, gateway) => {
    const client = await clientFor(bridge, "local");
    gateway.fault = { kind: "hang" };
    const pending = call(client, "openclaw_chat", { message: "wait" });
    await gateway.waitFor(() => gateway.chats.length === 1);
    bridge.shutdown.abort();
    const result = await pending;
    assert.equal((result.structuredContent!.error as { code: string }).code, "cancelled");
    await client.close();
  });
});
