import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import { submitTask } from "../../src/tasks/submit.ts";
import { readText } from "../../src/tasks/chunks.ts";
import { counterAt, keysUnder, memoryContext } from "../helpers/task_kv.ts";

const NO_LIMITS = { maxPending: Infinity, maxPendingBytes: Infinity };

Deno.test("submit: writes the pending task, its queue entry, deadline, message and counters", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 500 });
  const task = await submitTask(ctx, {
    ...NO_LIMITS,
    id: "t1",
    owner: "alice",
    submission: { message: "héllo", instance: "a", priority: 5 },
  });
  assert.equal(task.status, "pending");
  assert.equal(task.messageBytes, 6);
  assert.equal(task.pendingUntil, 1_000_500);
  assert.equal(task.origin, "tool");
  assert.deepEqual((await ctx.kv.get(["task", "t1"])).value, task);
  assert.deepEqual(await keysUnder(ctx.kv, ["queue"]), [[
    "queue",
    "a",
    "alice",
    95,
    1_000_000,
    "t1",
  ]]);
  assert.deepEqual(await keysUnder(ctx.kv, ["pending_expiry"]), [[
    "pending_expiry",
    1_000_500,
    "t1",
  ]]);
  assert.equal(await counterAt(ctx.kv, ["count", "alice", "pending"]), 1n);
  assert.equal(await counterAt(ctx.kv, ["pending_bytes", "alice"]), 6n);
  const message = await readText(ctx.kv, { id: "t1", kind: "message", attempt: 0, chunks: 1 });
  assert.equal(message, "héllo");
});

Deno.test("submit: the quota is checked and nothing is written past it", async () => {
  await using ctx = await memoryContext();
  const submit = (id: string) =>
    submitTask(ctx, {
      maxPending: 1,
      maxPendingBytes: Infinity,
      id,
      owner: "alice",
      submission: { message: "m", instance: "a" },
    });
  await submit("t1");
  await assert.rejects(
    submit("t2"),
    (e) => e instanceof BridgeError && e.code === "quota_exceeded",
  );
  assert.equal((await ctx.kv.get(["task", "t2"])).value, null);
  assert.equal(await counterAt(ctx.kv, ["count", "alice", "pending"]), 1n);
});
