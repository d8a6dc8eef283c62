import assert from "node:assert/strict";
import {
  chunkKey,
  chunkPrefix,
  countKey,
  expiryKey,
  ownerKey,
  pendingExpiryKey,
  queueInstanceKey,
  queueKey,
  queueOwnerKey,
  queuePrefix,
  SLOTS_TOTAL,
  slotsKey,
  taskKey,
} from "../../src/tasks/keys.ts";
import { taskRecord } from "../helpers/task_kv.ts";

Deno.test("keys: the layout is the documented one", () => {
  const task = taskRecord("t1", { priority: 30, createdAt: 5 });
  assert.deepEqual(taskKey("t1"), ["task", "t1"]);
  assert.deepEqual(ownerKey(task), ["owner", "alice", 5, "t1"]);
  assert.deepEqual(queueKey(task), ["queue", "a", "alice", 70, 5, "t1"]);
  assert.deepEqual(queueInstanceKey("a"), ["queue_instances", "a"]);
  assert.deepEqual(queueOwnerKey("a", "alice"), ["queue_owners", "a", "alice"]);
  assert.deepEqual(slotsKey("a"), ["slots", "a"]);
  assert.deepEqual(SLOTS_TOTAL, ["slots_total"]);
  assert.deepEqual(pendingExpiryKey(9, "t1"), ["pending_expiry", 9, "t1"]);
  assert.deepEqual(expiryKey(9, "t1"), ["expiry", 9, "t1"]);
  assert.deepEqual(countKey("alice", "failed"), ["count", "alice", "failed"]);
  assert.deepEqual(chunkKey("t1", { kind: "result", attempt: 2, index: 3 }), [
    "chunk",
    "t1",
    "result",
    2,
    3,
  ]);
  assert.deepEqual(chunkPrefix("t1"), ["chunk", "t1"]);
});

Deno.test("keys: a queue sorts by priority (higher first), then age, inside its prefix", async () => {
  await using kv = await Deno.openKv(":memory:");
  const tasks = [
    taskRecord("low", { priority: -5, createdAt: 1 }),
    taskRecord("late", { priority: 10, createdAt: 3 }),
    taskRecord("early", { priority: 10, createdAt: 2 }),
    taskRecord("top", { priority: 100, createdAt: 9 }),
  ];
  for (const t of tasks) await kv.set(queueKey(t), t.id);
  await kv.set(queueKey(taskRecord("other", { owner: "bob" })), "other");
  const order: string[] = [];
  for await (const e of kv.list<string>({ prefix: queuePrefix("a", "alice") })) order.push(e.value);
  assert.deepEqual(order, ["top", "early", "late", "low"]);
});
