import assert from "node:assert/strict";
import { Claimer } from "../../src/tasks/claim.ts";
import {
  counterAt,
  keysUnder,
  memoryContext,
  submitOne,
  type TestContext,
} from "../helpers/task_kv.ts";

async function queue(
  ctx: TestContext,
  tasks: { id: string; owner?: string; instance?: string; priority?: number }[],
): Promise<void> {
  for (const t of tasks) {
    ctx.clock.now++;
    await submitOne(ctx, t.id, {
      owner: t.owner,
      instance: t.instance ?? "a",
      priority: t.priority,
    });
  }
}

async function drain(claimer: Claimer): Promise<string[]> {
  const ids: string[] = [];
  for (let c = await claimer.claim("r", 1_000); c; c = await claimer.claim("r", 1_000)) {
    ids.push(c.task.id);
  }
  return ids;
}

Deno.test("claim: priority within a principal, principals and instances in turn", async () => {
  await using ctx = await memoryContext();
  await queue(ctx, [
    { id: "a-low", priority: -1 },
    { id: "a-high", priority: 9 },
    { id: "a-mid" },
    { id: "b-1", owner: "bob" },
    { id: "x-1", instance: "x" },
  ]);
  assert.deepEqual(await drain(new Claimer(ctx)), ["a-high", "x-1", "b-1", "a-mid", "a-low"]);
  // Everything drained: no marks are left behind.
  assert.deepEqual(await keysUnder(ctx.kv, ["queue_instances"]), []);
  assert.deepEqual(await keysUnder(ctx.kv, ["queue_owners"]), []);
  assert.equal(await counterAt(ctx.kv, ["slots_total"]), 5n);
});

Deno.test("claim: the claimed task is running under a lease and holds a slot", async () => {
  await using ctx = await memoryContext();
  await queue(ctx, [{ id: "t1" }]);
  const claim = (await new Claimer(ctx).claim("runner-1", 5_000))!;
  assert.equal(claim.task.status, "running");
  assert.equal(claim.task.attempt, 1);
  assert.equal(claim.task.runner, "runner-1");
  assert.equal(claim.task.leaseUntil, ctx.clock.now + 5_000);
  assert.equal(claim.task.holdsSlot, true);
  assert.equal((await ctx.kv.get(["task", "t1"])).versionstamp, claim.versionstamp);
  assert.equal(await counterAt(ctx.kv, ["slots", "a"]), 1n);
});

Deno.test("claim: limits, canRun, stale entries and expired tasks", async () => {
  await using ctx = await memoryContext({ pendingTtlMs: 100 });
  await queue(ctx, [{ id: "a1" }, { id: "a2" }, { id: "b1", instance: "b" }]);
  const claimer = new Claimer(ctx);
  const onlyA = { canRun: (i: string) => i === "a", instanceConcurrency: { a: 1 } };
  assert.equal((await claimer.claim("r", 1_000, onlyA))?.task.id, "a1");
  assert.equal(await claimer.claim("r", 1_000, onlyA), null);
  assert.equal(await claimer.claim("r", 1_000, { globalConcurrency: 1 }), null);
  // A queue entry whose task is gone is dropped on the way.
  await ctx.kv.set(["queue", "b", "alice", 0, 0, "ghost"], "ghost");
  ctx.clock.now += 100;
  // a2 and b1 waited past their deadline: they fail as expired, nothing is claimed.
  assert.equal(await claimer.claim("r", 1_000), null);
  assert.equal(
    (await ctx.kv.get<{ error: { code: string } }>(["task", "a2"])).value?.error.code,
    "task_expired",
  );
  assert.equal((await ctx.kv.get<{ status: string }>(["task", "b1"])).value?.status, "failed");
  assert.deepEqual(await keysUnder(ctx.kv, ["queue"]), []);
});
