/**
 * The task store's key layout on Deno KV, and one builder per key.
 *
 * ```
 * ["task", id]                                  -> TaskRecord (small: no text)
 * ["owner", owner, createdAt, id]               -> TaskRecord copy, for listing newest first
 * ["queue", instance, owner, 100 - priority, createdAt, id] -> id  (one queue per
 *                                                  instance and principal: priority,
 *                                                  then age, within it)
 * ["queue_instances", instance]                 -> epoch ms  (instances with pending
 *                                                  work: the claim round-robin walks these)
 * ["queue_owners", instance, owner]             -> epoch ms  (principals with pending
 *                                                  work on the instance: walked in turn)
 * ["slots", instance]                           -> KvU64 (tasks running on the instance
 *                                                  that hold a slot: the shared limit)
 * ["slots_total"]                               -> KvU64 (all of them: the global limit)
 * ["pending_expiry", pendingUntil, id]          -> id   (pending tasks by deadline)
 * ["pending_bytes", owner]                      -> KvU64 (UTF-8 message bytes of the
 *                                                  owner's pending tasks: the byte quota)
 * ["running", id]                               -> id   (lease recovery scans this small set)
 * ["expiry", expiresAt, id]                     -> id   (sweeper of finished tasks)
 * ["count", owner, status]                      -> KvU64 (counts by status; "pending"
 *                                                  is also the count quota)
 * ["chunk", id, kind, attempt, i]               -> string (message, result, partial; 30,000 chars each)
 * ["partial", id]                               -> { attempt, chars, chunks }
 * ["waiting", id]                               -> { attempt, approvals } (approvals the
 *                                                  running attempt's conversation waits on;
 *                                                  expires on its own)
 * ```
 *
 * Queue entries of earlier layouts (`["pending", ...]`, `["pending_owners",
 * ...]`) are named in `migrate.ts`, which moves them.
 *
 * @module
 */
import type { TaskRecord, TaskStatus } from "./task.ts";

/** The kinds of chunked text a task holds. */
export type ChunkKind = "message" | "result" | "partial";

/** The task record. */
export function taskKey(id: string): Deno.KvKey {
  return ["task", id];
}

/** The owner's copy of the record, ordered for listing newest first. */
export function ownerKey(task: TaskRecord): Deno.KvKey {
  return ["owner", task.owner, task.createdAt, task.id];
}

/** All of the owner's copies. */
export function ownerPrefix(owner: string): Deno.KvKey {
  return ["owner", owner];
}

/** The task's entry in its instance's queue for its owner: priority, then age. */
export function queueKey(task: TaskRecord): Deno.KvKey {
  return ["queue", task.instance, task.owner, 100 - task.priority, task.createdAt, task.id];
}

/** Every queue (the prefix). */
export const QUEUE: Deno.KvKey = ["queue"];

/** One principal's queue on one instance. */
export function queuePrefix(instance: string, owner: string): Deno.KvKey {
  return ["queue", instance, owner];
}

/** Marks of the instances with queued work (the prefix). */
export const QUEUE_INSTANCES: Deno.KvKey = ["queue_instances"];

/** The mark of an instance with queued work. */
export function queueInstanceKey(instance: string): Deno.KvKey {
  return ["queue_instances", instance];
}

/** Marks of the principals with queued work on the instance. */
export function queueOwnersPrefix(instance: string): Deno.KvKey {
  return ["queue_owners", instance];
}

/** The mark of a principal with queued work on the instance. */
export function queueOwnerKey(instance: string, owner: string): Deno.KvKey {
  return ["queue_owners", instance, owner];
}

/** Tasks holding a slot on the instance. */
export function slotsKey(instance: string): Deno.KvKey {
  return ["slots", instance];
}

/** Tasks holding a slot on any instance. */
export const SLOTS_TOTAL: Deno.KvKey = ["slots_total"];

/** Pending deadlines (the prefix). */
export const PENDING_EXPIRY: Deno.KvKey = ["pending_expiry"];

/** A pending task's deadline entry. */
export function pendingExpiryKey(pendingUntil: number, id: string): Deno.KvKey {
  return ["pending_expiry", pendingUntil, id];
}

/** UTF-8 message bytes of the owner's pending tasks. */
export function pendingBytesKey(owner: string): Deno.KvKey {
  return ["pending_bytes", owner];
}

/** Running tasks (the prefix). */
export const RUNNING: Deno.KvKey = ["running"];

/** A running task's entry, scanned by lease recovery. */
export function runningKey(id: string): Deno.KvKey {
  return ["running", id];
}

/** Expiry of finished tasks (the prefix). */
export const EXPIRY: Deno.KvKey = ["expiry"];

/** A finished task's expiry entry, for the sweeper. */
export function expiryKey(expiresAt: number, id: string): Deno.KvKey {
  return ["expiry", expiresAt, id];
}

/** The count of the owner's tasks in `status` ("pending" is also the count quota). */
export function countKey(owner: string, status: TaskStatus): Deno.KvKey {
  return ["count", owner, status];
}

/** One chunk of a task's text. */
export function chunkKey(
  id: string,
  at: { kind: ChunkKind; attempt: number; index: number },
): Deno.KvKey {
  return ["chunk", id, at.kind, at.attempt, at.index];
}

/** The chunks of a task's text of one kind and attempt; every chunk of the task without `at`. */
export function chunkPrefix(id: string, at?: { kind: ChunkKind; attempt: number }): Deno.KvKey {
  return at ? ["chunk", id, at.kind, at.attempt] : ["chunk", id];
}

/** How far a running task's reply so far was saved. */
export function partialKey(id: string): Deno.KvKey {
  return ["partial", id];
}

/** The approvals a running task's conversation waits on. */
export function waitingKey(id: string): Deno.KvKey {
  return ["waiting", id];
}
