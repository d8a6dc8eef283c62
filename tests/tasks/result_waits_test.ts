/**
 * `tasks/result` (2025-11-25) waits poll KV until the task ends and outlive a
 * client that went away, so one owner may hold only `MAX_RESULT_WAITS` at
 * once per process (measured before the bound: 1,000 waits on one task held
 * about half a CPU, still after the client aborted every request).
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { silentLogger } from "../../src/log.ts";
import { createServer } from "../../src/server.ts";
import { MAX_RESULT_WAITS } from "../../src/tasks/mcp_tasks.ts";
import { TaskRunner } from "../../src/tasks/runner.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { INITIALIZE } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Message = {
  id?: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
};

/** A 2025 server of `owner` over the shared store, driven with raw JSON-RPC. */
async function session(store: TaskStore, owner: string) {
  const gateways = new GatewayRegistry([{
    name: "default",
    url: "http://127.0.0.1:9",
    timeoutMs: 1_000,
    isDefault: true,
    model: "openclaw",
  }]);
  // Never started: tasks stay pending until the test ends them.
  const runner = new TaskRunner({ store, gateways, log: silentLogger });
  const server = createServer({
    gateways,
    log: silentLogger,
    owner,
    tasks: { store, runner, ttlMs: 60_000 },
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const waiting = new Map<number, (message: Message) => void>();
  clientSide.onmessage = (message) => {
    const m = message as Message;
    waiting.get(m.id as number)?.(m);
  };
  await server.connect(serverSide);
  await clientSide.start();
  let nextId = 1;
  const request = (method: string, params: Record<string, unknown>) =>
    new Promise<Message>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      clientSide.send({ jsonrpc: "2.0", id, method, params });
    });
  await request(INITIALIZE.method, INITIALIZE.params);
  await clientSide.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  return { request, close: () => clientSide.close() };
}

Deno.test(
  "tasks/result: one owner holds at most MAX_RESULT_WAITS waits; others and finished tasks are unaffected",
  opts,
  async () => {
    await using kv = await Deno.openKv(":memory:");
    const store = new TaskStore(kv);
    const alice = await session(store, "alice");
    const bob = await session(store, "bob");
    try {
      const task = await store.submit("alice", { message: "hi", instance: "default" });
      const bobTask = await store.submit("bob", { message: "hi", instance: "default" });
      const waits = Array.from(
        { length: MAX_RESULT_WAITS },
        () => alice.request("tasks/result", { taskId: task.id }),
      );
      // Let every wait pass its first read and take its place.
      await new Promise((resolve) => setTimeout(resolve, 100));

      const refused = await alice.request("tasks/result", { taskId: task.id });
      assert.equal(refused.error?.code, -32000);
      assert.match(refused.error?.message ?? "", /^quota_exceeded: .*tasks\/result/);

      // Another owner's budget is their own.
      const bobWait = bob.request("tasks/result", { taskId: bobTask.id });
      await new Promise((resolve) => setTimeout(resolve, 100));

      await store.cancel("alice", task.id);
      await store.cancel("bob", bobTask.id);
      for (const answer of await Promise.all([...waits, bobWait])) {
        assert.equal(answer.error, undefined, JSON.stringify(answer.error));
        assert.equal(answer.result?.isError, true);
      }

      // A finished task is answered at once, and the ended waits gave their places back.
      const again = await Promise.all(
        Array.from(
          { length: MAX_RESULT_WAITS + 1 },
          () => alice.request("tasks/result", { taskId: task.id }),
        ),
      );
      for (const answer of again) assert.equal(answer.error, undefined);
      const next = await store.submit("alice", { message: "again", instance: "default" });
      const more = Array.from(
        { length: MAX_RESULT_WAITS },
        () => alice.request("tasks/result", { taskId: next.id }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await store.cancel("alice", next.id);
      for (const answer of await Promise.all(more)) assert.equal(answer.error, undefined);
    } finally {
      await alice.close();
      await bob.close();
    }
  },
);
