import assert from "node:assert/strict";
import { ownerKey } from "../../src/tasks/keys.ts";
import { sweep } from "../../src/tasks/sweep.ts";
import { counterAt, keysUnder, taskRecord } from "../helpers/task_kv.ts";

Deno.test("sweep: expired tasks go with every key of theirs; the count comes down once", async () => {
  await using kv = await Deno.openKv(":memory:");
  const old = taskRecord("old", { status: "completed", expiresAt: 100 });
  const young = taskRecord("young", { status: "completed", expiresAt: 200 });
  for (const t of [old, young]) {
    await kv.atomic().set(["task", t.id], t).set(ownerKey(t), t)
      .set(["expiry", t.expiresAt!, t.id], t.id).sum(["count", "alice", "completed"], 1n)
      .set(["partial", t.id], { attempt: 1, chunks: 1 })
      .set(["chunk", t.id, "result", 1, 0], "r").set(["chunk", t.id, "message", 0, 0], "m")
      .commit();
  }
  assert.equal(await sweep(kv, { now: 150, limit: 500 }), 1);
  assert.equal((await kv.get(["task", "old"])).value, null);
  assert.deepEqual(await keysUnder(kv, ["chunk", "old"]), []);
  assert.equal((await kv.get(["partial", "old"])).value, null);
  assert.deepEqual(await keysUnder(kv, ["owner"]), [ownerKey(young)]);
  assert.equal(await counterAt(kv, ["count", "alice", "completed"]), 1n);
  assert.equal(await sweep(kv, { now: 150, limit: 500 }), 0);
  assert.equal(await sweep(kv, { now: 200, limit: 500 }), 1);
  assert.equal(await counterAt(kv, ["count", "alice", "completed"]), 0n);
});
