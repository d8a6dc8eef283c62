/**
 * The queue index: one queue per instance and principal (priority, then
 * age, within it), with marks of the instances and principals that have
 * queued work, walked in turn by claims.
 *
 * Every move into pending rewrites both marks, so a claim's checked delete
 * of a mark it found empty fails when a task arrived meanwhile.
 *
 * @module
 */
import {
  queueInstanceKey,
  queueKey,
  queueOwnerKey,
  queueOwnersPrefix,
  queuePrefix,
} from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";
import type { TaskRecord } from "./task.ts";

/** Puts `task` in its queue in `op`, and marks its instance and its principal there, at `now`. */
export function enqueue(op: Deno.AtomicOperation, task: TaskRecord, now: number): void {
  op.set(queueKey(task), task.id)
    .set(queueOwnerKey(task.instance, task.owner), now)
    .set(queueInstanceKey(task.instance), now);
}

/** Whether two KV keys are equal part by part. */
export function sameKey(a: Deno.KvKey, b: Deno.KvKey): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/**
 * Queue position of a pending task among its owner's own pending tasks
 * on the same instance (0 = the owner's next there), or null when more
 * than 1,000 are ahead (or the task is not pending).
 */
export async function position(kv: Deno.Kv, task: TaskRecord): Promise<number | null> {
  if (task.status !== "pending") return null;
  let ahead = 0;
  const start = queuePrefix(task.instance, task.owner);
  const iter = kv.list({ start, end: queueKey(task) }, { limit: 1_001 });
  for await (const _ of iter) ahead++;
  return ahead > 1_000 ? null : ahead;
}

/** The first `limit` entries of one principal's queue on one instance. */
export async function queueHead(
  kv: Deno.Kv,
  queue: { instance: string; owner: string; limit: number },
): Promise<Deno.KvEntry<string>[]> {
  const entries: Deno.KvEntry<string>[] = [];
  const iter = kv.list<string>({ prefix: queuePrefix(queue.instance, queue.owner) }, {
    limit: queue.limit,
  });
  for await (const entry of iter) entries.push(entry);
  return entries;
}

/** Marks under `prefix` (keys one part longer), from after `last` round to it. */
export async function* turns(
  kv: Deno.Kv,
  options: { prefix: Deno.KvKey; last: string | undefined },
): AsyncGenerator<Deno.KvEntry<number>> {
  const { prefix, last } = options;
  const passes: Deno.KvListSelector[] = last === undefined ? [{ prefix }] : [
    { prefix, start: [...prefix, last + "\0"] },
    { prefix, end: [...prefix, last + "\0"] },
  ];
  for (const selector of passes) yield* kv.list<number>(selector, { batchSize: 100 });
}

/** Whether any principal has work queued on the instance. */
export async function anyQueued(kv: Deno.Kv, instance: string): Promise<boolean> {
  for await (const _ of kv.list({ prefix: queueOwnersPrefix(instance) }, { limit: 1 })) {
    return true;
  }
  return false;
}

/**
 * Deletes a queue mark or index entry unless it changed since it was read:
 * every move into pending rewrites the marks, so dropping a mark fails if a
 * task arrived. True if it was deleted.
 */
export async function dropUnchanged(
  kv: Deno.Kv,
  entry: { key: Deno.KvKey; versionstamp: string },
): Promise<boolean> {
  const result = await retryBusy(() => kv.atomic().check(entry).delete(entry.key).commit());
  return result.ok;
}
