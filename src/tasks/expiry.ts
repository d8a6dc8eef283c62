/**
 * Pending expiry: a task still pending `pendingTtlMs` after it was queued
 * fails with `task_expired`, releasing its quota. Found over the deadline
 * index `["pending_expiry", pendingUntil, id]`, and by the claim loop when
 * it meets one first.
 *
 * @module
 */
import { PENDING_EXPIRY } from "./keys.ts";
import { dropUnchanged } from "./queue.ts";
import type { Claim } from "./task.ts";
import { commitTransition, finish, readTask, type StoreContext } from "./transition.ts";

/** Fails a pending task that waited past its deadline; false if it changed meanwhile. */
export async function expireTask(ctx: StoreContext, found: Claim): Promise<boolean> {
  const waited = Math.round((ctx.now() - found.task.createdAt) / 1000);
  const next = finish(ctx, found.task, {
    status: "failed",
    patch: {
      error: {
        code: "task_expired",
        message:
          `The task waited ${waited} s in the queue without being run and expired (OPENCLAW_TASK_PENDING_TTL_MS).`,
        hint:
          "Submit it again when the queue is shorter; the operator can raise OPENCLAW_TASK_PENDING_TTL_MS or the task concurrency.",
      },
    },
  });
  return await commitTransition(ctx, {
    prev: found.task,
    versionstamp: found.versionstamp,
    next,
  }) !==
    null;
}

/**
 * Fails up to `limit` pending tasks past their deadline with
 * `task_expired`; walks the deadline index only. Returns how many.
 */
export async function expirePending(ctx: StoreContext, limit: number): Promise<number> {
  let expired = 0;
  const iter = ctx.kv.list<string>({
    start: PENDING_EXPIRY,
    end: [...PENDING_EXPIRY, ctx.now() + 1],
  }, { limit });
  for await (const entry of iter) {
    const found = await readTask(ctx, entry.value).catch(() => null);
    const deadline = entry.key[1] as number;
    if (found?.task.status === "pending" && found.task.pendingUntil === deadline) {
      if (await expireTask(ctx, found)) expired++;
    } else {
      // Left behind (should not happen: moves out of pending delete it).
      await dropUnchanged(ctx.kv, entry);
    }
  }
  return expired;
}
