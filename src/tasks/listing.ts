/**
 * Listing one owner's tasks: newest first, filtered, a page at a time, with
 * the owner's counts by status.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import { counter } from "./counters.ts";
import { countKey, ownerPrefix } from "./keys.ts";
import { STATUSES, type TaskRecord, type TaskStatus } from "./task.ts";

/** Filters for {@linkcode listTasks}. */
export interface ListOptions {
  /** Only this status. */
  status?: TaskStatus;
  /** Only this session. */
  sessionId?: string;
  /** Only this instance. */
  instance?: string;
  /** Page size, 1..200. */
  limit?: number;
  /** From a previous page. */
  cursor?: string;
}

/** A page of tasks. */
export interface TaskPage {
  /** Newest first. */
  tasks: TaskRecord[];
  /** Counts by status for the owner. */
  counts: Record<TaskStatus, number>;
  /** Pass back for the next page; null at the end. */
  nextCursor: string | null;
}

/** Counts of the owner's tasks by status. */
export async function countTasks(
  kv: Deno.Kv,
  owner: string,
): Promise<Record<TaskStatus, number>> {
  const entries = await kv.getMany<Deno.KvU64[]>(STATUSES.map((s) => countKey(owner, s)));
  const counts = {} as Record<TaskStatus, number>;
  STATUSES.forEach((s, i) => counts[s] = counter(entries[i]));
  return counts;
}

/**
 * Counts of every owner's tasks by status: the sum of the per-owner
 * counters (one short range read of `["count"]`, five entries per owner
 * ever seen), so it agrees with them by construction.
 */
export async function countAllTasks(kv: Deno.Kv): Promise<Record<TaskStatus, number>> {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  for await (const entry of kv.list<Deno.KvU64>({ prefix: ["count"] }, { batchSize: 500 })) {
    const status = entry.key[2] as TaskStatus;
    if (status in counts) counts[status] += counter(entry);
  }
  return counts;
}

/** Whether `t` is unexpired at `now` and passes the filters. */
function matches(t: TaskRecord, filter: ListOptions & { now: number }): boolean {
  if (t.expiresAt !== null && t.expiresAt <= filter.now) return false;
  if (filter.status && t.status !== filter.status) return false;
  if (filter.sessionId && t.sessionId !== filter.sessionId) return false;
  if (filter.instance && t.instance !== filter.instance) return false;
  return true;
}

/** Whether anything of the owner's follows `cursor`. */
async function anyAfter(kv: Deno.Kv, at: { owner: string; cursor: string }): Promise<boolean> {
  const more = kv.list<TaskRecord>({ prefix: ownerPrefix(at.owner) }, {
    reverse: true,
    cursor: at.cursor,
    limit: 1,
  });
  for await (const _ of more) return true;
  return false;
}

/** One page of the owner's matching tasks and the cursor after its last (null if none). */
async function page(
  kv: Deno.Kv,
  query: ListOptions & { owner: string; now: number; limit: number },
): Promise<{ tasks: TaskRecord[]; nextCursor: string | null }> {
  const tasks: TaskRecord[] = [];
  const iter = kv.list<TaskRecord>({ prefix: ownerPrefix(query.owner) }, {
    reverse: true,
    cursor: query.cursor,
    batchSize: 200,
  });
  for await (const entry of iter) {
    if (!matches(entry.value, query)) continue;
    tasks.push(entry.value);
    if (tasks.length === query.limit) return { tasks, nextCursor: iter.cursor };
  }
  return { tasks, nextCursor: null };
}

/**
 * The owner's tasks at `options.now`, newest first, filtered, one page at a time.
 *
 * @throws {BridgeError} `invalid_argument` for a cursor that is not ours.
 */
export async function listTasks(
  kv: Deno.Kv,
  options: ListOptions & { owner: string; now: number },
): Promise<TaskPage> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  let found: { tasks: TaskRecord[]; nextCursor: string | null };
  try {
    found = await page(kv, { ...options, limit });
  } catch (error) {
    if (options.cursor && !(error instanceof BridgeError)) {
      throw new BridgeError(
        "invalid_argument",
        "cursor is not valid.",
        "Pass the next_cursor from a previous openclaw_task_list, or leave it out.",
      );
    }
    throw error;
  }
  let { nextCursor } = found;
  // Only report a cursor if something actually follows.
  if (nextCursor !== null && !(await anyAfter(kv, { owner: options.owner, cursor: nextCursor }))) {
    nextCursor = null;
  }
  return { tasks: found.tasks, counts: await countTasks(kv, options.owner), nextCursor };
}
