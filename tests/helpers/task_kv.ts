/**
 * A store context on an in-memory KV with a clock the test moves, and a
 * task record built from a few fields: for the task-layer module tests.
 */
import { type Submission, submitTask } from "../../src/tasks/submit.ts";
import type { TaskRecord } from "../../src/tasks/task.ts";
import type { StoreContext } from "../../src/tasks/transition.ts";

/** A context whose clock reads `clock.now`; dispose to close the KV. */
export interface TestContext extends StoreContext, AsyncDisposable {
  /** Move `now` to move time. */
  clock: { now: number };
}

/** A fresh in-memory KV, the clock at 1,000,000 ms, a 60 s TTL and no pending TTL by default. */
export async function memoryContext(
  options: { ttlMs?: number; pendingTtlMs?: number } = {},
): Promise<TestContext> {
  const kv = await Deno.openKv(":memory:");
  const clock = { now: 1_000_000 };
  return {
    kv,
    clock,
    now: () => clock.now,
    ttlMs: options.ttlMs ?? 60_000,
    pendingTtlMs: options.pendingTtlMs ?? Infinity,
    [Symbol.asyncDispose]() {
      kv.close();
      return Promise.resolve();
    },
  };
}

/** A pending task record `id` of owner "alice" on instance "a", with `patch` applied. */
export function taskRecord(id: string, patch: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    owner: "alice",
    status: "pending",
    instance: "a",
    sessionId: null,
    agent: null,
    priority: 0,
    createdAt: 1_000,
    startedAt: null,
    finishedAt: null,
    updatedAt: 1_000,
    attempt: 0,
    runner: null,
    leaseUntil: null,
    messageChunks: 0,
    result: null,
    error: null,
    expiresAt: null,
    origin: "tool",
    ...patch,
  };
}

/** Every key under `prefix`, in order. */
export async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix })) keys.push(entry.key);
  return keys;
}

/** A KvU64 counter as stored (0 when absent). */
export async function counterAt(kv: Deno.Kv, key: Deno.KvKey): Promise<bigint> {
  return (await kv.get<Deno.KvU64>(key)).value?.value ?? 0n;
}

/** Submits task `id` of "alice" (message "four", instance "a" unless `submission` says otherwise), no quota. */
export function submitOne(
  ctx: StoreContext,
  id: string,
  submission: Partial<Submission> & { owner?: string } = {},
): Promise<TaskRecord> {
  const { owner = "alice", ...rest } = submission;
  return submitTask(ctx, {
    maxPending: Infinity,
    maxPendingBytes: Infinity,
    id,
    owner,
    submission: { message: "four", instance: "a", ...rest },
  });
}
