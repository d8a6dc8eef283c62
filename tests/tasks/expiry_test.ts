import assert from "node:assert/strict";
import { expirePending, expireTask } from "../../src/tasks/expiry.ts";
import { readTask } from "../../src/tasks/transition.ts";
import { counterAt, keysUnder, memoryContext, submitOne } from "../helpers/task_kv.ts";

Deno.test("expiry: only tasks past their deadline fail, with the wait in the message", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 10_000 });
  await submitOne(ctx, "early");
  ctx.clock.now += 5_000;
  await submitOne(ctx, "late");
  ctx.clock.now += 5_000;
  assert.equal(await expirePending(ctx, 500), 1);
  const early = (await readTask(ctx, "early"))!.task;
  assert.equal(early.status, "failed");
  assert.equal(early.error?.code, "task_expired");
  assert.match(early.error!.message, /waited 10 s/);
  assert.equal((await readTask(ctx, "late"))!.task.status, "pending");
  assert.equal(await counterAt(ctx.kv, ["count", "alice", "pending"]), 1n);
  assert.equal(await counterAt(ctx.kv, ["pending_bytes", "alice"]), 4n);
  assert.equal(await expirePending(ctx, 500), 0);
});

Deno.test("expiry: a stale deadline entry is dropped; a changed task is not expired", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 10 });
  await submitOne(ctx, "t1");
  await ctx.kv.set(["pending_expiry", 5, "gone"], "gone");
  const found = (await readTask(ctx, "t1"))!;
  await ctx.kv.set(["task", "t1"], { ...found.task, updatedAt: 1 });
  assert.equal(await expireTask(ctx, found), false);
  ctx.clock.now += 10;
  assert.equal(await expirePending(ctx, 500), 1);
  assert.deepEqual(await keysUnder(ctx.kv, ["pending_expiry"]), []);
});
