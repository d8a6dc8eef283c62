/**
 * The durable task store on Deno KV: one class, {@linkcode TaskStore},
 * whose methods are safe to call from many processes on one KV.
 *
 * Every status change is one atomic commit checked against the task's
 * versionstamp, so two runners (processes, isolates) can never both claim or
 * finish one task, and a terminal task never changes again. The same commit
 * moves the queue entries, the quota counters and the slot counters, so
 * they cannot drift from the tasks.
 *
 * Limits (all in KV, so they hold across processes and replicas):
 *
 * - **Slots**: a claim reads `["slots", instance]` (and `["slots_total"]`
 *   when a global limit is set), skips an instance at its limit, and
 *   otherwise commits the task as running together with both increments,
 *   checked against the versionstamps it read: two runners cannot both take
 *   an instance's last slot. The task records that it holds a slot
 *   (`holdsSlot`), and the commit that moves it out of running (complete,
 *   fail, cancel, release, lease recovery) gives the slot back, so a killed
 *   runner's slots return by the lease rule. Limits are passed to each
 *   claim: the counters are shared, the numbers are the claimer's config.
 * - **Claim cost**: an instance at its limit costs one counter read; a
 *   claim visits the instances with queued work round-robin (after the one
 *   this store served last), then the principals queued on that instance
 *   round-robin, and takes the first task of that principal's queue. So a
 *   claim costs O(instances), never a walk past tasks it cannot run.
 * - **Quota**: a submit reads `["count", owner, "pending"]` and
 *   `["pending_bytes", owner]`, refuses with `quota_exceeded` past
 *   `maxPending` / `maxPendingBytes`, and otherwise commits the task together
 *   with both increments, checked against the versionstamps it read: two
 *   concurrent submits cannot both take the last slot. The counters come
 *   down in the commit that moves a task out of pending (claim, cancel,
 *   expiry) and go back up if it returns (release, lease recovery).
 * - **Fairness**: priority orders tasks only within a principal (on one
 *   instance). Instances, and the principals on each, take turns, so one
 *   principal's thousand queued tasks delay another's task by at most one
 *   turn per claim, and a full instance never delays another.
 * - **Pending expiry**: a task still pending `pendingTtlMs` after it was
 *   queued fails with `task_expired` (by {@linkcode TaskStore.expirePending}
 *   over the deadline index, and by the claim loop if it meets one first).
 *   A task that returns to pending after it started (release, lease
 *   recovery) is queued again with a fresh deadline.
 *
 * Queue entries of earlier layouts (`["pending", ...]`,
 * `["pending_owners", ...]`) are moved by {@linkcode TaskStore.migratePending},
 * which the runner calls about once a second (one empty range read once
 * nothing is left).
 *
 * The work is done in modules of one job each, which this class ties
 * together: `keys.ts` (the key layout), `transition.ts` (the checked commit
 * of a change), `submit.ts` and `quota.ts`, `claim.ts` with `queue.ts` and
 * `slots.ts`, `chunks.ts`, `expiry.ts`, `lease.ts`, `sweep.ts`,
 * `listing.ts` and `migrate.ts`.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import {
  chunk,
  CHUNKS_PER_COMMIT,
  type PartialTail,
  readHead,
  readPartial,
  readPartialTail,
  readText,
  savePartial,
  setChunks,
  writeChunks,
} from "./chunks.ts";
import { Claimer, type ClaimOptions } from "./claim.ts";
import { expirePending } from "./expiry.ts";
import { recoverExpired } from "./lease.ts";
import {
  countAllTasks,
  countTasks,
  type ListOptions,
  listRecent,
  listTasks,
  type RecentOptions,
  type RecentTasks,
  type TaskPage,
} from "./listing.ts";
import { taskKey, waitingKey } from "./keys.ts";
import type { Approval } from "../gateway/approvals.ts";
import { migratePending } from "./migrate.ts";
import { position } from "./queue.ts";
import { type Submission, submitTask } from "./submit.ts";
import { sweep } from "./sweep.ts";
import {
  type Claim,
  isTerminal,
  notFound,
  type TaskError,
  type TaskRecord,
  type TaskResultMeta,
  type TaskStatus,
} from "./task.ts";
import {
  commitTransition,
  finish,
  readTask,
  requeue,
  type StoreContext,
  type Transition,
} from "./transition.ts";

export { CHUNK_CHARS, type PartialTail } from "./chunks.ts";
export type { ClaimOptions } from "./claim.ts";
export type { ListOptions, RecentOptions, RecentTasks, TaskPage } from "./listing.ts";
export type { Submission } from "./submit.ts";
export {
  checkTaskId,
  type Claim,
  isTerminal,
  MAX_ATTEMPTS,
  MAX_TASK_ID_CHARS,
  STATUSES,
  TASK_ID_PATTERN,
  type TaskError,
  type TaskRecord,
  type TaskResultMeta,
  type TaskStatus,
} from "./task.ts";

/** A waiting mark outlives its runner by at most this (the gateway's own approval timeout is shorter). */
export const WAITING_TTL_MS = 60 * 60 * 1000;

/** Most approvals a waiting mark keeps (the oldest; it stays one small KV value). */
export const MAX_WAITING = 10;

/** Store settings and effects. */
export interface TaskStoreOptions {
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Terminal tasks expire this long after finishing. Default 24 h. */
  ttlMs?: number;
  /** Id generator. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Most pending tasks per owner. Default unlimited (the bridge sets `OPENCLAW_TASK_MAX_PENDING`). */
  maxPending?: number;
  /**
   * Most UTF-8 message bytes in one owner's pending tasks. Default unlimited
   * (the bridge sets `OPENCLAW_TASK_MAX_PENDING_BYTES`).
   */
  maxPendingBytes?: number;
  /**
   * A task still pending this long after it was queued fails with
   * `task_expired`. Default never (the bridge sets `OPENCLAW_TASK_PENDING_TTL_MS`).
   */
  pendingTtlMs?: number;
}

/** The task store. All methods are safe to call from many processes on one KV. */
export class TaskStore {
  /** The KV the store reads and writes (shared with the runner's housekeeping). */
  readonly kv: Deno.Kv;
  #ctx: StoreContext;
  #newId: () => string;
  #maxPending: number;
  #maxPendingBytes: number;
  #claimer: Claimer;
  /** Submits of one owner in this process wait for each other (fewer KV conflicts). */
  #submitting = new Map<string, Promise<unknown>>();

  /** Wraps an open KV; the caller owns it and closes it after stopping the runner. */
  constructor(kv: Deno.Kv, options: TaskStoreOptions = {}) {
    this.kv = kv;
    this.#ctx = {
      kv,
      now: options.now ?? Date.now,
      ttlMs: options.ttlMs ?? 24 * 60 * 60 * 1000,
      pendingTtlMs: options.pendingTtlMs ?? Infinity,
    };
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#maxPending = options.maxPending ?? Infinity;
    this.#maxPendingBytes = options.maxPendingBytes ?? Infinity;
    this.#claimer = new Claimer(this.#ctx);
  }

  /**
   * Stores a new pending task, within the owner's quota.
   *
   * @throws {BridgeError} `quota_exceeded` when the owner already has
   *   `maxPending` pending tasks or the message would take the owner's pending
   *   bytes past `maxPendingBytes`.
   */
  submit(owner: string, submission: Submission): Promise<TaskRecord> {
    const previous = this.#submitting.get(owner) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() =>
      submitTask(this.#ctx, {
        id: this.#newId(),
        owner,
        submission,
        maxPending: this.#maxPending,
        maxPendingBytes: this.#maxPendingBytes,
      })
    );
    this.#submitting.set(owner, next);
    const cleanup = () => {
      if (this.#submitting.get(owner) === next) this.#submitting.delete(owner);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  /**
   * The task with its versionstamp, if it exists and has not expired.
   *
   * @throws {BridgeError} `invalid_argument` for an id that cannot be ours.
   */
  read(id: string): Promise<Claim | null> {
    return readTask(this.#ctx, id);
  }

  /**
   * The current versionstamp of each task, in order (`null` for one that is
   * gone): a runner compares them with its claims to notice, cheaply, a
   * task cancelled or a lease lost to another runner.
   */
  async versionstamps(ids: string[]): Promise<(string | null)[]> {
    const stamps: (string | null)[] = [];
    // getMany takes at most 10 keys.
    for (let i = 0; i < ids.length; i += 10) {
      const entries = await this.kv.getMany(ids.slice(i, i + 10).map(taskKey));
      for (const entry of entries) stamps.push(entry.versionstamp);
    }
    return stamps;
  }

  /**
   * The owner's task.
   *
   * @throws {BridgeError} `task_not_found` when absent, expired or another
   *   owner's; `invalid_argument` for an id that cannot be ours.
   */
  async get(owner: string, id: string): Promise<TaskRecord> {
    const found = await this.read(id);
    if (!found || found.task.owner !== owner) throw notFound(id);
    return found.task;
  }

  /** The task's message text. */
  message(task: TaskRecord): Promise<string> {
    return readText(this.kv, {
      id: task.id,
      kind: "message",
      attempt: 0,
      chunks: task.messageChunks,
    });
  }

  /** The completed task's reply text. */
  reply(task: TaskRecord): Promise<string> {
    if (!task.result) return Promise.resolve("");
    return readText(this.kv, {
      id: task.id,
      kind: "result",
      attempt: task.result.attempt,
      chunks: task.result.chunks,
    });
  }

  /** The reply so far of a running task's current attempt ("" if none yet). */
  partial(task: TaskRecord): Promise<string> {
    return readPartial(this.kv, task);
  }

  /**
   * The last `chars` characters of the reply so far (and its whole length),
   * reading only the chunks that hold them.
   */
  partialTail(task: TaskRecord, chars: number): Promise<PartialTail> {
    return readPartialTail(this.kv, task, chars);
  }

  /** The first `chars` characters of the task's message (one chunk read). */
  messageHead(task: TaskRecord, chars: number): Promise<string> {
    return readHead(this.kv, { id: task.id, kind: "message", attempt: 0 }, chars);
  }

  /** The first `chars` characters of the completed task's reply ("" without one). */
  replyHead(task: TaskRecord, chars: number): Promise<string> {
    if (!task.result) return Promise.resolve("");
    return readHead(this.kv, { id: task.id, kind: "result", attempt: task.result.attempt }, chars);
  }

  /**
   * Saves the reply so far. Only chunks from `options.fromChars` on are rewritten, so
   * frequent saves of a growing reply stay cheap.
   */
  savePartial(
    task: TaskRecord,
    text: string,
    options: { fromChars?: number } = {},
  ): Promise<void> {
    return savePartial(this.kv, task, { text, fromChars: options.fromChars });
  }

  /**
   * Records the approvals the running task's conversation waits on (set by
   * its runner as the gateway raises and resolves them; an empty list
   * clears). Kept at most {@linkcode WAITING_TTL_MS}, so a runner that dies
   * leaves nothing behind for long.
   */
  async setWaiting(task: TaskRecord, approvals: Approval[]): Promise<void> {
    const key = waitingKey(task.id);
    for (let tries = 0; tries < 3; tries++) {
      const found = await this.kv.get<{ attempt: number }>(key);
      // A later attempt's mark: this runner lost its lease and must not touch it.
      if (found.value && found.value.attempt > task.attempt) return;
      const op = this.kv.atomic().check(found);
      if (approvals.length === 0) op.delete(key);
      else {
        op.set(key, { attempt: task.attempt, approvals: approvals.slice(0, MAX_WAITING) }, {
          expireIn: WAITING_TTL_MS,
        });
      }
      if ((await op.commit()).ok) return;
    }
  }

  /** The approvals a running task waits on (none for any other status or attempt). */
  async waiting(task: TaskRecord): Promise<Approval[]> {
    if (task.status !== "running") return [];
    const entry = await this.kv.get<{ attempt: number; approvals: Approval[] }>(
      waitingKey(task.id),
    );
    if (!entry.value || entry.value.attempt !== task.attempt) return [];
    const now = Date.now();
    return entry.value.approvals.filter((a) => a.expiresAt === null || a.expiresAt > now);
  }

  /**
   * Queue position of a pending task among its owner's own pending tasks
   * on the same instance (0 = the owner's next there), or null when more
   * than 1,000 are ahead. Other principals' tasks are not counted: they are
   * served in turn, and their number is not the caller's business; tasks on
   * other instances do not wait for this one, nor it for them.
   */
  position(task: TaskRecord): Promise<number | null> {
    return position(this.kv, task);
  }

  /**
   * Claims a pending task and marks it running under a lease, taking a slot
   * of its instance. Instances with queued work are served round-robin,
   * starting after the one served last, skipping those `canRun` refuses and
   * those at their `instanceConcurrency` limit (one counter read each); on
   * an instance, its principals take turns the same way; within a
   * principal, higher priority first, then older first. Null when nothing
   * can run, or when `globalConcurrency` tasks already run. Tasks past their
   * pending deadline met on the way fail as expired.
   */
  claim(runner: string, leaseMs: number, options: ClaimOptions = {}): Promise<Claim | null> {
    return this.#claimer.claim(runner, leaseMs, options);
  }

  /**
   * Fails pending tasks past their deadline with `task_expired`, releasing
   * their quota; walks the deadline index only. Returns how many.
   */
  expirePending(limit = 500): Promise<number> {
    return expirePending(this.#ctx, limit);
  }

  /**
   * Moves queue entries of earlier layouts (`["pending", rank, createdAt,
   * id]`, then `["pending", owner, rank, createdAt, id]` with
   * `["pending_owners", owner]`) into the per-instance queues. Cheap when
   * nothing is left (one empty range read each), so runners call it
   * regularly: it also picks up tasks an older version queued meanwhile.
   * Returns how many tasks moved.
   */
  migratePending(): Promise<number> {
    return migratePending(this.#ctx);
  }

  /** Commits a change of a task checked against its versionstamp; true if it landed. */
  async #commit(change: Transition): Promise<boolean> {
    return await commitTransition(this.#ctx, change) !== null;
  }

  /** Extends the lease; null if the task changed under us (cancelled, or the lease was lost). */
  renew(claim: Claim, leaseMs: number): Promise<string | null> {
    const next = { ...claim.task, leaseUntil: this.#ctx.now() + leaseMs };
    return commitTransition(this.#ctx, {
      prev: claim.task,
      versionstamp: claim.versionstamp,
      next,
    });
  }

  /** Stores the reply and marks the task completed; false if the claim is stale. */
  async complete(
    claim: Claim,
    reply: string,
    meta: Omit<TaskResultMeta, "attempt" | "chunks" | "chars">,
  ): Promise<boolean> {
    const { task } = claim;
    const parts = chunk(reply);
    const at = { id: task.id, kind: "result" as const, attempt: task.attempt };
    // Large replies go in several commits first; only the final commit,
    // checked against the claim, makes them visible.
    const inline = parts.length <= CHUNKS_PER_COMMIT;
    if (!inline) await writeChunks(this.kv, at, parts);
    const next = finish(this.#ctx, task, {
      status: "completed",
      patch: {
        result: { ...meta, attempt: task.attempt, chunks: parts.length, chars: reply.length },
      },
    });
    return await this.#commit({
      prev: task,
      versionstamp: claim.versionstamp,
      next,
      extra: (op) => {
        if (inline) setChunks(op, at, { parts });
      },
    });
  }

  /** Marks the task failed; false if the claim is stale. */
  fail(claim: Claim, error: TaskError): Promise<boolean> {
    const next = finish(this.#ctx, claim.task, { status: "failed", patch: { error } });
    return this.#commit({ prev: claim.task, versionstamp: claim.versionstamp, next });
  }

  /**
   * Puts a running task back in the queue without counting the attempt
   * (graceful shutdown); false if the claim is stale.
   */
  release(claim: Claim): Promise<boolean> {
    const attempt = Math.max(0, claim.task.attempt - 1);
    const next = requeue(this.#ctx, claim.task, { attempt });
    return this.#commit({ prev: claim.task, versionstamp: claim.versionstamp, next });
  }

  /**
   * Cancels a pending or running task of `owner`. A running task's runner
   * sees the change and aborts its gateway request.
   *
   * @throws {BridgeError} `task_not_found`, or `task_finished` for a terminal task.
   */
  async cancel(owner: string, id: string): Promise<TaskRecord> {
    for (let i = 0; i < 20; i++) {
      const found = await this.read(id);
      if (!found || found.task.owner !== owner) throw notFound(id);
      if (isTerminal(found.task.status)) {
        throw new BridgeError(
          "task_finished",
          `Task "${id}" already ${found.task.status}; there is nothing to cancel.`,
          "Use openclaw_task_status to read its outcome.",
        );
      }
      const next = finish(this.#ctx, found.task, {
        status: "cancelled",
        patch: { error: { code: "cancelled", message: "The task was cancelled.", hint: "" } },
      });
      if (await this.#commit({ prev: found.task, versionstamp: found.versionstamp, next })) {
        return next;
      }
    }
    throw new BridgeError("internal", `Task "${id}" kept changing; cancel again.`, "");
  }

  /**
   * Applies the lease rule to running tasks whose lease has run out (their
   * runner died): back to pending if fewer than {@linkcode MAX_ATTEMPTS}
   * attempts were made, else failed with `interrupted`. Returns how many.
   */
  recoverExpired(): Promise<number> {
    return recoverExpired(this.#ctx);
  }

  /** Deletes terminal tasks past their expiry, with their chunks. Returns how many. */
  sweep(limit = 500): Promise<number> {
    return sweep(this.kv, { now: this.#ctx.now(), limit });
  }

  /** Counts of the owner's tasks by status. */
  counts(owner: string): Promise<Record<TaskStatus, number>> {
    return countTasks(this.kv, owner);
  }

  /**
   * Counts of every owner's tasks by status (finished ones until swept),
   * across every process on the KV: what `/metrics` reports.
   */
  countAll(): Promise<Record<TaskStatus, number>> {
    return countAllTasks(this.kv);
  }

  /**
   * Every owner's newest tasks, for the operator page: at most
   * `options.active` pending or running and `options.finished` finished,
   * each read through the store's indexes with a bound (never a scan of
   * all tasks). Not for callers: owners see only their own through
   * {@linkcode TaskStore.list}.
   */
  recent(options: Omit<RecentOptions, "now"> = {}): Promise<RecentTasks> {
    return listRecent(this.kv, { ...options, now: this.#ctx.now() });
  }

  /**
   * The owner's tasks, newest first, filtered, one page at a time.
   *
   * @throws {BridgeError} `invalid_argument` for a cursor that is not ours.
   */
  list(owner: string, options: ListOptions = {}): Promise<TaskPage> {
    return listTasks(this.kv, { ...options, owner, now: this.#ctx.now() });
  }
}
