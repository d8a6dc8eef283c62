import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import { ownerKey } from "../../src/tasks/keys.ts";
import { countTasks, listRecent, listTasks } from "../../src/tasks/listing.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { keysUnder, taskRecord } from "../helpers/task_kv.ts";

Deno.test("listing: newest first, filtered, expired hidden, cursor only when more follows", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tasks = [
    taskRecord("t1", { createdAt: 1 }),
    taskRecord("t2", { createdAt: 2, status: "failed", expiresAt: 50 }),
    taskRecord("t3", { createdAt: 3, sessionId: "s" }),
    taskRecord("t4", { createdAt: 4, instance: "b" }),
    taskRecord("t5", { createdAt: 5, owner: "bob" }),
  ];
  for (const t of tasks) await kv.set(ownerKey(t), t);
  await kv.atomic().sum(["count", "alice", "pending"], 3n).commit();
  const ids = (page: { tasks: { id: string }[] }) => page.tasks.map((t) => t.id);
  const all = await listTasks(kv, { owner: "alice", now: 10 });
  assert.deepEqual(ids(all), ["t4", "t3", "t2", "t1"]);
  assert.equal(all.nextCursor, null);
  assert.equal(all.counts.pending, 3);
  assert.deepEqual(ids(await listTasks(kv, { owner: "alice", now: 50 })), ["t4", "t3", "t1"]);
  assert.deepEqual(ids(await listTasks(kv, { owner: "alice", now: 10, sessionId: "s" })), ["t3"]);
  assert.deepEqual(ids(await listTasks(kv, { owner: "alice", now: 10, instance: "b" })), ["t4"]);
  assert.deepEqual(ids(await listTasks(kv, { owner: "alice", now: 10, status: "failed" })), ["t2"]);
  const first = await listTasks(kv, { owner: "alice", now: 10, limit: 2 });
  assert.deepEqual(ids(first), ["t4", "t3"]);
  const second = await listTasks(kv, {
    owner: "alice",
    now: 10,
    limit: 2,
    cursor: first.nextCursor!,
  });
  assert.deepEqual(ids(second), ["t2", "t1"]);
  assert.equal(second.nextCursor, null);
  await assert.rejects(
    listTasks(kv, { owner: "alice", now: 10, cursor: "not-a-cursor!" }),
    (e) => e instanceof BridgeError && e.code === "invalid_argument",
  );
});

Deno.test("listing: counts cover every status, 0 when absent", async () => {
  await using kv = await Deno.openKv(":memory:");
  await kv.atomic().sum(["count", "alice", "completed"], 2n).commit();
  assert.deepEqual(await countTasks(kv, "alice"), {
    pending: 0,
    running: 0,
    completed: 2,
    failed: 0,
    cancelled: 0,
  });
});

Deno.test("listing: listRecent gives every owner's newest active and finished tasks, bounded", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { now: 1_000 };
  let n = 0;
  const store = new TaskStore(kv, {
    now: () => clock.now,
    ttlMs: 60_000,
    pendingTtlMs: 3_600_000,
    newId: () => `t${String(++n).padStart(2, "0")}`,
  });
  // Eight tasks of three owners, one a millisecond apart.
  for (const owner of ["alice", "bob", "carol", "alice", "bob", "carol", "alice", "bob"]) {
    await store.submit(owner, { message: `from ${owner}`, instance: "a" });
    clock.now++;
  }
  // Three run; of those, one completes and one fails; one pending is cancelled.
  const claims = [];
  for (let i = 0; i < 3; i++) claims.push((await store.claim("r", 60_000))!);
  clock.now += 10;
  await store.complete(claims[0], "done", { model: "m", usage: null, finishReason: "stop" });
  clock.now += 10;
  await store.fail(claims[1], { code: "gateway_error", message: "no", hint: "" });
  clock.now += 10;
  await store.cancel("bob", "t08");
  const ids = (tasks: { id: string }[]) => tasks.map((t) => t.id);

  const all = await store.recent();
  const running = ids(all.active.filter((t) => t.status === "running"));
  assert.equal(running.length, 1);
  assert.equal(all.active.length, 5, "4 pending + 1 running");
  assert.deepEqual(
    all.active.map((t) => t.createdAt),
    [...all.active.map((t) => t.createdAt)].sort((a, b) => b - a),
    "newest first",
  );
  assert.deepEqual(new Set(all.active.map((t) => t.owner)), new Set(["alice", "bob", "carol"]));
  assert.deepEqual(ids(all.finished), ["t08", claims[1].task.id, claims[0].task.id]);
  assert.deepEqual(all.finished.map((t) => t.status), ["cancelled", "failed", "completed"]);

  const few = await listRecent(kv, { now: clock.now, active: 2, finished: 1 });
  assert.deepEqual(ids(few.active), ids(all.active).slice(0, 2));
  assert.deepEqual(ids(few.finished), ["t08"]);
  const none = await listRecent(kv, { now: clock.now, active: 0, finished: 0 });
  assert.deepEqual(none, { active: [], finished: [] });

  // Finished tasks past their expiry (not swept yet) are left out.
  clock.now += 60_000;
  assert.deepEqual((await store.recent()).finished, []);
});

Deno.test("listing: listRecent finds pending tasks queued without a deadline", async () => {
  await using kv = await Deno.openKv(":memory:");
  let n = 0;
  const store = new TaskStore(kv, { now: () => 5_000, newId: () => `u${++n}` });
  await store.submit("alice", { message: "a", instance: "a" });
  await store.submit("bob", { message: "b", instance: "b" });
  assert.deepEqual((await keysUnder(kv, ["pending_expiry"])).length, 0, "no deadlines");
  const recent = await store.recent();
  assert.deepEqual(recent.active.map((t) => t.id).sort(), ["u1", "u2"]);
});

Deno.test("listing: listRecent returns the newest of many tasks, its bounds capped at 200", async () => {
  await using kv = await Deno.openKv(":memory:");
  let n = 0;
  const store = new TaskStore(kv, {
    now: () => 1_000 + n,
    pendingTtlMs: 60_000,
    newId: () => `v${String(++n).padStart(3, "0")}`,
  });
  for (let i = 0; i < 120; i++) {
    await store.submit(`owner${i % 7}`, { message: "m", instance: "a" });
  }
  const recent = await listRecent(kv, { now: 2_000, active: 10 });
  assert.deepEqual(
    recent.active.map((t) => t.id),
    Array.from({ length: 10 }, (_, i) => `v${String(120 - i).padStart(3, "0")}`),
  );
  // Bounds past the maximum are cut to it.
  assert.equal((await listRecent(kv, { now: 2_000, active: 10_000 })).active.length, 120);
});
