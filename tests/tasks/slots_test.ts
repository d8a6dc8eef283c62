/**
 * Shared running slots and per-instance queues (issue 13): the slot counters
 * follow every transition, a full instance costs one read and blocks no
 * other, instances and principals take turns, limits hold across stores on
 * one KV.
 */
import assert from "node:assert/strict";
import { type Claim, type ClaimOptions, TaskStore } from "../../src/tasks/store.ts";
import {
  readSlots,
  readTotalSlots,
  releaseSlot,
  slotsFull,
  takeSlot,
} from "../../src/tasks/slots.ts";

interface Fixture {
  store: TaskStore;
  kv: Deno.Kv;
  clock: { now: number };
  /** Calls of kv.get, getMany and list made through `store`. */
  reads: { n: number };
  /** Another store (another process) on the same KV file. */
  other(): Promise<TaskStore>;
  /** [instance slots, total slots] as stored. */
  slots(instance: string): Promise<[number, number]>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function fixture(ttlMs = 60_000): Promise<Fixture> {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/tasks.kv`);
  const clock = { now: 1_000_000 };
  const reads = { n: 0 };
  const counted = new Proxy(kv, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (name === "get" || name === "getMany" || name === "list") reads.n++;
        return value.apply(target, args);
      };
    },
  });
  const options = { now: () => clock.now, ttlMs };
  const store = new TaskStore(counted, options);
  const others: Deno.Kv[] = [];
  return {
    store,
    kv,
    clock,
    reads,
    async other() {
      const second = await Deno.openKv(`${dir}/tasks.kv`);
      others.push(second);
      return new TaskStore(second, options);
    },
    async slots(instance) {
      const [own, total] = await kv.getMany<[Deno.KvU64, Deno.KvU64]>([
        ["slots", instance],
        ["slots_total"],
      ]);
      return [Number(own.value?.value ?? 0n), Number(total.value?.value ?? 0n)];
    },
    async [Symbol.asyncDispose]() {
      kv.close();
      for (const other of others) other.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const META = { model: "m", usage: null, finishReason: "stop" };

Deno.test("slots: the counter follows every transition, lease recovery and sweep", async () => {
  await using f = await fixture(1_000);
  const limits: ClaimOptions = { instanceConcurrency: { i: 2 } };
  const claim = async () => (await f.store.claim("r", 1_000, limits))!;
  for (let i = 0; i < 6; i++) await f.store.submit("a", { message: `m${i}`, instance: "i" });

  const one = await claim(), two = await claim();
  assert.equal(one.task.holdsSlot, true);
  assert.deepEqual(await f.slots("i"), [2, 2]);
  assert.equal(await f.store.claim("r", 1_000, limits), null, "instance i is full");

  assert.ok(await f.store.complete(one, "ok", META));
  assert.deepEqual(await f.slots("i"), [1, 1], "complete gives the slot back");
  assert.equal((await f.store.get("a", one.task.id)).holdsSlot, false);
  const three = await claim();
  assert.ok(await f.store.fail(two, { code: "internal", message: "x", hint: "" }));
  assert.deepEqual(await f.slots("i"), [1, 1], "fail gives it back");
  await f.store.cancel("a", three.task.id);
  assert.deepEqual(await f.slots("i"), [0, 0], "cancel of a running task gives it back");

  const four = await claim();
  assert.ok(await f.store.release(four));
  assert.deepEqual(await f.slots("i"), [0, 0], "release gives it back");
  assert.equal(await f.store.renew(four, 1_000), null, "a stale claim changes nothing");

  // A runner dies holding two slots: the lease rule returns them.
  await claim(), await claim();
  assert.deepEqual(await f.slots("i"), [2, 2]);
  f.clock.now += 1_001;
  assert.equal(await f.store.recoverExpired(), 2);
  assert.deepEqual(await f.slots("i"), [0, 0], "lease recovery gives them back");
  await claim(), await claim();
  f.clock.now += 1_001;
  assert.equal(await f.store.recoverExpired(), 2, "second attempts fail as interrupted");
  assert.deepEqual(await f.slots("i"), [0, 0]);
  assert.equal((await f.store.counts("a")).failed, 3);

  // A stale complete after recovery takes nothing twice.
  assert.equal(await f.store.complete(one, "again", META), false);
  f.clock.now += 10_000;
  assert.ok(await f.store.sweep() > 0);
  assert.deepEqual(await f.slots("i"), [0, 0], "sweeping finished tasks leaves the counters");
  assert.equal(await f.store.expirePending(), 0);
});

Deno.test("slots: a task claimed before slots were shared gives nothing back", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "old", instance: "i" });
  const claim = (await f.store.claim("r", 1_000))!;
  // As an earlier version stored it: running, no slot taken.
  const { holdsSlot: _, ...old } = claim.task;
  await f.kv.atomic().set(["task", old.id], old).set(["slots", "i"], new Deno.KvU64(0n))
    .set(["slots_total"], new Deno.KvU64(0n)).commit();
  const found = (await f.store.read(old.id))!;
  assert.ok(await f.store.complete(found, "ok", META));
  assert.deepEqual(await f.slots("i"), [0, 0], "no wrap below zero");
});

Deno.test("slots: a full instance costs one read and does not block another", async () => {
  for (const queued of [5, 500]) {
    await using f = await fixture();
    for (let i = 0; i < queued; i++) await f.store.submit("a", { message: "x", instance: "a" });
    const late = await f.store.submit("b", { message: "y", instance: "b" });
    const limits: ClaimOptions = { instanceConcurrency: { a: 1 } };
    const first = (await f.store.claim("r", 1_000, limits))!;
    assert.equal(first.task.instance, "a");
    f.reads.n = 0;
    const second = await f.store.claim("r", 1_000, limits);
    assert.equal(second?.task.id, late.id, `the task on instance b (${queued} queued)`);
    // Instance list, slot counters of a, of b, its principals, their
    // queue, the task, the drained check: no read per task queued on a.
    assert.ok(f.reads.n <= 8, `${f.reads.n} reads with ${queued} queued on the full instance a`);
    f.reads.n = 0;
    assert.equal(await f.store.claim("r", 1_000, limits), null);
    assert.ok(f.reads.n <= 3, `${f.reads.n} reads to find nothing runnable`);
  }
});

Deno.test("slots: instances take turns, and principals on each", async () => {
  await using f = await fixture();
  for (const instance of ["a", "b", "c"]) {
    for (const owner of ["p", "q"]) {
      for (let i = 0; i < 2; i++) {
        f.clock.now++;
        await f.store.submit(owner, { message: `${instance}${owner}${i}`, instance });
      }
    }
  }
  const served: string[] = [];
  for (let c; (c = await f.store.claim("r", 1_000));) {
    served.push(`${c.task.instance}${c.task.owner}`);
  }
  assert.deepEqual(served, "ap bp cp aq bq cq ap bp cp aq bq cq".split(" "));

  assert.equal(await f.store.position((await f.store.list("p")).tasks[0]), null, "none pending");
});

Deno.test("slots: limits hold across stores on one KV claiming at once", async () => {
  await using f = await fixture();
  const stores = [f.store, await f.other(), await f.other()];
  for (let i = 0; i < 12; i++) {
    await f.store.submit(`o${i % 3}`, { message: "x", instance: "capped" });
    await f.store.submit(`o${i % 3}`, { message: "x", instance: "open" });
    await f.store.submit(`o${i % 3}`, { message: "x", instance: "open" });
  }
  const limits: ClaimOptions = { instanceConcurrency: { capped: 2 } };
  const claims = (await Promise.all(
    stores.flatMap((s) => Array.from({ length: 4 }, () => s.claim("r", 1_000, limits))),
  )).filter((c): c is Claim => c !== null);
  const on = (i: string) => claims.filter((c) => c.task.instance === i).length;
  assert.equal(on("capped"), 2, "two slots on capped, whoever claimed");
  assert.deepEqual(await f.slots("capped"), [2, claims.length]);
  assert.equal(new Set(claims.map((c) => c.task.id)).size, claims.length, "no task twice");

  // The global limit: at most 5 running on all instances together.
  for (const c of claims) await f.store.complete(c, "ok", META);
  const global: ClaimOptions = { ...limits, globalConcurrency: 5 };
  const more = (await Promise.all(
    stores.flatMap((s) => Array.from({ length: 4 }, () => s.claim("r", 1_000, global))),
  )).filter((c) => c !== null);
  assert.equal(more.length, 5);
  assert.deepEqual((await f.slots("capped"))[1], 5);
});

Deno.test("slots: the counter helpers read, refuse at a limit, take and give back", async () => {
  await using kv = await Deno.openKv(":memory:");
  const empty = await readSlots(kv, "a");
  assert.equal(slotsFull(empty, { limit: 1, global: 1 }), null);
  const take = kv.atomic();
  takeSlot(take, { instance: "a", slots: empty, limit: 1, global: Infinity });
  assert.ok((await take.commit()).ok);
  // The same read again: the checked instance counter moved, so the commit fails.
  const stale = kv.atomic();
  takeSlot(stale, { instance: "a", slots: empty, limit: 1, global: Infinity });
  assert.equal((await stale.commit()).ok, false);
  const one = await readSlots(kv, "a");
  assert.equal(slotsFull(one, { limit: 1, global: Infinity }), "full");
  assert.equal(slotsFull(one, { limit: 2, global: 1 }), "global");
  assert.equal(await readTotalSlots(kv), 1);
  const back = kv.atomic();
  releaseSlot(back, "a");
  assert.ok((await back.commit()).ok);
  assert.equal(slotsFull(await readSlots(kv, "a"), { limit: 1, global: 1 }), null);
});
