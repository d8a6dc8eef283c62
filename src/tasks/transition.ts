/**
 * One task's change of state: reading the record with its versionstamp,
 * the shapes a record moves into (finished, queued again), and the one
 * atomic commit, checked against the versionstamp, that writes the change
 * and moves the queue entries, deadlines, quota and slot counters with it,
 * so they cannot drift from the tasks.
 *
 * @module
 */
import { add } from "./counters.ts";
import {
  countKey,
  expiryKey,
  ownerKey,
  pendingBytesKey,
  pendingExpiryKey,
  queueKey,
  runningKey,
  taskKey,
} from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";
import { enqueue } from "./queue.ts";
import { releaseSlot } from "./slots.ts";
import { checkTaskId, type Claim, isTerminal, type TaskRecord, type TaskStatus } from "./task.ts";

/** What every store operation works with: the KV, the clock and the lifetimes. */
export interface StoreContext {
  /** Where the commit goes. */
  kv: Deno.Kv;
  /** Clock, epoch ms. */
  now: () => number;
  /** Terminal tasks expire this long after finishing, ms. */
  ttlMs: number;
  /** A task pending this long after it was queued expires, ms (Infinity: never). */
  pendingTtlMs: number;
}

/** A change of one task: the record as read, its versionstamp, and what it becomes. */
export interface Transition {
  /** The record as read; its versionstamp guards the commit. */
  prev: TaskRecord;
  /** The versionstamp it was read at. */
  versionstamp: string;
  /** The record to write in its place; indexes and counters follow its status. */
  next: TaskRecord;
  /** More writes (and checks) for the same commit. */
  extra?: (op: Deno.AtomicOperation) => void;
}

/**
 * The task with its versionstamp, if it exists and has not expired.
 *
 * @throws {BridgeError} `invalid_argument` for an id that cannot be ours.
 */
export async function readTask(ctx: StoreContext, id: string): Promise<Claim | null> {
  checkTaskId(id);
  const entry = await retryBusy(() => ctx.kv.get<TaskRecord>(taskKey(id)));
  if (!entry.value || !entry.versionstamp) return null;
  if (entry.value.expiresAt !== null && entry.value.expiresAt <= ctx.now()) return null;
  return { task: entry.value, versionstamp: entry.versionstamp };
}

/**
 * The pending deadline of a task queued (or queued again) at `now`. A task
 * that goes back to pending after running (release at shutdown, lease
 * recovery) gets a fresh one: keeping the first would fail it as
 * `task_expired` at once if it ran longer than the pending TTL.
 */
export function pendingDeadline(ctx: StoreContext, now: number): number | null {
  return Number.isFinite(ctx.pendingTtlMs) ? now + ctx.pendingTtlMs : null;
}

/** `task` finished now as `status`, with `patch` (its error or result), expiring after the TTL. */
export function finish(
  ctx: StoreContext,
  task: TaskRecord,
  end: { status: TaskStatus; patch: Partial<TaskRecord> },
): TaskRecord {
  const now = ctx.now();
  return {
    ...task,
    ...end.patch,
    status: end.status,
    finishedAt: now,
    updatedAt: now,
    runner: null,
    leaseUntil: null,
    holdsSlot: false,
    expiresAt: now + ctx.ttlMs,
  };
}

/** A running `task` back in pending now, with `attempt` attempts counted and a fresh deadline. */
export function requeue(
  ctx: StoreContext,
  task: TaskRecord,
  options: { attempt: number },
): TaskRecord {
  const now = ctx.now();
  return {
    ...task,
    status: "pending",
    attempt: options.attempt,
    startedAt: null,
    updatedAt: now,
    runner: null,
    leaseUntil: null,
    holdsSlot: false,
    pendingUntil: pendingDeadline(ctx, now),
  };
}

/** Takes a task leaving `prev.status` out of that status's indexes and counters. */
function leave(op: Deno.AtomicOperation, prev: TaskRecord): void {
  if (prev.status === "pending") {
    op.delete(queueKey(prev));
    if (prev.pendingUntil != null) op.delete(pendingExpiryKey(prev.pendingUntil, prev.id));
    add(op, pendingBytesKey(prev.owner), -(prev.messageBytes ?? 0));
  }
  if (prev.status === "running") {
    op.delete(runningKey(prev.id));
    if (prev.holdsSlot) releaseSlot(op, prev.instance);
  }
  add(op, countKey(prev.owner, prev.status), -1);
}

/**
 * Puts a task entering `next.status` into that status's indexes and counters
 * (also how a submit queues a new pending task).
 */
export function enter(ctx: StoreContext, op: Deno.AtomicOperation, next: TaskRecord): void {
  if (next.status === "pending") {
    enqueue(op, next, ctx.now());
    if (next.pendingUntil != null) {
      op.set(pendingExpiryKey(next.pendingUntil, next.id), next.id);
    }
    add(op, pendingBytesKey(next.owner), next.messageBytes ?? 0);
  }
  if (next.status === "running") op.set(runningKey(next.id), next.id);
  if (next.expiresAt !== null) op.set(expiryKey(next.expiresAt, next.id), next.id);
  add(op, countKey(next.owner, next.status), 1);
}

/**
 * Commits `next` in place of `prev` if the task is unchanged since it was
 * read; keeps indexes and counts in step. Returns the new versionstamp, or
 * null if another writer got there first (or `prev` is terminal: a
 * finished task never changes again).
 */
export async function commitTransition(
  ctx: StoreContext,
  change: Transition,
): Promise<string | null> {
  const { prev, next } = change;
  if (isTerminal(prev.status)) return null;
  const op = ctx.kv.atomic()
    .check({ key: taskKey(prev.id), versionstamp: change.versionstamp })
    .set(taskKey(next.id), next)
    .set(ownerKey(next), next);
  if (prev.status !== next.status) {
    leave(op, prev);
    enter(ctx, op, next);
  }
  change.extra?.(op);
  const result = await retryBusy(() => op.commit());
  return result.ok ? result.versionstamp : null;
}
