import assert from "node:assert/strict";
import {
  commitTransition,
  finish,
  pendingDeadline,
  readTask,
  requeue,
} from "../../src/tasks/transition.ts";
import { counterAt, keysUnder, memoryContext, taskRecord } from "../helpers/task_kv.ts";

Deno.test("transition: a change moves indexes and counters, checked against the versionstamp", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 5_000 });
  const { kv } = ctx;
  const task = taskRecord("t1", { messageBytes: 7, pendingUntil: 6_000 });
  await kv.atomic().set(["task", "t1"], task).set(["queue", "a", "alice", 100, 1_000, "t1"], "t1")
    .set(["pending_expiry", 6_000, "t1"], "t1").sum(["count", "alice", "pending"], 1n)
    .sum(["pending_bytes", "alice"], 7n).commit();
  const found = (await readTask(ctx, "t1"))!;
  const running = { ...task, status: "running" as const, holdsSlot: true };
  const stamp = await commitTransition(ctx, {
    prev: task,
    versionstamp: found.versionstamp,
    next: running,
    extra: (op) => op.sum(["slots", "a"], 1n).sum(["slots_total"], 1n),
  });
  assert.ok(stamp);
  assert.deepEqual(await keysUnder(kv, ["queue"]), []);
  assert.deepEqual(await keysUnder(kv, ["pending_expiry"]), []);
  assert.deepEqual(await keysUnder(kv, ["running"]), [["running", "t1"]]);
  assert.equal(await counterAt(kv, ["count", "alice", "pending"]), 0n);
  assert.equal(await counterAt(kv, ["count", "alice", "running"]), 1n);
  assert.equal(await counterAt(kv, ["pending_bytes", "alice"]), 0n);
  // The old versionstamp is stale now.
  assert.equal(
    await commitTransition(ctx, { prev: task, versionstamp: found.versionstamp, next: task }),
    null,
  );
  ctx.clock.now = 2_000;
  const back = requeue(ctx, running, { attempt: 0 });
  assert.equal(back.pendingUntil, 7_000);
  assert.ok(await commitTransition(ctx, { prev: running, versionstamp: stamp, next: back }));
  assert.equal(await counterAt(kv, ["slots", "a"]), 0n);
  assert.equal(await counterAt(kv, ["pending_bytes", "alice"]), 7n);
  assert.deepEqual(await keysUnder(kv, ["pending_expiry"]), [["pending_expiry", 7_000, "t1"]]);
  assert.deepEqual(await keysUnder(kv, ["queue_owners"]), [["queue_owners", "a", "alice"]]);
});

Deno.test("transition: a finished task never changes again and is unread after its TTL", async () => {
  await using ctx = await memoryContext({ ttlMs: 100 });
  const task = taskRecord("t1", { status: "running" });
  await ctx.kv.set(["task", "t1"], task);
  const found = (await readTask(ctx, "t1"))!;
  const done = finish(ctx, task, { status: "failed", patch: { error: null } });
  assert.equal(done.expiresAt, 1_000_100);
  assert.equal(done.holdsSlot, false);
  const stamp = await commitTransition(ctx, {
    prev: task,
    versionstamp: found.versionstamp,
    next: done,
  });
  assert.ok(stamp);
  assert.equal(await commitTransition(ctx, { prev: done, versionstamp: stamp, next: task }), null);
  assert.equal((await readTask(ctx, "t1"))?.task.status, "failed");
  ctx.clock.now += 100;
  assert.equal(await readTask(ctx, "t1"), null);
  assert.equal(pendingDeadline(ctx, 5), null);
});
