/**
 * Submitting a task: the new pending record, committed with its message
 * chunks, its queue entry and deadline, and the owner's quota counters,
 * checked against the counters it read so two concurrent submits cannot
 * both take the last of a quota.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import { chunk, setChunks } from "./chunks.ts";
import { ownerKey, taskKey } from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";
import { checkQuota, type QuotaLimits, readPendingUsage, utf8Bytes } from "./quota.ts";
import type { TaskRecord } from "./task.ts";
import { enter, pendingDeadline, type StoreContext } from "./transition.ts";

/** What a submission carries. */
export interface Submission {
  /** The message. */
  message: string;
  /** Gateway instance. */
  instance: string;
  /** The caller's `session_id`, stored as given (namespaced only on the way to the gateway). */
  sessionId?: string | null;
  /** OpenClaw agent; null or absent for the instance's default. */
  agent?: string | null;
  /** −100..100. */
  priority?: number;
  /** How it was created. */
  origin?: "tool" | "mcp";
}

/** Optimistic retries of a quota-checked submit before giving up. */
const SUBMIT_ATTEMPTS = 100;

/** The new task `id` of `owner`, pending since `now`. */
function pendingRecord(
  ctx: StoreContext,
  task: { id: string; owner: string; submission: Submission; chunks: number; bytes: number },
): TaskRecord {
  const now = ctx.now();
  const { submission } = task;
  return {
    id: task.id,
    owner: task.owner,
    status: "pending",
    instance: submission.instance,
    sessionId: submission.sessionId ?? null,
    agent: submission.agent ?? null,
    priority: submission.priority ?? 0,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
    attempt: 0,
    runner: null,
    leaseUntil: null,
    messageChunks: task.chunks,
    result: null,
    error: null,
    expiresAt: null,
    origin: submission.origin ?? "tool",
    messageBytes: task.bytes,
    pendingUntil: pendingDeadline(ctx, now),
  };
}

/**
 * Stores a new pending task `id` of `owner`, within the owner's quota.
 *
 * @throws {BridgeError} `quota_exceeded` past the limits;
 *   `storage_unavailable` when the counters kept changing under it.
 */
export async function submitTask(
  ctx: StoreContext,
  request: QuotaLimits & { id: string; owner: string; submission: Submission },
): Promise<TaskRecord> {
  const { id, owner, submission } = request;
  const parts = chunk(submission.message);
  const messageBytes = utf8Bytes(submission.message);
  for (let attempt = 0; attempt < SUBMIT_ATTEMPTS; attempt++) {
    const usage = await readPendingUsage(ctx.kv, owner);
    checkQuota(usage, { ...request, messageBytes });
    const task = pendingRecord(ctx, {
      id,
      owner,
      submission,
      chunks: parts.length,
      bytes: messageBytes,
    });
    // The quota check and the increment in one commit: it fails if any
    // other change to the owner's pending tasks landed since the read.
    // A message is at most 100,000 characters: 4 chunks, well inside one commit.
    const op = ctx.kv.atomic()
      .check({ key: taskKey(task.id), versionstamp: null })
      .check(usage.count)
      .check(usage.bytes)
      .set(taskKey(task.id), task)
      .set(ownerKey(task), task);
    // Its queue entry, deadline, pending count and bytes, as for every task entering pending.
    enter(ctx, op, task);
    setChunks(op, { id: task.id, kind: "message", attempt: 0 }, { parts });
    const result = await retryBusy(() => op.commit());
    if (result.ok) return task;
    await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt + 1, 10)));
  }
  throw new BridgeError(
    "storage_unavailable",
    "The task store was too busy to queue the task.",
    "Retry in a moment.",
  );
}
