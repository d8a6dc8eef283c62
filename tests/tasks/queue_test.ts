import assert from "node:assert/strict";
import {
  anyQueued,
  dropUnchanged,
  enqueue,
  position,
  queueHead,
  sameKey,
  turns,
} from "../../src/tasks/queue.ts";
import { taskRecord } from "../helpers/task_kv.ts";

async function queued(kv: Deno.Kv, ...tasks: ReturnType<typeof taskRecord>[]): Promise<void> {
  const op = kv.atomic();
  for (const t of tasks) enqueue(op, t, 42);
  assert.ok((await op.commit()).ok);
}

Deno.test("queue: enqueue writes the entry and both marks; position counts the owner's own", async () => {
  await using kv = await Deno.openKv(":memory:");
  const a1 = taskRecord("a1", { createdAt: 1 });
  const a2 = taskRecord("a2", { createdAt: 2 });
  const b1 = taskRecord("b1", { owner: "bob", createdAt: 0 });
  await queued(kv, a1, a2, b1);
  assert.equal((await kv.get(["queue_instances", "a"])).value, 42);
  assert.equal((await kv.get(["queue_owners", "a", "bob"])).value, 42);
  assert.equal(await position(kv, a1), 0);
  assert.equal(await position(kv, a2), 1);
  assert.equal(await position(kv, b1), 0);
  assert.equal(await position(kv, { ...a2, status: "running" }), null);
  const head = await queueHead(kv, { instance: "a", owner: "alice", limit: 1 });
  assert.deepEqual(head.map((e) => e.value), ["a1"]);
  assert.ok(await anyQueued(kv, "a"));
  assert.ok(!(await anyQueued(kv, "b")));
});

Deno.test("queue: turns go round from after the last one served", async () => {
  await using kv = await Deno.openKv(":memory:");
  await queued(kv, ...["a", "b", "c"].map((i) => taskRecord(`t${i}`, { instance: i })));
  const order = async (last: string | undefined) => {
    const names: string[] = [];
    for await (const e of turns(kv, { prefix: ["queue_instances"], last })) {
      names.push(e.key[1] as string);
    }
    return names;
  };
  assert.deepEqual(await order(undefined), ["a", "b", "c"]);
  assert.deepEqual(await order("a"), ["b", "c", "a"]);
  assert.deepEqual(await order("c"), ["a", "b", "c"]);
});

Deno.test("queue: a mark is dropped only if unchanged since it was read", async () => {
  await using kv = await Deno.openKv(":memory:");
  await queued(kv, taskRecord("t1"));
  const mark = await kv.get(["queue_instances", "a"]);
  await queued(kv, taskRecord("t2"));
  assert.equal(await dropUnchanged(kv, { key: mark.key, versionstamp: mark.versionstamp! }), false);
  const again = await kv.get(["queue_instances", "a"]);
  assert.ok(await dropUnchanged(kv, { key: again.key, versionstamp: again.versionstamp! }));
  assert.equal((await kv.get(["queue_instances", "a"])).value, null);
  assert.ok(sameKey(["a", 1], ["a", 1]) && !sameKey(["a", 1], ["a", 1, 2]));
});
