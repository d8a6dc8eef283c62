/**
 * Queue entries of earlier layouts, moved into the per-instance queues:
 * `["pending", rank, createdAt, id]`, then `["pending", owner, rank,
 * createdAt, id]` with `["pending_owners", owner]`.
 *
 * @module
 */
import { taskKey } from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";
import { dropUnchanged, enqueue } from "./queue.ts";
import { readTask, type StoreContext } from "./transition.ts";

/** Queue entries of both earlier layouts (the prefix). */
export const LEGACY_PENDING: Deno.KvKey = ["pending"];
/** Principal marks of the second earlier layout (the prefix). */
export const LEGACY_PENDING_OWNERS: Deno.KvKey = ["pending_owners"];

/**
 * Moves queue entries of earlier layouts into the per-instance queues, and
 * drops the earlier principal marks. Cheap when nothing is left (one empty
 * range read each), so runners call it regularly: it also picks up tasks
 * an older version queued meanwhile. Returns how many tasks moved.
 */
export async function migratePending(ctx: StoreContext): Promise<number> {
  let moved = 0;
  for await (const entry of ctx.kv.list<string>({ prefix: LEGACY_PENDING })) {
    const id = entry.value;
    const found = typeof id === "string" ? await readTask(ctx, id).catch(() => null) : null;
    const op = ctx.kv.atomic().check(entry).delete(entry.key);
    const pending = found?.task.status === "pending";
    if (pending) {
      op.check({ key: taskKey(found.task.id), versionstamp: found.versionstamp });
      enqueue(op, found.task, ctx.now());
    }
    if ((await retryBusy(() => op.commit())).ok && pending) moved++;
  }
  for await (const entry of ctx.kv.list({ prefix: LEGACY_PENDING_OWNERS })) {
    await dropUnchanged(ctx.kv, entry);
  }
  return moved;
}
