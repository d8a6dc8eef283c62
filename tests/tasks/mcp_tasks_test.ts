/**
 * The MCP task methods of both eras over a real (in-memory) KV task store,
 * the tasks driven to each status with the store's own API. Legacy
 * (2025-11-25): a v2 `Server` on the SDK's in-memory transport, driven with
 * raw JSON-RPC after `initialize`. Modern (2026-07-28): the SDK's
 * `createMcpHandler` in strict mode, fed raw enveloped requests in process.
 */
import assert from "node:assert/strict";
import {
  type CallToolResult,
  createMcpHandler,
  InMemoryTransport,
  type JSONRPCMessage,
  Server,
} from "@modelcontextprotocol/server";
import {
  createdTask,
  detailedTask,
  legacyTask,
  type McpTaskOptions,
  POLL_INTERVAL_MS,
  registerLegacyTasks,
  registerModernTasks,
  TASKS_EXTENSION,
} from "../../src/tasks/mcp_tasks.ts";
import { type TaskRecord, TaskStore } from "../../src/tasks/store.ts";
import { INITIALIZE } from "../../testing/spawn.ts";
import { modernRequest } from "../helpers/modern_rpc.ts";

/** The TTL the methods report (the store's own is shorter: they are told apart). */
const TTL_MS = 3_600_000;
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const ISO0 = new Date(T0).toISOString();
const RELATED_TASK = "io.modelcontextprotocol/related-task";

type Json = Record<string, unknown>;
type RpcError = { code: number; message: string; data?: { error?: Json } };

/** A store that counts its reads of each task (to see a `tasks/result` wait stop polling). */
class CountingStore extends TaskStore {
  reads = new Map<string, number>();
  override get(owner: string, id: string): Promise<TaskRecord> {
    this.reads.set(id, (this.reads.get(id) ?? 0) + 1);
    return super.get(owner, id);
  }
}

/** A real in-memory KV store with a fixed clock and readable ids; tasks driven per status. */
async function storeFixture() {
  const kv = await Deno.openKv(":memory:");
  const clock = { now: T0 };
  let n = 0;
  const store = new CountingStore(kv, {
    now: () => clock.now,
    ttlMs: 60_000,
    newId: () => `task-${++n}`,
  });
  const submit = (owner = "alice") => store.submit(owner, { message: "hi", instance: "a" });
  /** Claims the one pending task (each helper leaves none behind, so it is `task`). */
  const claim = async (task: TaskRecord) => {
    const claimed = await store.claim("r1", 60_000);
    assert.equal(claimed?.task.id, task.id);
    return claimed!;
  };
  return {
    kv,
    clock,
    store,
    pending: submit,
    async running(owner = "alice") {
      return (await claim(await submit(owner))).task;
    },
    async completed(owner = "alice", reply = "the reply") {
      const claimed = await claim(await submit(owner));
      assert.ok(
        await store.complete(claimed, reply, { model: "m", usage: null, finishReason: "stop" }),
      );
      return await store.get(owner, claimed.task.id);
    },
    async failed(owner = "alice") {
      const claimed = await claim(await submit(owner));
      assert.ok(
        await store.fail(claimed, {
          code: "gateway_timeout",
          message: "Too slow.",
          hint: "Retry.",
        }),
      );
      return await store.get(owner, claimed.task.id);
    },
    async cancelled(owner = "alice") {
      return await store.cancel(owner, (await submit(owner)).id);
    },
    /** Completes a running task from outside (as a runner would). */
    async finish(task: TaskRecord, reply: string) {
      const found = (await store.read(task.id))!;
      assert.ok(
        await store.complete(found, reply, { model: "m", usage: null, finishReason: "stop" }),
      );
    },
    [Symbol.asyncDispose]() {
      kv.close();
      return Promise.resolve();
    },
  };
}

type StoreFixture = Awaited<ReturnType<typeof storeFixture>>;

/** Stands in for the server's renderer: the reply of a completed task, else a coded isError result. */
function renderer(store: TaskStore): (task: TaskRecord) => Promise<CallToolResult> {
  return async (task) => {
    if (task.status === "completed") {
      const reply = await store.reply(task);
      return { content: [{ type: "text", text: reply }], structuredContent: { reply } };
    }
    return {
      content: [{ type: "text", text: `Error [${task.error?.code}]` }],
      structuredContent: { error: task.error },
      isError: true,
    };
  };
}

function taskOptions(f: StoreFixture, extra: Partial<McpTaskOptions> = {}): McpTaskOptions {
  return { store: f.store, owner: "alice", ttlMs: TTL_MS, render: renderer(f.store), ...extra };
}

/** A legacy-era server with the native task methods, driven with raw JSON-RPC. */
async function legacySession(f: StoreFixture, extra: Partial<McpTaskOptions> = {}) {
  const server = new Server({ name: "t", version: "0" }, {
    capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
  });
  registerLegacyTasks(server, taskOptions(f, extra));
  const [client, serverSide] = InMemoryTransport.createLinkedPair();
  const waiting = new Map<number, (message: Json) => void>();
  client.onmessage = (message: JSONRPCMessage) => {
    const m = message as Json;
    waiting.get(m.id as number)?.(m);
  };
  await server.connect(serverSide);
  await client.start();
  let nextId = 1;
  /** Sends a request; `id` is known at once (to cancel it), `reply` is the wire answer. */
  const send = (method: string, params: Json) => {
    const id = nextId++;
    const reply = new Promise<Json>((resolve) => waiting.set(id, resolve));
    client.send({ jsonrpc: "2.0", id, method, params } as JSONRPCMessage);
    return { id, reply };
  };
  const init = await send(INITIALIZE.method, INITIALIZE.params).reply;
  assert.ok(init.result, JSON.stringify(init));
  await client.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  return {
    send,
    request: (method: string, params: Json) => send(method, params).reply,
    cancel: (requestId: number) =>
      client.send({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId, reason: "the test gave up" },
      }),
    close: () => client.close(),
  };
}

/** The `result` of a wire answer (fails on an error). */
function resultOf(message: Json): Json {
  assert.ok(message.result, `expected a result: ${JSON.stringify(message)}`);
  return message.result as Json;
}

/** The `error` of a wire answer (fails on a result). */
function errorOf(message: Json): RpcError {
  assert.ok(message.error, `expected an error: ${JSON.stringify(message)}`);
  return message.error as RpcError;
}

/** The modern-era handler over the Tasks extension methods, fed raw requests. */
function modernEndpoint(f: StoreFixture, extra: Partial<McpTaskOptions> = {}) {
  const handler = createMcpHandler(() => {
    const server = new Server({ name: "t", version: "0" }, {
      capabilities: { tools: {}, extensions: { [TASKS_EXTENSION]: {} } },
    });
    registerModernTasks(server, taskOptions(f, extra));
    return server;
  }, { legacy: "reject" });
  return {
    async request(method: string, params: Json): Promise<Json> {
      const request = modernRequest("http://localhost", method, params, { tasks: true });
      const response = await handler.fetch(request);
      assert.match(response.headers.get("content-type") ?? "", /application\/json/);
      return await response.json();
    },
    close: () => handler.close(),
  };
}

/** A modern result without the SDK's own additions (`resultType`, `_meta.serverInfo`). */
function bare(result: Json): Json {
  const { resultType: _resultType, _meta: _m, ...rest } = result;
  assert.equal(result.resultType, "complete");
  return rest;
}

// ---------------------------------------------------------------------------
// The views.

Deno.test("mcp tasks: legacyTask maps each status, with ttl, pollInterval and a statusMessage", async () => {
  await using f = await storeFixture();
  const base = {
    ttl: TTL_MS,
    createdAt: ISO0,
    lastUpdatedAt: ISO0,
    pollInterval: POLL_INTERVAL_MS,
  };
  assert.equal(POLL_INTERVAL_MS, 500);

  const pending = await f.pending();
  assert.deepEqual(legacyTask(pending, TTL_MS), {
    taskId: pending.id,
    status: "working",
    ...base,
    statusMessage: "Queued",
  });
  f.clock.now += 1_000;
  const running = await f.store.get("alice", (await f.store.claim("r1", 60_000))!.task.id);
  assert.deepEqual(legacyTask(running, TTL_MS), {
    taskId: running.id,
    status: "working",
    ...base,
    lastUpdatedAt: new Date(T0 + 1_000).toISOString(),
  }, "running says nothing more");
  f.clock.now = T0;

  const completed = await f.completed();
  assert.deepEqual(legacyTask(completed, TTL_MS), {
    taskId: completed.id,
    status: "completed",
    ...base,
  });
  const failed = await f.failed();
  assert.deepEqual(legacyTask(failed, TTL_MS), {
    taskId: failed.id,
    status: "failed",
    ...base,
    statusMessage: "Too slow.",
  });
  const cancelled = await f.cancelled();
  assert.deepEqual(legacyTask(cancelled, TTL_MS), {
    taskId: cancelled.id,
    status: "cancelled",
    ...base,
    statusMessage: "The task was cancelled.",
  });
});

Deno.test("mcp tasks: createdTask and detailedTask, the 2026-07-28 shapes", async () => {
  await using f = await storeFixture();
  const o = taskOptions(f);
  const base = { createdAt: ISO0, lastUpdatedAt: ISO0, ttlMs: TTL_MS, pollIntervalMs: 500 };

  const pending = await f.pending();
  assert.deepEqual(createdTask(pending, TTL_MS), {
    resultType: "task",
    taskId: pending.id,
    status: "working",
    statusMessage: "Queued",
    ...base,
  });
  assert.deepEqual(await detailedTask(o, pending), {
    taskId: pending.id,
    status: "working",
    statusMessage: "Queued",
    ...base,
  }, "no result while working");
  await f.store.claim("r1", 60_000);

  const completed = await f.completed("alice", "done and dusted");
  assert.deepEqual(await detailedTask(o, completed), {
    taskId: completed.id,
    status: "completed",
    ...base,
    result: {
      content: [{ type: "text", text: "done and dusted" }],
      structuredContent: { reply: "done and dusted" },
    },
  });

  const failed = await f.failed();
  assert.deepEqual(await detailedTask(o, failed), {
    taskId: failed.id,
    status: "completed",
    statusMessage: "Too slow.",
    ...base,
    result: {
      content: [{ type: "text", text: "Error [gateway_timeout]" }],
      structuredContent: {
        error: { code: "gateway_timeout", message: "Too slow.", hint: "Retry." },
      },
      isError: true,
    },
  }, "a coded failure is completed with an isError result");

  const cancelled = await f.cancelled();
  assert.deepEqual(await detailedTask(o, cancelled), {
    taskId: cancelled.id,
    status: "cancelled",
    statusMessage: "The task was cancelled.",
    ...base,
  }, "cancelled carries no result");
});

// ---------------------------------------------------------------------------
// 2025-11-25: native task methods.

Deno.test("mcp tasks, legacy: tasks/get answers the legacy view of each status", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    const running = await f.running();
    const tasks = [await f.completed(), await f.failed(), await f.cancelled(), await f.pending()];
    for (const task of [running, ...tasks]) {
      const fresh = await f.store.get("alice", task.id);
      assert.deepEqual(
        resultOf(await s.request("tasks/get", { taskId: task.id })),
        legacyTask(fresh, TTL_MS),
        task.status,
      );
    }
    assert.deepEqual(
      (resultOf(await s.request("tasks/get", { taskId: running.id }))).status,
      "working",
    );
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: tasks/result of a finished task is its result with the related-task _meta", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    const completed = await f.completed("alice", "four");
    assert.deepEqual(resultOf(await s.request("tasks/result", { taskId: completed.id })), {
      content: [{ type: "text", text: "four" }],
      structuredContent: { reply: "four" },
      _meta: { [RELATED_TASK]: { taskId: completed.id } },
    });
    const failed = await f.failed();
    const result = resultOf(await s.request("tasks/result", { taskId: failed.id }));
    assert.equal(result.isError, true);
    assert.deepEqual(result.structuredContent, {
      error: { code: "gateway_timeout", message: "Too slow.", hint: "Retry." },
    });
    assert.deepEqual(result._meta, { [RELATED_TASK]: { taskId: failed.id } });
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: tasks/result waits until the task completes", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    const running = await f.running();
    let answered = false;
    const waiting = s.request("tasks/result", { taskId: running.id }).then((m) => {
      answered = true;
      return m;
    });
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    assert.ok(!answered, "no answer while the task runs");
    assert.ok((f.store.reads.get(running.id) ?? 0) >= 2, "it polls the store");
    await f.finish(running, "at last");
    const result = resultOf(await waiting);
    assert.deepEqual(result.content, [{ type: "text", text: "at last" }]);
    assert.deepEqual(result._meta, { [RELATED_TASK]: { taskId: running.id } });
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: a cancelled tasks/result request stops waiting (no more polls, no answer)", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    const pending = await f.pending();
    const { id, reply } = s.send("tasks/result", { taskId: pending.id });
    let answered = false;
    reply.then(() => answered = true);
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    assert.ok((f.store.reads.get(pending.id) ?? 0) >= 2);
    await s.cancel(id);
    await new Promise((r) => setTimeout(r, 50));
    const reads = f.store.reads.get(pending.id);
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS * 2));
    assert.equal(f.store.reads.get(pending.id), reads, "the wait ended: no further polls");
    assert.ok(!answered, "a cancelled request is not answered");
    assert.ok(resultOf(await s.request("ping", {})), "the session still serves");
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: shutdown ends a tasks/result wait with an error", async () => {
  await using f = await storeFixture();
  const shutdown = new AbortController();
  const s = await legacySession(f, { shutdown: shutdown.signal });
  try {
    const running = await f.running();
    const waiting = s.request("tasks/result", { taskId: running.id });
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    shutdown.abort();
    const error = errorOf(await waiting);
    assert.ok(performance.now() - started < POLL_INTERVAL_MS / 2, "at once, not at the next poll");
    assert.deepEqual(error, {
      code: -32000,
      message: "The wait for the task's result was cancelled.",
    });
    assert.equal((await f.store.get("alice", running.id)).status, "running", "the task goes on");
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: tasks/list pages the owner's tasks, newest first", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    assert.deepEqual(resultOf(await s.request("tasks/list", {})), { tasks: [] });
    await f.pending("bob");
    const ids: string[] = [];
    for (let i = 0; i < 52; i++) {
      f.clock.now = T0 + i;
      ids.push((await f.pending()).id);
    }
    const first = resultOf(await s.request("tasks/list", {}));
    const tasks = first.tasks as Json[];
    assert.equal(tasks.length, 50);
    assert.deepEqual(tasks.map((t) => t.taskId), ids.toReversed().slice(0, 50));
    const newest = await f.store.get("alice", ids[51]);
    assert.deepEqual(tasks[0], legacyTask(newest, TTL_MS));
    assert.equal(typeof first.nextCursor, "string");

    const second = resultOf(await s.request("tasks/list", { cursor: first.nextCursor }));
    assert.deepEqual((second.tasks as Json[]).map((t) => t.taskId), [ids[1], ids[0]]);
    assert.equal("nextCursor" in second, false, "no cursor on the last page");

    const bad = errorOf(await s.request("tasks/list", { cursor: "not-a-cursor!" }));
    assert.equal(bad.code, -32602);
    assert.match(bad.message, /^invalid_argument: /);
    assert.equal(bad.data?.error?.code, "invalid_argument");
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: tasks/cancel cancels a working task and refuses a finished one", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    const running = await f.running();
    f.clock.now += 2_000;
    const answer = resultOf(await s.request("tasks/cancel", { taskId: running.id }));
    assert.deepEqual(answer, {
      taskId: running.id,
      status: "cancelled",
      ttl: TTL_MS,
      createdAt: ISO0,
      lastUpdatedAt: new Date(T0 + 2_000).toISOString(),
      pollInterval: 500,
      statusMessage: "The task was cancelled.",
    });
    assert.equal((await f.store.get("alice", running.id)).status, "cancelled");

    const again = errorOf(await s.request("tasks/cancel", { taskId: running.id }));
    assert.equal(again.code, -32602);
    assert.match(again.message, /^task_finished: Task "task-1" already cancelled/);
    assert.equal(again.data?.error?.code, "task_finished");
  } finally {
    await s.close();
  }
});

Deno.test("mcp tasks, legacy: another owner's, unknown and malformed ids are -32602 with the coded error", async () => {
  await using f = await storeFixture();
  const s = await legacySession(f);
  try {
    const bobs = await f.completed("bob");
    for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
      for (const taskId of [bobs.id, "task-404"]) {
        const error = errorOf(await s.request(method, { taskId }));
        assert.equal(error.code, -32602, method);
        assert.equal(
          error.message,
          `task_not_found: No task with id "${taskId}" exists for you (it may have expired).`,
          method,
        );
        assert.equal(error.data?.error?.code, "task_not_found", method);
      }
      const malformed = errorOf(await s.request(method, { taskId: "../etc/passwd" }));
      assert.equal(malformed.code, -32602, method);
      assert.match(malformed.message, /^invalid_argument: task_id is not a valid task id/, method);
      assert.equal(malformed.data?.error?.code, "invalid_argument", method);
    }
    assert.equal((await f.store.get("bob", bobs.id)).status, "completed", "bob's task untouched");
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------
// 2026-07-28: the Tasks extension.

Deno.test("mcp tasks, modern: tasks/get maps each status; the result is inline once done", async () => {
  await using f = await storeFixture();
  const m = modernEndpoint(f);
  try {
    const base = { createdAt: ISO0, lastUpdatedAt: ISO0, ttlMs: TTL_MS, pollIntervalMs: 500 };
    const get = async (taskId: string) => bare(resultOf(await m.request("tasks/get", { taskId })));

    const running = await f.running();
    assert.deepEqual(await get(running.id), { taskId: running.id, status: "working", ...base });
    const completed = await f.completed("alice", "inline");
    assert.deepEqual(await get(completed.id), {
      taskId: completed.id,
      status: "completed",
      ...base,
      result: {
        content: [{ type: "text", text: "inline" }],
        structuredContent: { reply: "inline" },
      },
    });
    const failed = await f.failed();
    const failedView = await get(failed.id);
    assert.equal(failedView.status, "completed", "our coded failure is not `failed`");
    assert.equal(failedView.statusMessage, "Too slow.");
    assert.equal((failedView.result as Json).isError, true);
    assert.deepEqual((failedView.result as Json).structuredContent, {
      error: { code: "gateway_timeout", message: "Too slow.", hint: "Retry." },
    });
    const cancelled = await f.cancelled();
    assert.deepEqual(await get(cancelled.id), {
      taskId: cancelled.id,
      status: "cancelled",
      statusMessage: "The task was cancelled.",
      ...base,
    });
    const pending = await f.pending();
    assert.deepEqual(await get(pending.id), {
      taskId: pending.id,
      status: "working",
      statusMessage: "Queued",
      ...base,
    });
  } finally {
    await m.close();
  }
});

Deno.test("mcp tasks, modern: tasks/update acknowledges a known task and refuses an unknown one", async () => {
  await using f = await storeFixture();
  const m = modernEndpoint(f);
  try {
    const running = await f.running();
    const ack = resultOf(
      await m.request("tasks/update", { taskId: running.id, inputResponses: {} }),
    );
    assert.deepEqual(bare(ack), {});
    const bareAck = resultOf(await m.request("tasks/update", { taskId: running.id }));
    assert.deepEqual(bare(bareAck), {}, "inputResponses may be left out");
    assert.equal((await f.store.get("alice", running.id)).status, "running", "nothing changed");
    const unknown = errorOf(
      await m.request("tasks/update", { taskId: "task-404", inputResponses: {} }),
    );
    assert.equal(unknown.code, -32602);
    assert.match(unknown.message, /^task_not_found: /);
  } finally {
    await m.close();
  }
});

Deno.test("mcp tasks, modern: tasks/cancel acknowledges, a finished task included", async () => {
  await using f = await storeFixture();
  const m = modernEndpoint(f);
  try {
    const running = await f.running();
    assert.deepEqual(bare(resultOf(await m.request("tasks/cancel", { taskId: running.id }))), {});
    assert.equal((await f.store.get("alice", running.id)).status, "cancelled");
    const completed = await f.completed();
    assert.deepEqual(
      bare(resultOf(await m.request("tasks/cancel", { taskId: completed.id }))),
      {},
      "already finished: acknowledged too",
    );
    assert.equal((await f.store.get("alice", completed.id)).status, "completed", "unchanged");
    assert.deepEqual(
      bare(resultOf(await m.request("tasks/cancel", { taskId: running.id }))),
      {},
      "already cancelled: acknowledged",
    );
  } finally {
    await m.close();
  }
});

Deno.test("mcp tasks, modern: another owner's, unknown and malformed ids are -32602 with the coded error", async () => {
  await using f = await storeFixture();
  const m = modernEndpoint(f);
  try {
    const bobs = await f.running("bob");
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      const params = method === "tasks/update" ? { inputResponses: {} } : {};
      for (const taskId of [bobs.id, "task-404"]) {
        const error = errorOf(await m.request(method, { taskId, ...params }));
        assert.equal(error.code, -32602, method);
        assert.equal(
          error.message,
          `task_not_found: No task with id "${taskId}" exists for you (it may have expired).`,
          method,
        );
        assert.equal(error.data?.error?.code, "task_not_found", method);
      }
      const malformed = errorOf(await m.request(method, { taskId: "a.b", ...params }));
      assert.equal(malformed.code, -32602, method);
      assert.match(malformed.message, /^invalid_argument: task_id is not a valid task id/, method);
      assert.equal(malformed.data?.error?.code, "invalid_argument", method);
    }
    assert.equal((await f.store.get("bob", bobs.id)).status, "running", "bob's task not cancelled");
  } finally {
    await m.close();
  }
});

// ---------------------------------------------------------------------------
// Both eras: a running task that waits on an approval says so.

Deno.test("mcp tasks: a running task waiting on an approval says which in statusMessage, in both eras", async () => {
  await using f = await storeFixture();
  const running = await f.running();
  await f.store.setWaiting(running, [{
    id: "appr-1",
    kind: "exec",
    summary: "rm -rf /tmp/cache",
    sessionKey: "agent:main:s1",
    agent: "main",
    cwd: null,
    host: null,
    unavailable: [],
    createdAt: null,
    expiresAt: null,
  }]);
  const expected = "Waiting for approval appr-1: rm -rf /tmp/cache";
  const s = await legacySession(f);
  const m = modernEndpoint(f);
  try {
    const legacy = resultOf(await s.request("tasks/get", { taskId: running.id }));
    assert.equal(legacy.status, "working");
    assert.equal(legacy.statusMessage, expected);
    const modern = resultOf(await m.request("tasks/get", { taskId: running.id }));
    assert.equal(modern.status, "working");
    assert.equal(modern.statusMessage, expected);
    // Once the wait is cleared, the line goes with it.
    await f.store.setWaiting(running, []);
    const after = resultOf(await s.request("tasks/get", { taskId: running.id }));
    assert.equal(after.statusMessage, undefined);
  } finally {
    await s.close();
    await m.close();
  }
});
