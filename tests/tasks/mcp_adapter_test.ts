/**
 * `KvMcpTaskStore`: the SDK's task-store interface over our KV store, bound
 * to one owner, and `mcpTask`, the MCP view of a task record.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { KvMcpTaskStore, mcpTask, POLL_INTERVAL_MS } from "../../src/tasks/mcp_adapter.ts";
import { type TaskRecord, TaskStore } from "../../src/tasks/store.ts";

async function setup() {
  const kv = await Deno.openKv(":memory:");
  const store = new TaskStore(kv);
  const rendered: TaskRecord[] = [];
  const adapter = (owner: string) =>
    new KvMcpTaskStore({
      store,
      owner,
      ttlMs: 60_000,
      render: (task) => {
        rendered.push(task);
        return Promise.resolve({ content: [{ type: "text", text: `rendered ${task.id}` }] });
      },
    });
  return { kv, store, adapter, rendered };
}

Deno.test("mcp adapter: mcpTask maps pending and running to working, keeps terminal states", async () => {
  const { kv, store } = await setup();
  try {
    const pending = await store.submit("o", { message: "m", instance: "default" });
    const view = mcpTask(pending, 5_000);
    assert.deepEqual(view, {
      taskId: pending.id,
      status: "working",
      ttl: 5_000,
      createdAt: new Date(pending.createdAt).toISOString(),
      lastUpdatedAt: new Date(pending.updatedAt).toISOString(),
      pollInterval: POLL_INTERVAL_MS,
      statusMessage: "Queued",
    });
    const claim = (await store.claim("runner", 60_000))!;
    assert.equal(mcpTask(claim.task, 5_000).status, "working");
    assert.equal(mcpTask(claim.task, 5_000).statusMessage, undefined);
    await store.fail(claim, { code: "gateway_timeout", message: "No reply.", hint: "" });
    const failed = await store.get("o", pending.id);
    assert.equal(mcpTask(failed, 5_000).status, "failed");
    assert.equal(mcpTask(failed, 5_000).statusMessage, "No reply.");
  } finally {
    kv.close();
  }
});

Deno.test("mcp adapter: getTask sees only the owner's tasks; ids that cannot be ours are -32602", async () => {
  const { kv, store, adapter } = await setup();
  try {
    const task = await store.submit("alice", { message: "m", instance: "default" });
    assert.equal((await adapter("alice").getTask(task.id))?.taskId, task.id);
    assert.equal(await adapter("bob").getTask(task.id), null);
    assert.equal(await adapter("alice").getTask("no-such-task"), null);
    for (const bad of ["x".repeat(5_000), "../x", ""]) {
      const error = await adapter("alice").getTask(bad).catch((e) => e);
      assert.ok(error instanceof McpError, JSON.stringify(bad.slice(0, 10)));
      assert.equal(error.code, ErrorCode.InvalidParams);
      assert.ok(error.message.length < 300, "a huge id is not echoed back");
    }
  } finally {
    kv.close();
  }
});

Deno.test("mcp adapter: getTaskResult renders the owner's task; another owner's is not found", async () => {
  const { kv, store, adapter, rendered } = await setup();
  try {
    const task = await store.submit("alice", { message: "m", instance: "default" });
    assert.deepEqual(await adapter("alice").getTaskResult(task.id), {
      content: [{ type: "text", text: `rendered ${task.id}` }],
    });
    assert.equal(rendered[0].id, task.id);
    await assert.rejects(adapter("bob").getTaskResult(task.id), /not found|no task/i);
    assert.equal(rendered.length, 1);
  } finally {
    kv.close();
  }
});

Deno.test("mcp adapter: clients may only cancel, and only their own tasks", async () => {
  const { kv, store, adapter } = await setup();
  try {
    const task = await store.submit("alice", { message: "m", instance: "default" });
    await assert.rejects(
      adapter("alice").updateTaskStatus(task.id, "completed"),
      /status completed cannot be set by a client/,
    );
    await assert.rejects(adapter("bob").updateTaskStatus(task.id, "cancelled"));
    assert.equal((await store.get("alice", task.id)).status, "pending");
    await adapter("alice").updateTaskStatus(task.id, "cancelled");
    assert.equal((await store.get("alice", task.id)).status, "cancelled");
  } finally {
    kv.close();
  }
});

Deno.test("mcp adapter: listTasks pages the owner's tasks 50 at a time, newest first", async () => {
  const { kv, store, adapter } = await setup();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 51; i++) {
      ids.push((await store.submit("alice", { message: `m${i}`, instance: "default" })).id);
      // Tasks of one millisecond sort by their random id: keep the order certain.
      const created = Date.now();
      while (Date.now() === created) await new Promise((r) => setTimeout(r, 1));
    }
    await store.submit("bob", { message: "other", instance: "default" });
    const first = await adapter("alice").listTasks();
    assert.equal(first.tasks.length, 50);
    assert.equal(first.tasks[0].taskId, ids[50]);
    assert.ok(first.nextCursor);
    const second = await adapter("alice").listTasks(first.nextCursor);
    assert.deepEqual(second.tasks.map((t) => t.taskId), [ids[0]]);
    assert.equal("nextCursor" in second, false, "no cursor on the last page");
  } finally {
    kv.close();
  }
});

Deno.test("mcp adapter: the SDK's create and store entry points are refused", async () => {
  const { kv, adapter } = await setup();
  try {
    await assert.rejects(adapter("a").createTask(), /created through tools\/call/);
    await assert.rejects(adapter("a").storeTaskResult(), /stored by the task runner/);
  } finally {
    kv.close();
  }
});
