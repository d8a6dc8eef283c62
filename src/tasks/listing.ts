/**
 * Listing tasks: one owner's newest first, filtered, a page at a time, with
 * the owner's counts by status; and, for the operator, every owner's newest
 * few through the store's indexes ({@linkcode listRecent}).
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import { counter } from "./counters.ts";
import { countKey, EXPIRY, ownerPrefix, PENDING_EXPIRY, QUEUE, RUNNING, taskKey } from "./keys.ts";
import { isTerminal, STATUSES, type TaskRecord, type TaskStatus } from "./task.ts";

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

/** Most pending or running tasks {@linkcode listRecent} returns by default. */
export const RECENT_ACTIVE = 50;
/** Most finished tasks {@linkcode listRecent} returns by default. */
export const RECENT_FINISHED = 20;
/** The largest either bound may be. */
const RECENT_MAX = 200;

/** Bounds for {@linkcode listRecent}. */
export interface RecentOptions {
  /** The clock, epoch ms: finished tasks past their expiry are left out. */
  now: number;
  /** Most pending or running tasks; default {@linkcode RECENT_ACTIVE} (at most 200). */
  active?: number;
  /** Most finished tasks; default {@linkcode RECENT_FINISHED} (at most 200). */
  finished?: number;
}

/** Every owner's newest tasks. */
export interface RecentTasks {
  /** Pending and running tasks, newest first. */
  active: TaskRecord[];
  /** Completed, failed and cancelled tasks, most recently finished first. */
  finished: TaskRecord[];
}

/** The ids under `prefix` (the last key part), at most `limit`, in key order or reversed. */
async function idsUnder(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  options: { limit: number; reverse?: boolean },
): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of kv.list({ prefix }, options)) ids.push(String(entry.key.at(-1)));
  return ids;
}

/** The records of `ids` that still exist (getMany takes 10 keys at a time). */
async function records(kv: Deno.Kv, ids: string[]): Promise<TaskRecord[]> {
  const found: TaskRecord[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 10) {
    const entries = await kv.getMany<TaskRecord[]>(unique.slice(i, i + 10).map(taskKey));
    for (const entry of entries) if (entry.value) found.push(entry.value);
  }
  return found;
}

/**
 * Every owner's newest tasks, for the operator: at most `active` pending or
 * running ones (newest first) and `finished` finished ones (most recently
 * finished first). Reads only index entries, each range with a limit:
 * running tasks (`["running"]`), pending ones by deadline, newest first
 * (`["pending_expiry"]`; the queues themselves only when that gives fewer,
 * for tasks queued without a deadline), finished ones by expiry, newest
 * first (`["expiry"]`); then the records of those ids. So it costs at most
 * about `3 * active + finished` reads however many tasks the store holds.
 */
export async function listRecent(kv: Deno.Kv, options: RecentOptions): Promise<RecentTasks> {
  const bound = (n: number | undefined, fallback: number) =>
    Math.min(Math.max(Math.trunc(n ?? fallback), 0), RECENT_MAX);
  const active = bound(options.active, RECENT_ACTIVE);
  const finished = bound(options.finished, RECENT_FINISHED);
  const running = active ? await idsUnder(kv, RUNNING, { limit: active }) : [];
  const pending = active
    ? await idsUnder(kv, PENDING_EXPIRY, { limit: active, reverse: true })
    : [];
  if (pending.length < active) {
    pending.push(...await idsUnder(kv, QUEUE, { limit: active }));
  }
  const done = finished ? await idsUnder(kv, EXPIRY, { limit: finished, reverse: true }) : [];
  const live = (await records(kv, [...running, ...pending]))
    .filter((t) => !isTerminal(t.status))
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    .slice(0, active);
  const ended = (await records(kv, done))
    .filter((t) => isTerminal(t.status) && (t.expiresAt === null || t.expiresAt > options.now))
    .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0) || (a.id < b.id ? 1 : -1))
    .slice(0, finished);
  return { active: live, finished: ended };
}
