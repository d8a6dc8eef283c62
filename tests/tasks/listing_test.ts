import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import { ownerKey } from "../../src/tasks/keys.ts";
import { countTasks, listTasks } from "../../src/tasks/listing.ts";
import { taskRecord } from "../helpers/task_kv.ts";

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
