import assert from "node:assert/strict";
import { queueKey } from "../../src/tasks/keys.ts";
import { migratePending } from "../../src/tasks/migrate.ts";
import { keysUnder, memoryContext, taskRecord } from "../helpers/task_kv.ts";

Deno.test("migrate: both earlier layouts move into the per-instance queues", async () => {
  await using ctx = await memoryContext();
  const { kv } = ctx;
  const old = taskRecord("old", { createdAt: 1 });
  const mid = taskRecord("mid", { createdAt: 2, owner: "bob" });
  const done = taskRecord("done", { status: "completed" });
  for (const t of [old, mid, done]) await kv.set(["task", t.id], t);
  await kv.set(["pending", 100, 1, "old"], "old");
  await kv.set(["pending", "bob", 100, 2, "mid"], "mid");
  await kv.set(["pending", 100, 3, "done"], "done");
  await kv.set(["pending", 100, 4, "junk"], 7);
  await kv.set(["pending_owners", "bob"], 1);
  assert.equal(await migratePending(ctx), 2);
  assert.deepEqual(await keysUnder(kv, ["pending"]), []);
  assert.deepEqual(await keysUnder(kv, ["pending_owners"]), []);
  assert.deepEqual(await keysUnder(kv, ["queue"]), [queueKey(old), queueKey(mid)]);
  assert.deepEqual(await keysUnder(kv, ["queue_owners"]), [
    ["queue_owners", "a", "alice"],
    ["queue_owners", "a", "bob"],
  ]);
  assert.equal(await migratePending(ctx), 0);
});
