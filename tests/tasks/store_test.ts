import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import type { Approval } from "../../src/gateway/approvals.ts";
import {
  CHUNK_CHARS,
  MAX_ATTEMPTS,
  MAX_WAITING,
  type TaskRecord,
  TaskStore,
  type TaskStoreOptions,
} from "../../src/tasks/store.ts";

interface Fixture {
  store: TaskStore;
  kv: Deno.Kv;
  clock: { now: number };
  /** A second store (another process) on the same KV file. */
  other(): Promise<TaskStore>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function fixture(ttlMs = 60_000, limits: TaskStoreOptions = {}): Promise<Fixture> {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/tasks.kv`);
  const clock = { now: 1_000_000 };
  let n = 0;
  const options = {
    now: () => clock.now,
    ttlMs,
    newId: () => `t${String(++n).padStart(4, "0")}`,
    ...limits,
  };
  const store = new TaskStore(kv, options);
  const others: Deno.Kv[] = [];
  return {
    store,
    kv,
    clock,
    async other() {
      const second = await Deno.openKv(`${dir}/tasks.kv`);
      others.push(second);
      return new TaskStore(second, options);
    },
    async [Symbol.asyncDispose]() {
      kv.close();
      for (const other of others) other.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    assert.ok(error instanceof BridgeError, String(error));
    return error.code;
  }
}

Deno.test("store: pending -> running -> completed, with counts and indexes", async () => {
  await using f = await fixture();
  const task = await f.store.submit("alice", { message: "hi", instance: "default" });
  assert.equal(task.status, "pending");
  assert.equal(await f.store.message(task), "hi");
  assert.equal(await f.store.position(task), 0);
  f.clock.now += 5;
  const claim = await f.store.claim("r1", 1_000);
  assert.equal(claim?.task.status, "running");
  assert.equal(claim?.task.attempt, 1);
  assert.equal(claim?.task.runner, "r1");
  assert.equal(await f.store.claim("r2", 1_000), null, "nothing else to claim");
  assert.deepEqual(await f.store.counts("alice"), {
    pending: 0,
    running: 1,
    completed: 0,
    failed: 0,
    cancelled: 0,
  });
  assert.ok(
    await f.store.complete(claim!, "the reply", { model: "m", usage: null, finishReason: "stop" }),
  );
  const done = await f.store.get("alice", task.id);
  assert.equal(done.status, "completed");
  assert.equal(done.finishedAt, f.clock.now);
  assert.equal(done.expiresAt, f.clock.now + 60_000);
  assert.equal(await f.store.reply(done), "the reply");
  assert.deepEqual((await f.store.counts("alice")).completed, 1);
  assert.deepEqual((await f.store.counts("alice")).running, 0);
});

Deno.test("store: terminal states never change; stale claims are refused", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "x", instance: "i" });
  const claim = (await f.store.claim("r1", 1_000))!;
  assert.ok(await f.store.fail(claim, { code: "gateway_error", message: "m", hint: "h" }));
  assert.equal(await f.store.fail(claim, { code: "internal", message: "", hint: "" }), false);
  assert.equal(
    await f.store.complete(claim, "late", { model: "m", usage: null, finishReason: null }),
    false,
  );
  assert.equal(await f.store.release(claim), false);
  assert.equal(await f.store.renew(claim, 1_000), null);
  assert.equal(await codeOf(f.store.cancel("a", claim.task.id)), "task_finished");
  const task = await f.store.get("a", claim.task.id);
  assert.equal(task.status, "failed");
  assert.equal(task.error?.code, "gateway_error");
});

Deno.test("store: a renewed lease invalidates the old claim", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "x", instance: "i" });
  const claim = (await f.store.claim("r1", 1_000))!;
  const versionstamp = await f.store.renew(claim, 5_000);
  assert.ok(versionstamp);
  assert.equal(
    await f.store.complete(claim, "x", { model: "m", usage: null, finishReason: null }),
    false,
  );
  const renewed = { task: { ...claim.task, leaseUntil: f.clock.now + 5_000 }, versionstamp };
  assert.ok(await f.store.complete(renewed, "x", { model: "m", usage: null, finishReason: null }));
});

Deno.test("store: cancel works on pending and running tasks; the running claim goes stale", async () => {
  await using f = await fixture();
  const pending = await f.store.submit("a", { message: "1", instance: "i" });
  const cancelled = await f.store.cancel("a", pending.id);
  assert.equal(cancelled.status, "cancelled");
  assert.equal(cancelled.error?.code, "cancelled");
  assert.equal(await f.store.claim("r", 1_000), null, "a cancelled task is not claimed");
  await f.store.submit("a", { message: "2", instance: "i" });
  const claim = (await f.store.claim("r", 1_000))!;
  await f.store.cancel("a", claim.task.id);
  assert.equal(
    await f.store.complete(claim, "x", { model: "m", usage: null, finishReason: null }),
    false,
  );
  assert.equal((await f.store.get("a", claim.task.id)).status, "cancelled");
  assert.equal((await f.store.counts("a")).cancelled, 2);
});

Deno.test("store: large messages and replies round-trip through chunks", async () => {
  await using f = await fixture();
  const message = "é".repeat(100_000);
  const task = await f.store.submit("a", { message, instance: "i" });
  assert.equal(task.messageChunks, Math.ceil(100_000 / CHUNK_CHARS));
  assert.equal(await f.store.message(task), message);
  const claim = (await f.store.claim("r", 1_000))!;
  // 12 chunks: more than one atomic commit can carry.
  const reply = Array.from({ length: 12 * CHUNK_CHARS + 7 }, (_, i) => "ab€😀"[i % 4]).join("");
  assert.ok(await f.store.complete(claim, reply, { model: "m", usage: null, finishReason: null }));
  const done = await f.store.get("a", task.id);
  assert.equal(done.result?.chunks, 13);
  assert.equal(await f.store.reply(done), reply);
});

Deno.test("store: partial replies are saved incrementally and tied to the attempt", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "x", instance: "i" });
  const claim = (await f.store.claim("r", 1_000))!;
  const first = "p".repeat(CHUNK_CHARS + 10);
  await f.store.savePartial(claim.task, first);
  assert.equal(await f.store.partial(claim.task), first);
  const more = first + "q".repeat(CHUNK_CHARS);
  await f.store.savePartial(claim.task, more, { fromChars: first.length });
  assert.equal(await f.store.partial(claim.task), more);
  assert.equal(await f.store.partial({ ...claim.task, attempt: 2 }), "", "other attempt sees none");
  assert.deepEqual(await f.store.partialTail(claim.task, 3), { text: "qqq", chars: more.length });
});

Deno.test("store: previews read the start of the message and reply, the end of the partial", async () => {
  await using f = await fixture();
  const task = await f.store.submit("a", { message: "hello there", instance: "i" });
  assert.equal(await f.store.messageHead(task, 5), "hello");
  assert.equal(await f.store.replyHead(task, 5), "", "no reply yet");
  const claim = (await f.store.claim("r", 1_000))!;
  await f.store.complete(claim, "general kenobi", { model: "m", usage: null, finishReason: null });
  const done = await f.store.get("a", task.id);
  assert.equal(await f.store.replyHead(done, 7), "general");
});

Deno.test("store: claims follow priority, then age; canRun filters instances", async () => {
  await using f = await fixture();
  const ids: Record<string, string> = {};
  for (const [name, priority] of [["low", -5], ["mid1", 0], ["high", 50], ["mid2", 0]] as const) {
    f.clock.now += 1;
    ids[name] = (await f.store.submit("a", {
      message: name,
      instance: name === "high" ? "b" : "a",
      priority,
    })).id;
  }
  assert.equal(
    await f.store.position(await f.store.get("a", ids.low)),
    2,
    "high, on another instance, is not ahead",
  );
  assert.equal(await f.store.position(await f.store.get("a", ids.high)), 0);
  const onlyA = await f.store.claim("r", 1_000, { canRun: (instance) => instance === "a" });
  assert.equal(onlyA?.task.id, ids.mid1, "high is on instance b");
  const order = [];
  for (let c; (c = await f.store.claim("r", 1_000));) order.push(c.task.id);
  assert.deepEqual(order, [ids.high, ids.mid2, ids.low]);
});

Deno.test("store: an expired lease returns the task once, then fails it as interrupted", async () => {
  await using f = await fixture();
  const task = await f.store.submit("a", { message: "x", instance: "i" });
  await f.store.claim("dead-runner", 1_000);
  assert.equal(await f.store.recoverExpired(), 0, "lease still valid");
  f.clock.now += 1_001;
  assert.equal(await f.store.recoverExpired(), 1);
  const back = await f.store.get("a", task.id);
  assert.equal(back.status, "pending");
  assert.equal(back.attempt, 1);
  const second = (await f.store.claim("r2", 1_000))!;
  assert.equal(second.task.attempt, MAX_ATTEMPTS);
  f.clock.now += 1_001;
  assert.equal(await f.store.recoverExpired(), 1);
  const failed = await f.store.get("a", task.id);
  assert.equal(failed.status, "failed");
  assert.equal(failed.error?.code, "interrupted");
  assert.equal(await f.store.claim("r3", 1_000), null);
});

function approval(id: string, summary = "ls"): Approval {
  return {
    id,
    kind: "exec",
    summary,
    sessionKey: "agent:main:s",
    agent: null,
    cwd: null,
    host: null,
    unavailable: [],
    createdAt: null,
    expiresAt: null,
  };
}

Deno.test("store: a runner that lost its lease neither clears nor overwrites the next attempt's waiting mark", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "x", instance: "i" });
  const stalled = (await f.store.claim("stalled", 1_000))!;
  f.clock.now += 1_001;
  assert.equal(await f.store.recoverExpired(), 1);
  const next = (await f.store.claim("r2", 1_000))!;
  assert.equal(next.task.attempt, 2);
  const ids = async () => (await f.store.waiting(next.task)).map((a) => a.id);
  await f.store.setWaiting(next.task, [approval("new")]);
  // The stalled runner still watches the same conversation, then stops.
  await f.store.setWaiting(stalled.task, [approval("new"), approval("old")]);
  assert.deepEqual(await ids(), ["new"]);
  await f.store.setWaiting(stalled.task, []);
  assert.deepEqual(await ids(), ["new"]);
  await f.store.setWaiting(next.task, []);
  assert.deepEqual(await ids(), []);
});

Deno.test("store: a waiting mark keeps the oldest approvals only, however many the gateway raises", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "x", instance: "i" });
  const claim = (await f.store.claim("r", 1_000))!;
  // 200 long commands would be far over KV's 64 KiB value limit.
  const many = Array.from({ length: 200 }, (_, i) => approval(`a${i}`, "x".repeat(2_000)));
  await f.store.setWaiting(claim.task, many);
  const kept = await f.store.waiting(claim.task);
  assert.deepEqual(kept.map((a) => a.id), many.slice(0, MAX_WAITING).map((a) => a.id));
});

Deno.test("store: release puts a task back without counting the attempt", async () => {
  await using f = await fixture();
  await f.store.submit("a", { message: "x", instance: "i" });
  const claim = (await f.store.claim("r", 1_000))!;
  assert.ok(await f.store.release(claim));
  const again = (await f.store.claim("r", 1_000))!;
  assert.equal(again.task.attempt, 1);
});

Deno.test("store: owners never see each other's tasks", async () => {
  await using f = await fixture();
  const task = await f.store.submit("alice", { message: "secret plan", instance: "i" });
  assert.equal(await codeOf(f.store.get("bob", task.id)), "task_not_found");
  assert.equal(await codeOf(f.store.cancel("bob", task.id)), "task_not_found");
  assert.equal((await f.store.list("bob")).tasks.length, 0);
  assert.equal((await f.store.counts("bob")).pending, 0);
  assert.equal((await f.store.get("alice", task.id)).id, task.id);
});

Deno.test("store: TTL is enforced on read and the sweeper deletes everything", async () => {
  await using f = await fixture(1_000);
  const task = await f.store.submit("a", { message: "x".repeat(70_000), instance: "i" });
  const claim = (await f.store.claim("r", 1_000))!;
  await f.store.complete(claim, "y".repeat(70_000), {
    model: "m",
    usage: null,
    finishReason: null,
  });
  f.clock.now += 999;
  assert.equal((await f.store.get("a", task.id)).status, "completed");
  f.clock.now += 1;
  assert.equal(await codeOf(f.store.get("a", task.id)), "task_not_found", "expired on read");
  assert.equal((await f.store.list("a")).tasks.length, 0);
  assert.equal(await f.store.sweep(), 1);
  const left: Deno.KvKey[] = [];
  for await (const entry of f.kv.list({ prefix: [] })) {
    // Counters stay (at zero): pending_bytes is the byte quota, slots the running limits.
    if (!["count", "pending_bytes", "slots", "slots_total"].includes(entry.key[0] as string)) {
      left.push(entry.key);
    }
  }
  assert.deepEqual(left, [], "no keys left but counters");
  assert.equal((await f.store.counts("a")).completed, 0);
});

Deno.test("store: two sweepers at once take each finished task off its count once", async () => {
  await using f = await fixture(1_000);
  const other = await f.other();
  for (let i = 0; i < 20; i++) {
    await f.store.submit("a", { message: `m${i}`, instance: "i" });
    const claim = (await f.store.claim("r", 1_000))!;
    await f.store.complete(claim, "ok", { model: "m", usage: null, finishReason: null });
  }
  await f.store.submit("a", { message: "cancelled", instance: "i" }).then((t) =>
    f.store.cancel("a", t.id)
  );
  f.clock.now += 1_000;
  const [one, two] = await Promise.all([f.store.sweep(), other.sweep()]);
  assert.equal(one + two, 21, "each task swept by exactly one of them");
  const raw = await f.kv.getMany<Deno.KvU64[]>([["count", "a", "completed"], [
    "count",
    "a",
    "cancelled",
  ]]);
  // Before the fix both sweepers took one off: 2^64 - 20 and the list showed 1.8e19.
  assert.deepEqual(raw.map((e) => e.value?.value), [0n, 0n]);
  assert.equal((await f.store.counts("a")).completed, 0);
});

Deno.test("store: a counter that wrapped below zero is shown as 0, not 1.8e19", async () => {
  await using f = await fixture();
  await f.kv.set(["count", "a", "failed"], new Deno.KvU64(0xFFFFFFFFFFFFFFFFn));
  assert.equal((await f.store.counts("a")).failed, 0);
  assert.equal((await f.store.list("a")).counts.failed, 0);
});

Deno.test("store: list is newest first, filtered, paginated, with counts", async () => {
  await using f = await fixture();
  const made: TaskRecord[] = [];
  for (let i = 0; i < 25; i++) {
    f.clock.now += 1;
    made.push(
      await f.store.submit("a", {
        message: `m${i}`,
        instance: i % 2 ? "odd" : "even",
        sessionId: i < 5 ? "s1" : null,
      }),
    );
  }
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await f.store.list("a", { limit: 10, cursor });
    seen.push(...page.tasks.map((t) => t.id));
    cursor = page.nextCursor ?? undefined;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.deepEqual(seen, made.map((t) => t.id).reverse());
  const odd = await f.store.list("a", { instance: "odd" });
  assert.equal(odd.tasks.length, 12);
  assert.ok(odd.tasks.every((t) => t.instance === "odd"));
  assert.equal((await f.store.list("a", { sessionId: "s1" })).tasks.length, 5);
  assert.equal((await f.store.list("a", { status: "running" })).tasks.length, 0);
  const page = await f.store.list("a", { limit: 200 });
  assert.equal(page.nextCursor, null);
  assert.equal(page.counts.pending, 25);
  assert.equal(await codeOf(f.store.list("a", { cursor: "not-a-cursor!" })), "invalid_argument");
});

async function errorOf(promise: Promise<unknown>): Promise<BridgeError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BridgeError, String(error));
    return error;
  }
  throw new Error("expected an error");
}

Deno.test("store: the pending-task quota per owner refuses, and frees on claim and cancel", async () => {
  await using f = await fixture(60_000, { maxPending: 3 });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await f.store.submit("a", { message: "x", instance: "i" })).id);
  }
  const refused = await errorOf(f.store.submit("a", { message: "x", instance: "i" }));
  assert.equal(refused.code, "quota_exceeded");
  assert.match(refused.message, /limit is 3 pending tasks/);
  assert.match(refused.message, /OPENCLAW_TASK_MAX_PENDING\b/);
  assert.match(refused.hint, /openclaw_task_cancel/);
  assert.equal((await f.store.counts("a")).pending, 3, "the refused task was not stored");
  await f.store.submit("b", { message: "x", instance: "i" });
  assert.ok(await f.store.claim("r", 1_000), "a claim frees a slot");
  await f.store.submit("a", { message: "x", instance: "i" });
  assert.equal(
    await codeOf(f.store.submit("a", { message: "x", instance: "i" })),
    "quota_exceeded",
  );
  await f.store.cancel("a", ids[2]);
  await f.store.submit("a", { message: "x", instance: "i" });
  assert.equal((await f.store.counts("a")).pending, 3);
});

Deno.test("store: the pending-bytes quota counts UTF-8 bytes and frees them on claim", async () => {
  await using f = await fixture(60_000, { maxPendingBytes: 1_000 });
  await f.store.submit("a", { message: "é".repeat(400), instance: "i" }); // 800 bytes
  const refused = await errorOf(f.store.submit("a", { message: "x".repeat(201), instance: "i" }));
  assert.equal(refused.code, "quota_exceeded");
  assert.match(refused.message, /1000 bytes of pending messages/);
  assert.match(refused.message, /OPENCLAW_TASK_MAX_PENDING_BYTES/);
  await f.store.submit("a", { message: "x".repeat(200), instance: "i" });
  assert.equal(
    await codeOf(f.store.submit("a", { message: "y", instance: "i" })),
    "quota_exceeded",
  );
  await f.store.submit("b", { message: "z".repeat(1_000), instance: "i" });
  assert.equal(
    await codeOf(f.store.submit("c", { message: "z".repeat(1_001), instance: "i" })),
    "quota_exceeded",
    "one message larger than the whole quota",
  );
  assert.ok(await f.store.claim("r", 1_000));
  assert.ok(await f.store.claim("r", 1_000));
  assert.ok(await f.store.claim("r", 1_000));
  assert.equal(
    (await f.kv.get<Deno.KvU64>(["pending_bytes", "a"])).value?.value,
    0n,
    "claims release every byte",
  );
  await f.store.submit("a", { message: "x".repeat(1_000), instance: "i" });
});

Deno.test("store: concurrent submits from two processes never overshoot the quotas", async () => {
  await using f = await fixture(60_000, { maxPending: 10, maxPendingBytes: 100_000 });
  const other = await f.other();
  const stores = [f.store, other];
  const outcomes = await Promise.all(
    Array.from(
      { length: 40 },
      (_, i) =>
        stores[i % 2].submit("a", { message: `m${i}`, instance: "i" }).then(
          () => "ok",
          (error) => (error as BridgeError).code,
        ),
    ),
  );
  assert.equal(outcomes.filter((o) => o === "ok").length, 10);
  assert.equal(outcomes.filter((o) => o === "quota_exceeded").length, 30);
  assert.equal((await f.store.counts("a")).pending, 10);
  assert.equal((await f.store.list("a", { limit: 200 })).tasks.length, 10);

  // Bytes: 25 messages of 10,000 bytes against a 100,000-byte quota.
  const big = await Promise.all(
    Array.from(
      { length: 25 },
      (_, i) =>
        stores[i % 2].submit("b", { message: "b".repeat(10_000), instance: "i" }).then(
          () => "ok",
          (error) => (error as BridgeError).code,
        ),
    ),
  );
  assert.equal(big.filter((o) => o === "ok").length, 10);
  assert.equal((await f.kv.get<Deno.KvU64>(["pending_bytes", "b"])).value?.value, 100_000n);
});

Deno.test("store: priority orders tasks within a principal; principals take turns", async () => {
  await using f = await fixture();
  for (let i = 0; i < 50; i++) {
    f.clock.now += 1;
    await f.store.submit("a", { message: `a${i}`, instance: "i", priority: 100 });
  }
  f.clock.now += 1;
  const lone = await f.store.submit("b", { message: "b", instance: "i", priority: -100 });
  const first = [(await f.store.claim("r", 1_000))!, (await f.store.claim("r", 1_000))!];
  assert.ok(
    first.some((c) => c.task.id === lone.id),
    "b's single task runs within the first 2 claims",
  );
  // Three principals: each claim serves the next one in turn.
  for (const owner of ["c", "d"]) {
    for (let i = 0; i < 3; i++) await f.store.submit(owner, { message: "m", instance: "i" });
  }
  const owners = [];
  for (let i = 0; i < 6; i++) owners.push((await f.store.claim("r", 1_000))!.task.owner);
  assert.deepEqual(owners.toSorted(), ["a", "a", "c", "c", "d", "d"]);
  for (let i = 0; i < 2; i++) {
    assert.equal(new Set(owners.slice(i * 3, i * 3 + 3)).size, 3, `round ${i}: ${owners}`);
  }
});

Deno.test("store: position counts only the caller's own pending tasks", async () => {
  await using f = await fixture();
  for (let i = 0; i < 20; i++) await f.store.submit("a", { message: "x", instance: "i" });
  const b1 = await f.store.submit("b", { message: "x", instance: "i", priority: -100 });
  const b2 = await f.store.submit("b", { message: "x", instance: "i", priority: -100 });
  assert.equal(await f.store.position(b1), 0, "a's 20 tasks are not counted");
  assert.equal(await f.store.position(b2), 1);
});

Deno.test("store: pending tasks past their deadline fail as task_expired and free the quota", async () => {
  await using f = await fixture(60_000, { pendingTtlMs: 1_000, maxPending: 2 });
  const early = await f.store.submit("a", { message: "é".repeat(10), instance: "i" });
  f.clock.now += 500;
  const late = await f.store.submit("a", { message: "x", instance: "i" });
  assert.equal(late.pendingUntil, f.clock.now + 1_000);
  f.clock.now += 499;
  assert.equal(await f.store.expirePending(), 0);
  f.clock.now += 1;
  assert.equal(await f.store.expirePending(), 1, "only the first reached its deadline");
  const expired = await f.store.get("a", early.id);
  assert.equal(expired.status, "failed");
  assert.equal(expired.error?.code, "task_expired");
  assert.match(expired.error!.message, /OPENCLAW_TASK_PENDING_TTL_MS/);
  assert.equal((await f.store.counts("a")).pending, 1);
  assert.equal((await f.kv.get<Deno.KvU64>(["pending_bytes", "a"])).value?.value, 1n);
  await f.store.submit("a", { message: "y", instance: "i" });

  // The claim loop never runs an expired task, even before the sweeper ran.
  f.clock.now += 1_000;
  const claimed = await f.store.claim("r", 1_000);
  assert.equal(claimed?.task.id, undefined, "nothing left that may run");
  assert.equal((await f.store.get("a", late.id)).error?.code, "task_expired");
  assert.equal((await f.store.counts("a")).pending, 0);
  assert.equal((await f.store.counts("a")).failed, 3);
  const index: Deno.KvKey[] = [];
  for await (const e of f.kv.list({ prefix: ["pending_expiry"] })) index.push(e.key);
  for (const prefix of ["queue", "queue_owners", "queue_instances"]) {
    for await (const e of f.kv.list({ prefix: [prefix] })) index.push(e.key);
  }
  assert.deepEqual(index, [], "no pending index entries left");
});

Deno.test(
  "store: a task back in pending after it ran (release, lease recovery) gets a fresh deadline",
  async () => {
    await using f = await fixture(60_000, { pendingTtlMs: 5_000 });
    const released = await f.store.submit("a", { message: "released", instance: "i" });
    const recovered = await f.store.submit("a", { message: "recovered", instance: "i" });
    const first = (await f.store.claim("r", 1_000))!;
    const second = (await f.store.claim("r", 1_000))!;
    // Both ran longer than the pending TTL before going back to the queue.
    f.clock.now += 10_000;
    assert.ok(await f.store.release(first));
    assert.equal(await f.store.recoverExpired(), 1);
    assert.equal(second.task.id, recovered.id);
    // Before the fix they kept the first deadline and failed at once as
    // task_expired ("waited 10 s in the queue without being run").
    assert.equal(await f.store.expirePending(), 0);
    for (const id of [released.id, recovered.id]) {
      const task = await f.store.get("a", id);
      assert.equal(task.status, "pending", id);
      assert.equal(task.pendingUntil, f.clock.now + 5_000);
    }
    assert.equal((await f.store.claim("r", 1_000))?.task.status, "running");
    // The fresh deadline still holds: the other one expires 5 s later.
    f.clock.now += 5_000;
    assert.equal(await f.store.expirePending(), 1);
    const counts = await f.store.counts("a");
    assert.deepEqual([counts.pending, counts.running, counts.failed], [0, 1, 1]);
  },
);

Deno.test("store: task ids are validated before KV is touched", async () => {
  await using f = await fixture();
  const huge = "x".repeat(1_000_000);
  for (const id of [huge, "a".repeat(129), "bad id", "a/b", ""]) {
    const error = await errorOf(f.store.get("a", id));
    assert.equal(error.code, "invalid_argument", JSON.stringify(id.slice(0, 10)));
    assert.match(error.message, /task_id is not a valid task id/);
    assert.ok(error.message.length < 200, "the id is not echoed");
    assert.equal(await codeOf(f.store.cancel("a", id)), "invalid_argument");
  }
  assert.equal(await codeOf(f.store.get("a", crypto.randomUUID())), "task_not_found");
});

Deno.test("store: queue entries of both earlier layouts are migrated and run", async () => {
  await using f = await fixture();
  const v1 = await f.store.submit("a", { message: "v1", instance: "i", priority: 5 });
  const v2 = await f.store.submit("b", { message: "v2", instance: "j" });
  const gone = await f.store.submit("b", { message: "gone", instance: "j" });
  await f.store.cancel("b", gone.id);
  // Rewrite the index as earlier versions stored it: one global queue, then
  // one queue per principal (a cancelled task's entry left behind too).
  const op = f.kv.atomic();
  for await (const e of f.kv.list({ prefix: [] })) {
    if (["queue", "queue_owners", "queue_instances"].includes(e.key[0] as string)) op.delete(e.key);
  }
  await op
    .set(["pending", 95, v1.createdAt, v1.id], v1.id)
    .set(["pending", "b", 100, v2.createdAt, v2.id], v2.id)
    .set(["pending", "b", 100, gone.createdAt, gone.id], gone.id)
    .set(["pending_owners", "b"], 1)
    .commit();
  assert.equal(await f.store.claim("r", 1_000), null, "not visible before migration");
  assert.equal(await f.store.migratePending(), 2);
  const left: Deno.KvKey[] = [];
  for (const prefix of ["pending", "pending_owners"]) {
    for await (const e of f.kv.list({ prefix: [prefix] })) left.push(e.key);
  }
  assert.deepEqual(left, [], "nothing of the old layouts is left");
  assert.equal(await f.store.migratePending(), 0, "a second run finds nothing");
  const claimed = [
    (await f.store.claim("r", 1_000))?.task.id,
    (await f.store.claim("r", 1_000))?.task.id,
  ];
  assert.deepEqual(claimed.toSorted(), [v1.id, v2.id]);
  assert.equal(await f.store.claim("r", 1_000), null);
});

Deno.test("store: versionstamps read many tasks in order; a change or a gone task shows", async () => {
  await using f = await fixture();
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    ids.push((await f.store.submit("a", { message: `m${i}`, instance: "i" })).id);
  }
  const before = await f.store.versionstamps([...ids, "t9999"]);
  assert.equal(before.length, 13);
  for (const [i, id] of ids.entries()) {
    assert.equal(before[i], (await f.store.read(id))?.versionstamp);
  }
  assert.equal(before[12], null);
  await f.store.cancel("a", ids[11]);
  const after = await f.store.versionstamps([ids[0], ids[11]]);
  assert.equal(after[0], before[0]);
  assert.notEqual(after[1], before[11]);
  assert.deepEqual(await f.store.versionstamps([]), []);
});
