/**
 * The sweeper: deletes terminal tasks past their expiry, with their owner
 * copy, reply so far and chunks, over the index `["expiry", expiresAt, id]`.
 *
 * @module
 */
import { add } from "./counters.ts";
import {
  chunkPrefix,
  countKey,
  EXPIRY,
  ownerKey,
  partialKey,
  taskKey,
  waitingKey,
} from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";
import type { TaskRecord } from "./task.ts";

/** Deletes every chunk of task `id`, 100 keys per commit. */
async function deleteChunks(kv: Deno.Kv, id: string): Promise<void> {
  const chunks: Deno.KvKey[] = [];
  for await (const c of kv.list({ prefix: chunkPrefix(id) })) chunks.push(c.key);
  for (let i = 0; i < chunks.length; i += 100) {
    const del = kv.atomic();
    for (const key of chunks.slice(i, i + 100)) del.delete(key);
    await retryBusy(() => del.commit());
  }
}

/**
 * Deletes up to `options.limit` terminal tasks whose expiry is at or before
 * `options.now`, with their chunks. Returns how many.
 */
export async function sweep(
  kv: Deno.Kv,
  options: { now: number; limit: number },
): Promise<number> {
  let swept = 0;
  const iter = kv.list<string>({ start: EXPIRY, end: [...EXPIRY, options.now + 1] }, {
    limit: options.limit,
  });
  for await (const entry of iter) {
    const found = await retryBusy(() => kv.get<TaskRecord>(taskKey(entry.value)));
    const task = found.value;
    // Checked against the index entry and the task: when two sweepers
    // (processes, isolates) meet the same task, one commit wins and the
    // count comes down once (unchecked, each took one off and the counts
    // wrapped below zero).
    const op = kv.atomic()
      .check({ key: entry.key, versionstamp: entry.versionstamp })
      .check({ key: taskKey(entry.value), versionstamp: found.versionstamp })
      .delete(entry.key);
    if (task && task.expiresAt === entry.key[1]) {
      op.delete(taskKey(task.id)).delete(ownerKey(task)).delete(partialKey(task.id))
        .delete(waitingKey(task.id));
      add(op, countKey(task.owner, task.status), -1);
    }
    if (!(await retryBusy(() => op.commit())).ok) continue;
    await deleteChunks(kv, entry.value);
    swept++;
  }
  return swept;
}
