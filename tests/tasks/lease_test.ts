import assert from "node:assert/strict";
import { Claimer } from "../../src/tasks/claim.ts";
import { recoverExpired } from "../../src/tasks/lease.ts";
import { MAX_ATTEMPTS } from "../../src/tasks/task.ts";
import { readTask } from "../../src/tasks/transition.ts";
import { counterAt, memoryContext, submitOne } from "../helpers/task_kv.ts";

Deno.test("lease: an expired lease requeues the task, then fails it as interrupted", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 60_000 });
  await submitOne(ctx, "t1");
  const claimer = new Claimer(ctx);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    assert.equal((await claimer.claim("r", 1_000))?.task.attempt, attempt);
    assert.equal(await recoverExpired(ctx), 0, "lease still running");
    ctx.clock.now += 1_000;
    assert.equal(await recoverExpired(ctx), 1);
    assert.equal(await counterAt(ctx.kv, ["slots", "a"]), 0n);
  }
  const task = (await readTask(ctx, "t1"))!.task;
  assert.equal(task.status, "failed");
  assert.equal(task.error?.code, "interrupted");
  assert.match(task.error!.message, /interrupted 2 times/);
  assert.equal(await recoverExpired(ctx), 0);
});

Deno.test("lease: a requeued task gets a fresh pending deadline", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 500 });
  await submitOne(ctx, "t1");
  await new Claimer(ctx).claim("r", 1_000);
  ctx.clock.now += 5_000;
  assert.equal(await recoverExpired(ctx), 1);
  const task = (await readTask(ctx, "t1"))!.task;
  assert.equal(task.status, "pending");
  assert.equal(task.pendingUntil, ctx.clock.now + 500);
  assert.equal(task.runner, null);
});
