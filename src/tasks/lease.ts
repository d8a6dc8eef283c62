/**
 * The lease rule: a running task whose lease ran out (its runner died)
 * goes back to pending if fewer than {@linkcode MAX_ATTEMPTS} attempts were
 * made, else fails with `interrupted`. Nothing is silently lost.
 *
 * @module
 */
import { RUNNING } from "./keys.ts";
import { MAX_ATTEMPTS, type TaskRecord } from "./task.ts";
import { commitTransition, finish, readTask, requeue, type StoreContext } from "./transition.ts";

/** What the lease rule makes of `task`, whose lease ran out. */
function afterLease(ctx: StoreContext, task: TaskRecord): TaskRecord {
  if (task.attempt < MAX_ATTEMPTS) return requeue(ctx, task, { attempt: task.attempt });
  return finish(ctx, task, {
    status: "failed",
    patch: {
      error: {
        code: "interrupted",
        message:
          `The task was interrupted ${task.attempt} times (its runner stopped before finishing).`,
        hint: "Submit it again; check that the server is not being killed or restarted.",
      },
    },
  });
}

/** Applies the lease rule to every running task whose lease has run out. Returns how many. */
export async function recoverExpired(ctx: StoreContext): Promise<number> {
  let recovered = 0;
  const ids: string[] = [];
  for await (const entry of ctx.kv.list<string>({ prefix: RUNNING })) ids.push(entry.value);
  for (const id of ids) {
    const found = await readTask(ctx, id);
    if (!found || found.task.status !== "running") continue;
    if ((found.task.leaseUntil ?? 0) > ctx.now()) continue;
    const next = afterLease(ctx, found.task);
    if (await commitTransition(ctx, { prev: found.task, versionstamp: found.versionstamp, next })) {
      recovered++;
    }
  }
  return recovered;
}
