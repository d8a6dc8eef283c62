/**
 * The durable task store on Deno KV.
 *
 * Key layout:
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
 * ```
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
 * @module
 */
import { BridgeError, type ErrorBody } from "../errors.ts";
import type { Usage } from "../gateway/reply.ts";
import { retryBusy } from "./kv_retry.ts";

/** A task's lifecycle state. */
export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

/** All statuses, in lifecycle order. */
export const STATUSES: readonly TaskStatus[] = [
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
];

/** A finished task's error, e.g. `gateway_timeout` or `interrupted`: the one error body. */
export type TaskError = ErrorBody;

/** Metadata of a completed task's reply (the text is chunked apart). */
export interface TaskResultMeta {
  /** Attempt whose chunks hold the reply. */
  attempt: number;
  /** Number of chunks. */
  chunks: number;
  /** Reply length in characters. */
  chars: number;
  /** Model that answered. */
  model: string;
  /** Token usage, when reported. */
  usage: Usage | null;
  /** Why generation stopped. */
  finishReason: string | null;
}

/** The stored task (without message or reply text). */
export interface TaskRecord {
  /** Task id. */
  id: string;
  /** Who may see it. */
  owner: string;
  /** Lifecycle state. */
  status: TaskStatus;
  /** Gateway instance name. */
  instance: string;
  /** Conversation key. */
  sessionId: string | null;
  /** Agent id. */
  agent: string | null;
  /** −100..100, higher runs first. */
  priority: number;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the current attempt's start. */
  startedAt: number | null;
  /** Epoch ms. */
  finishedAt: number | null;
  /** Epoch ms of the last change. */
  updatedAt: number;
  /** Attempts started so far. */
  attempt: number;
  /** Runner holding the lease. */
  runner: string | null;
  /** Lease end, epoch ms. */
  leaseUntil: number | null;
  /** Message chunks. */
  messageChunks: number;
  /** Set when completed. */
  result: TaskResultMeta | null;
  /** Set when failed or cancelled. */
  error: TaskError | null;
  /** Terminal tasks vanish after this, epoch ms. */
  expiresAt: number | null;
  /** How it was created: a tool call or an MCP-native task. */
  origin: "tool" | "mcp";
  /** UTF-8 bytes of the message (counted in the byte quota); absent on older tasks. */
  messageBytes?: number;
  /** A pending task fails as expired at this time, epoch ms; null or absent: never. */
  pendingUntil?: number | null;
  /**
   * Set by the claim that counted this run in the instance's slot counter;
   * the commit that ends the run gives the slot back. Absent on tasks
   * claimed before slots were shared (they never took one).
   */
  holdsSlot?: boolean;
}

/** What a submission carries. */
export interface Submission {
  /** The message. */
  message: string;
  /** Gateway instance. */
  instance: string;
  /** Conversation key. */
  sessionId?: string | null;
  /** Agent id. */
  agent?: string | null;
  /** −100..100. */
  priority?: number;
  /** How it was created. */
  origin?: "tool" | "mcp";
}

/** Filters for {@linkcode TaskStore.list}. */
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

/** What {@linkcode TaskStore.claim} may take. */
export interface ClaimOptions {
  /** Instances this process will run (checked before any read). Default all. */
  canRun?: (instance: string) => boolean;
  /**
   * Most tasks running at once per instance (name → limit), counted across
   * every runner on this KV. Instances not named are unlimited.
   */
  instanceConcurrency?: Record<string, number>;
  /** Most tasks running at once on all instances, across every runner on this KV. Default unlimited. */
  globalConcurrency?: number;
}

/** A claimed task and the versionstamp its runner must present. */
export interface Claim {
  /** The task as claimed. */
  task: TaskRecord;
  /** Versionstamp of the task record. */
  versionstamp: string;
}

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

/** Characters per stored chunk: two-byte strings stay under KV's 64 KiB value cap. */
export const CHUNK_CHARS = 30_000;
/** Chunks written per atomic commit (KV caps a commit at 800 KiB). */
const CHUNKS_PER_COMMIT = 10;
/** A task is run at most this many times (a retry after an interrupted run). */
export const MAX_ATTEMPTS = 2;
/** Longest task id accepted anywhere (ours are UUIDs). */
export const MAX_TASK_ID_CHARS = 128;
/** Characters a task id may hold. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
const MINUS_ONE = 0xFFFFFFFFFFFFFFFFn;
const U64 = 1n << 64n;
/** Queue entries looked at per principal and instance in one claim. */
const SCAN_PER_OWNER = 64;
/** Retries of a claim that lost a slot counter race before moving on. */
const SLOT_ATTEMPTS = 20;
/** Optimistic retries of a quota-checked submit before giving up. */
const SUBMIT_ATTEMPTS = 100;

/** True for completed, failed and cancelled. */
export function isTerminal(status: TaskStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

function chunk(text: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK_CHARS) parts.push(text.slice(i, i + CHUNK_CHARS));
  return parts;
}

const ownerKey = (t: TaskRecord): Deno.KvKey => ["owner", t.owner, t.createdAt, t.id];
const queueKey = (t: TaskRecord): Deno.KvKey => [
  "queue",
  t.instance,
  t.owner,
  100 - t.priority,
  t.createdAt,
  t.id,
];
const slotsKey = (instance: string): Deno.KvKey => ["slots", instance];
const SLOTS_TOTAL: Deno.KvKey = ["slots_total"];
const pendingCountKey = (owner: string): Deno.KvKey => ["count", owner, "pending"];
const pendingBytesKey = (owner: string): Deno.KvKey => ["pending_bytes", owner];

/** A KvU64 counter as a number; a value that wrapped below zero reads as 0. */
function counter(entry: Deno.KvEntryMaybe<Deno.KvU64>): number {
  const value = entry.value?.value ?? 0n;
  return value >= 1n << 63n ? 0 : Number(value);
}

/** Whether two KV keys are equal part by part. */
function sameKey(a: Deno.KvKey, b: Deno.KvKey): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/** The slot counters a claim read: the instance's and the total, with versionstamps. */
interface Slots {
  instance: Deno.KvEntryMaybe<Deno.KvU64>;
  total: Deno.KvEntryMaybe<Deno.KvU64>;
}

/** A claim's settings, resolved. */
interface ClaimWith {
  runner: string;
  leaseMs: number;
  limit: number;
  global: number;
}

/** Adds `delta` (may be negative) to a KvU64 counter in `op`; KV sums wrap modulo 2^64. */
function add(op: Deno.AtomicOperation, key: Deno.KvKey, delta: number): void {
  if (delta === 0) return;
  op.sum(key, delta > 0 ? BigInt(delta) : U64 + BigInt(delta));
}

/** UTF-8 length of `text` without encoding it. */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Refuses a task id that is not one of ours before it reaches KV (a huge
 * key fails inside KV with an internal error).
 *
 * @throws {BridgeError} `invalid_argument`.
 */
export function checkTaskId(id: string): void {
  if (typeof id === "string" && id.length <= MAX_TASK_ID_CHARS && TASK_ID_PATTERN.test(id)) {
    return;
  }
  throw new BridgeError(
    "invalid_argument",
    `task_id is not a valid task id (1 to ${MAX_TASK_ID_CHARS} characters: letters, digits, '-' and '_').`,
    "Pass a task_id returned by openclaw_chat_async or a task-augmented openclaw_chat.",
  );
}

function notFound(id: string): BridgeError {
  return new BridgeError(
    "task_not_found",
    `No task with id "${id}" exists for you (it may have expired).`,
    "Use openclaw_task_list to see your tasks.",
  );
}

/** The task store. All methods are safe to call from many processes on one KV. */
export class TaskStore {
  /** The KV handle. */
  readonly kv: Deno.Kv;
  #now: () => number;
  #ttlMs: number;
  #newId: () => string;
  #maxPending: number;
  #maxPendingBytes: number;
  #pendingTtlMs: number;
  /** The instance served by the last claim: the round-robin goes on after it. */
  #lastInstance: string | undefined;
  /** Per instance, the principal served last there. */
  #lastOwner = new Map<string, string>();
  /** Submits of one owner in this process wait for each other (fewer KV conflicts). */
  #submitting = new Map<string, Promise<unknown>>();

  /** Wraps an open KV. */
  constructor(kv: Deno.Kv, options: TaskStoreOptions = {}) {
    this.kv = kv;
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#maxPending = options.maxPending ?? Infinity;
    this.#maxPendingBytes = options.maxPendingBytes ?? Infinity;
    this.#pendingTtlMs = options.pendingTtlMs ?? Infinity;
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
    const next = previous.catch(() => {}).then(() => this.#submit(owner, submission));
    this.#submitting.set(owner, next);
    const cleanup = () => {
      if (this.#submitting.get(owner) === next) this.#submitting.delete(owner);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  async #submit(owner: string, submission: Submission): Promise<TaskRecord> {
    const parts = chunk(submission.message);
    const messageBytes = utf8Bytes(submission.message);
    const id = this.#newId();
    for (let attempt = 0; attempt < SUBMIT_ATTEMPTS; attempt++) {
      const [count, bytes] = await retryBusy(() =>
        this.kv.getMany<[Deno.KvU64, Deno.KvU64]>([pendingCountKey(owner), pendingBytesKey(owner)])
      );
      this.#checkQuota(counter(count), counter(bytes), messageBytes);
      const now = this.#now();
      const task: TaskRecord = {
        id,
        owner,
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
        messageChunks: parts.length,
        result: null,
        error: null,
        expiresAt: null,
        origin: submission.origin ?? "tool",
        messageBytes,
        pendingUntil: this.#pendingDeadline(now),
      };
      // The quota check and the increment in one commit: it fails if any
      // other change to the owner's pending tasks landed since the read.
      // A message is at most 100,000 characters: 4 chunks, well inside one commit.
      const op = this.kv.atomic()
        .check({ key: ["task", task.id], versionstamp: null })
        .check(count)
        .check(bytes)
        .set(["task", task.id], task)
        .set(ownerKey(task), task)
        .sum(pendingCountKey(owner), 1n);
      this.#enqueue(op, task);
      add(op, pendingBytesKey(owner), messageBytes);
      if (task.pendingUntil !== null) {
        op.set(["pending_expiry", task.pendingUntil!, task.id], task.id);
      }
      parts.forEach((part, i) => op.set(["chunk", task.id, "message", 0, i], part));
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

  /**
   * The pending deadline of a task queued (or queued again) at `now`. A task
   * that goes back to pending after running (release at shutdown, lease
   * recovery) gets a fresh one: keeping the first would fail it as
   * `task_expired` at once if it ran longer than the pending TTL.
   */
  #pendingDeadline(now: number): number | null {
    return Number.isFinite(this.#pendingTtlMs) ? now + this.#pendingTtlMs : null;
  }

  /**
   * Puts `task` in its instance's queue in `op`, and marks the instance and
   * the principal there as having work. Every move into pending rewrites
   * both marks, so a claim's checked delete of a mark it found empty fails
   * when a task arrived meanwhile.
   */
  #enqueue(op: Deno.AtomicOperation, task: TaskRecord): void {
    const now = this.#now();
    op.set(queueKey(task), task.id)
      .set(["queue_owners", task.instance, task.owner], now)
      .set(["queue_instances", task.instance], now);
  }

  #checkQuota(pending: number, pendingBytes: number, messageBytes: number): void {
    if (pending + 1 > this.#maxPending) {
      throw new BridgeError(
        "quota_exceeded",
        `You already have ${pending} tasks waiting to run; the limit is ${this.#maxPending} pending tasks per caller (OPENCLAW_TASK_MAX_PENDING).`,
        "Wait for some to start or finish, or cancel some with openclaw_task_cancel (openclaw_task_list with status pending shows them); the operator can raise OPENCLAW_TASK_MAX_PENDING.",
      );
    }
    if (pendingBytes + messageBytes > this.#maxPendingBytes) {
      throw new BridgeError(
        "quota_exceeded",
        `This message (${messageBytes} bytes) and your ${pending} waiting tasks (${pendingBytes} bytes) would exceed the limit of ${this.#maxPendingBytes} bytes of pending messages per caller (OPENCLAW_TASK_MAX_PENDING_BYTES).`,
        "Wait for some tasks to start or finish, cancel some, or send a shorter message; the operator can raise OPENCLAW_TASK_MAX_PENDING_BYTES.",
      );
    }
  }

  /**
   * The task with its versionstamp, if it exists and has not expired.
   *
   * @throws {BridgeError} `invalid_argument` for an id that cannot be ours.
   */
  async read(id: string): Promise<Claim | null> {
    checkTaskId(id);
    const entry = await retryBusy(() => this.kv.get<TaskRecord>(["task", id]));
    if (!entry.value || !entry.versionstamp) return null;
    if (entry.value.expiresAt !== null && entry.value.expiresAt <= this.#now()) return null;
    return { task: entry.value, versionstamp: entry.versionstamp };
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
      const entries = await this.kv.getMany(ids.slice(i, i + 10).map((id) => ["task", id]));
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

  async #text(id: string, kind: string, attempt: number, chunks: number): Promise<string> {
    const parts: string[] = [];
    const iter = this.kv.list<string>({ prefix: ["chunk", id, kind, attempt] });
    for await (const entry of iter) parts[entry.key[4] as number] = entry.value;
    if (parts.length < chunks || parts.some((p) => p === undefined)) {
      throw new BridgeError("internal", `Stored ${kind} of task ${id} is incomplete.`, "");
    }
    return parts.join("");
  }

  /** The task's message text. */
  message(task: TaskRecord): Promise<string> {
    return this.#text(task.id, "message", 0, task.messageChunks);
  }

  /** The completed task's reply text. */
  reply(task: TaskRecord): Promise<string> {
    if (!task.result) return Promise.resolve("");
    return this.#text(task.id, "result", task.result.attempt, task.result.chunks);
  }

  /** The reply so far of a running task's current attempt ("" if none yet). */
  async partial(task: TaskRecord): Promise<string> {
    const meta = await this.kv.get<{ attempt: number; chunks: number }>(["partial", task.id]);
    if (!meta.value || meta.value.attempt !== task.attempt) return "";
    return await this.#text(task.id, "partial", task.attempt, meta.value.chunks).catch(() => "");
  }

  /**
   * Saves the reply so far. Only chunks from `options.fromChars` on are rewritten, so
   * frequent saves of a growing reply stay cheap.
   */
  async savePartial(
    task: TaskRecord,
    text: string,
    options: { fromChars?: number } = {},
  ): Promise<void> {
    const fromChars = options.fromChars ?? 0;
    const first = Math.floor(fromChars / CHUNK_CHARS);
    const parts = chunk(text);
    for (let i = first; i < parts.length; i += CHUNKS_PER_COMMIT) {
      const op = this.kv.atomic();
      for (let j = i; j < Math.min(i + CHUNKS_PER_COMMIT, parts.length); j++) {
        op.set(["chunk", task.id, "partial", task.attempt, j], parts[j]);
      }
      if (i + CHUNKS_PER_COMMIT >= parts.length) {
        op.set(["partial", task.id], { attempt: task.attempt, chunks: parts.length });
      }
      await retryBusy(() => op.commit());
    }
  }

  /**
   * Queue position of a pending task among its owner's own pending tasks
   * on the same instance (0 = the owner's next there), or null when more
   * than 1,000 are ahead. Other principals' tasks are not counted: they are
   * served in turn, and their number is not the caller's business; tasks on
   * other instances do not wait for this one, nor it for them.
   */
  async position(task: TaskRecord): Promise<number | null> {
    if (task.status !== "pending") return null;
    let ahead = 0;
    const start = ["queue", task.instance, task.owner];
    const iter = this.kv.list({ start, end: queueKey(task) }, { limit: 1_001 });
    for await (const _ of iter) ahead++;
    return ahead > 1_000 ? null : ahead;
  }

  /**
   * Commits `next` in place of `prev` if the task is unchanged since it was
   * read; keeps indexes and counts in step. Returns the new versionstamp, or
   * null if another writer got there first.
   */
  async #commit(
    prev: TaskRecord,
    versionstamp: string,
    next: TaskRecord,
    extra?: (op: Deno.AtomicOperation) => void,
  ): Promise<string | null> {
    if (isTerminal(prev.status)) return null;
    const op = this.kv.atomic()
      .check({ key: ["task", prev.id], versionstamp })
      .set(["task", next.id], next)
      .set(ownerKey(next), next);
    if (prev.status !== next.status) {
      if (prev.status === "pending") {
        op.delete(queueKey(prev));
        if (prev.pendingUntil != null) op.delete(["pending_expiry", prev.pendingUntil, prev.id]);
        add(op, pendingBytesKey(prev.owner), -(prev.messageBytes ?? 0));
      }
      if (prev.status === "running") {
        op.delete(["running", prev.id]);
        if (prev.holdsSlot) {
          add(op, slotsKey(prev.instance), -1);
          add(op, SLOTS_TOTAL, -1);
        }
      }
      if (next.status === "pending") {
        this.#enqueue(op, next);
        if (next.pendingUntil != null) {
          op.set(["pending_expiry", next.pendingUntil, next.id], next.id);
        }
        add(op, pendingBytesKey(next.owner), next.messageBytes ?? 0);
      }
      if (next.status === "running") op.set(["running", next.id], next.id);
      if (next.expiresAt !== null) op.set(["expiry", next.expiresAt, next.id], next.id);
      op.sum(["count", prev.owner, prev.status], MINUS_ONE);
      op.sum(["count", next.owner, next.status], 1n);
    }
    extra?.(op);
    const result = await retryBusy(() => op.commit());
    return result.ok ? result.versionstamp : null;
  }

  #finished(task: TaskRecord, status: TaskStatus, patch: Partial<TaskRecord>): TaskRecord {
    const now = this.#now();
    return {
      ...task,
      ...patch,
      status,
      finishedAt: now,
      updatedAt: now,
      runner: null,
      leaseUntil: null,
      holdsSlot: false,
      expiresAt: now + this.#ttlMs,
    };
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
  async claim(runner: string, leaseMs: number, options: ClaimOptions = {}): Promise<Claim | null> {
    const canRun = options.canRun ?? (() => true);
    const limits = options.instanceConcurrency ?? {};
    const global = options.globalConcurrency ?? Infinity;
    if (Number.isFinite(global)) {
      const total = await retryBusy(() => this.kv.get<Deno.KvU64>(SLOTS_TOTAL));
      if (counter(total) >= global) return null;
    }
    for await (const entry of this.#turns(["queue_instances"], this.#lastInstance)) {
      const instance = entry.key[1] as string;
      if (!canRun(instance)) continue;
      const limit = limits[instance] ?? Infinity;
      const claim = await this.#claimOn(instance, entry.versionstamp, {
        runner,
        leaseMs,
        limit,
        global,
      });
      if (claim === "global") return null;
      if (claim !== null && claim !== "full") {
        this.#lastInstance = instance;
        return claim;
      }
    }
    return null;
  }

  /** Entries under `prefix` (keys one part longer), from after `last` round to it. */
  async *#turns(
    prefix: Deno.KvKey,
    last: string | undefined,
  ): AsyncGenerator<Deno.KvEntry<number>> {
    const passes: Deno.KvListSelector[] = last === undefined ? [{ prefix }] : [
      { prefix, start: [...prefix, last + "\0"] },
      { prefix, end: [...prefix, last + "\0"] },
    ];
    for (const selector of passes) yield* this.kv.list<number>(selector, { batchSize: 100 });
  }

  /** Both slot counters, in one read. */
  async #slots(instance: string): Promise<Slots> {
    const [own, total] = await retryBusy(() =>
      this.kv.getMany<[Deno.KvU64, Deno.KvU64]>([slotsKey(instance), SLOTS_TOTAL])
    );
    return { instance: own, total };
  }

  /**
   * Claims on one instance: its principals in turn. "full" when the instance
   * is at its limit, "global" at the global one; drops the instance's mark
   * when no principal has work left there.
   */
  async #claimOn(
    instance: string,
    instanceVersionstamp: string,
    o: ClaimWith,
  ): Promise<Claim | "full" | "global" | null> {
    const slots = await this.#slots(instance);
    if (counter(slots.instance) >= o.limit) return "full";
    let owners = 0, empty = 0;
    const queued = this.#turns(["queue_owners", instance], this.#lastOwner.get(instance));
    for await (const entry of queued) {
      owners++;
      const owner = entry.key[2] as string;
      const claim = await this.#claimFrom(instance, owner, entry.versionstamp, slots, o);
      if (claim === "empty") empty++;
      else if (claim !== null) {
        if (typeof claim === "string") return claim;
        this.#lastOwner.set(instance, owner);
        // The principal's last task here: drop the instance's mark too if no one else queued.
        if (claim.drained && !(await this.#anyQueued(instance))) {
          await this.#dropMark(["queue_instances", instance], instanceVersionstamp);
        }
        return claim.claim;
      }
    }
    if (owners === empty) {
      this.#lastOwner.delete(instance);
      await this.#dropMark(["queue_instances", instance], instanceVersionstamp);
    }
    return null;
  }

  async #anyQueued(instance: string): Promise<boolean> {
    for await (const _ of this.kv.list({ prefix: ["queue_owners", instance] }, { limit: 1 })) {
      return true;
    }
    return false;
  }

  /**
   * Deletes a queue mark unless it changed since it was read: every move
   * into pending rewrites the marks, so this fails if a task arrived.
   */
  async #dropMark(key: Deno.KvKey, versionstamp: string): Promise<boolean> {
    const result = await retryBusy(() =>
      this.kv.atomic().check({ key, versionstamp }).delete(key).commit()
    );
    return result.ok;
  }

  /**
   * Claims the principal's first runnable task on the instance, taking a
   * slot; "empty" after dropping the principal's mark when nothing is left.
   * `slots` is refreshed when a commit loses a race for a counter.
   */
  async #claimFrom(
    instance: string,
    owner: string,
    ownerVersionstamp: string,
    slots: Slots,
    o: ClaimWith,
  ): Promise<{ claim: Claim; drained: boolean } | "full" | "global" | "empty" | null> {
    const entries: Deno.KvEntry<string>[] = [];
    const iter = this.kv.list<string>({ prefix: ["queue", instance, owner] }, {
      limit: SCAN_PER_OWNER,
    });
    for await (const entry of iter) entries.push(entry);
    let left = entries.length;
    for (const entry of entries) {
      const found = await this.read(entry.value).catch(() => null);
      if (!found || found.task.status !== "pending" || !sameKey(queueKey(found.task), entry.key)) {
        // Left behind by a writer of an older layout: drop it.
        await retryBusy(() => this.kv.atomic().check(entry).delete(entry.key).commit());
        left--;
        continue;
      }
      if (found.task.pendingUntil != null && found.task.pendingUntil <= this.#now()) {
        if (await this.#expire(found)) left--;
        continue;
      }
      for (let attempt = 0; attempt < SLOT_ATTEMPTS; attempt++) {
        if (counter(slots.instance) >= o.limit) return "full";
        if (counter(slots.total) >= o.global) return "global";
        const now = this.#now();
        const next: TaskRecord = {
          ...found.task,
          status: "running",
          attempt: found.task.attempt + 1,
          startedAt: now,
          updatedAt: now,
          runner: o.runner,
          leaseUntil: now + o.leaseMs,
          holdsSlot: true,
        };
        const versionstamp = await this.#commit(found.task, found.versionstamp, next, (op) => {
          // The counters are checked only where a limit reads them: an
          // unlimited claim never waits for another's.
          if (Number.isFinite(o.limit)) op.check(slots.instance);
          if (Number.isFinite(o.global)) op.check(slots.total);
          op.sum(slotsKey(instance), 1n).sum(SLOTS_TOTAL, 1n);
        });
        if (versionstamp) {
          // The last task queued: drop the mark now rather than at the next claim.
          const drained = left === 1 && entries.length < SCAN_PER_OWNER &&
            await this.#dropMark(["queue_owners", instance, owner], ownerVersionstamp);
          return { claim: { task: next, versionstamp }, drained };
        }
        // Lost a race: for the task (claimed, cancelled elsewhere) or for a slot.
        const latest = await this.read(found.task.id);
        if (latest?.versionstamp !== found.versionstamp) {
          if (latest?.task.status !== "pending") left--;
          break;
        }
        Object.assign(slots, await this.#slots(instance));
      }
    }
    if (left > 0 || entries.length === SCAN_PER_OWNER) return null;
    return await this.#dropMark(["queue_owners", instance, owner], ownerVersionstamp)
      ? "empty"
      : null;
  }

  /** Fails a pending task that waited past its deadline; false if it changed meanwhile. */
  async #expire(found: Claim): Promise<boolean> {
    const waited = Math.round((this.#now() - found.task.createdAt) / 1000);
    const next = this.#finished(found.task, "failed", {
      error: {
        code: "task_expired",
        message:
          `The task waited ${waited} s in the queue without being run and expired (OPENCLAW_TASK_PENDING_TTL_MS).`,
        hint:
          "Submit it again when the queue is shorter; the operator can raise OPENCLAW_TASK_PENDING_TTL_MS or the task concurrency.",
      },
    });
    return await this.#commit(found.task, found.versionstamp, next) !== null;
  }

  /**
   * Fails pending tasks past their deadline with `task_expired`, releasing
   * their quota; walks the deadline index only. Returns how many.
   */
  async expirePending(limit = 500): Promise<number> {
    let expired = 0;
    const now = this.#now();
    const iter = this.kv.list<string>({
      start: ["pending_expiry"],
      end: ["pending_expiry", now + 1],
    }, { limit });
    for await (const entry of iter) {
      const found = await this.read(entry.value).catch(() => null);
      const deadline = entry.key[1] as number;
      if (found?.task.status === "pending" && found.task.pendingUntil === deadline) {
        if (await this.#expire(found)) expired++;
      } else {
        // Left behind (should not happen: moves out of pending delete it).
        await retryBusy(() =>
          this.kv.atomic().check({ key: entry.key, versionstamp: entry.versionstamp })
            .delete(entry.key).commit()
        );
      }
    }
    return expired;
  }

  /**
   * Moves queue entries of earlier layouts (`["pending", rank, createdAt,
   * id]`, then `["pending", owner, rank, createdAt, id]` with
   * `["pending_owners", owner]`) into the per-instance queues. Cheap when
   * nothing is left (one empty range read each), so runners call it
   * regularly: it also picks up tasks an older version queued meanwhile.
   * Returns how many tasks moved.
   */
  async migratePending(): Promise<number> {
    let moved = 0;
    for await (const entry of this.kv.list<string>({ prefix: ["pending"] })) {
      const id = entry.value;
      const found = typeof id === "string" ? await this.read(id).catch(() => null) : null;
      const op = this.kv.atomic().check(entry).delete(entry.key);
      const pending = found?.task.status === "pending";
      if (pending) {
        op.check({ key: ["task", found.task.id], versionstamp: found.versionstamp });
        this.#enqueue(op, found.task);
      }
      if ((await retryBusy(() => op.commit())).ok && pending) moved++;
    }
    for await (const entry of this.kv.list({ prefix: ["pending_owners"] })) {
      await retryBusy(() => this.kv.atomic().check(entry).delete(entry.key).commit());
    }
    return moved;
  }

  /** Extends the lease; null if the task changed under us (cancelled, or the lease was lost). */
  renew(claim: Claim, leaseMs: number): Promise<string | null> {
    const next = { ...claim.task, leaseUntil: this.#now() + leaseMs };
    return this.#commit(claim.task, claim.versionstamp, next);
  }

  /** Stores the reply and marks the task completed; false if the claim is stale. */
  async complete(
    claim: Claim,
    reply: string,
    meta: Omit<TaskResultMeta, "attempt" | "chunks" | "chars">,
  ): Promise<boolean> {
    const { task } = claim;
    const parts = chunk(reply);
    // Large replies go in several commits first; only the final commit,
    // checked against the claim, makes them visible.
    const inline = parts.length <= CHUNKS_PER_COMMIT;
    if (!inline) {
      for (let i = 0; i < parts.length; i += CHUNKS_PER_COMMIT) {
        const op = this.kv.atomic();
        parts.slice(i, i + CHUNKS_PER_COMMIT).forEach((part, j) =>
          op.set(["chunk", task.id, "result", task.attempt, i + j], part)
        );
        await retryBusy(() => op.commit());
      }
    }
    const next = this.#finished(task, "completed", {
      result: { ...meta, attempt: task.attempt, chunks: parts.length, chars: reply.length },
    });
    const ok = await this.#commit(task, claim.versionstamp, next, (op) => {
      if (inline) {
        parts.forEach((part, i) => op.set(["chunk", task.id, "result", task.attempt, i], part));
      }
    });
    return ok !== null;
  }

  /** Marks the task failed; false if the claim is stale. */
  async fail(claim: Claim, error: TaskError): Promise<boolean> {
    return await this.#commit(
      claim.task,
      claim.versionstamp,
      this.#finished(claim.task, "failed", { error }),
    ) !== null;
  }

  /**
   * Puts a running task back in the queue without counting the attempt
   * (graceful shutdown); false if the claim is stale.
   */
  async release(claim: Claim): Promise<boolean> {
    const now = this.#now();
    const next: TaskRecord = {
      ...claim.task,
      status: "pending",
      attempt: Math.max(0, claim.task.attempt - 1),
      startedAt: null,
      updatedAt: now,
      runner: null,
      leaseUntil: null,
      holdsSlot: false,
      pendingUntil: this.#pendingDeadline(now),
    };
    return await this.#commit(claim.task, claim.versionstamp, next) !== null;
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
      const next = this.#finished(found.task, "cancelled", {
        error: { code: "cancelled", message: "The task was cancelled.", hint: "" },
      });
      if (await this.#commit(found.task, found.versionstamp, next)) return next;
    }
    throw new BridgeError("internal", `Task "${id}" kept changing; cancel again.`, "");
  }

  /**
   * Applies the lease rule to running tasks whose lease has run out (their
   * runner died): back to pending if fewer than {@linkcode MAX_ATTEMPTS}
   * attempts were made, else failed with `interrupted`. Returns how many.
   */
  async recoverExpired(): Promise<number> {
    let recovered = 0;
    const ids: string[] = [];
    for await (const entry of this.kv.list<string>({ prefix: ["running"] })) ids.push(entry.value);
    for (const id of ids) {
      const found = await this.read(id);
      if (!found || found.task.status !== "running") continue;
      if ((found.task.leaseUntil ?? 0) > this.#now()) continue;
      const now = this.#now();
      const next: TaskRecord = found.task.attempt < MAX_ATTEMPTS
        ? {
          ...found.task,
          status: "pending",
          startedAt: null,
          updatedAt: now,
          runner: null,
          leaseUntil: null,
          holdsSlot: false,
          pendingUntil: this.#pendingDeadline(now),
        }
        : this.#finished(found.task, "failed", {
          error: {
            code: "interrupted",
            message:
              `The task was interrupted ${found.task.attempt} times (its runner stopped before finishing).`,
            hint: "Submit it again; check that the server is not being killed or restarted.",
          },
        });
      if (await this.#commit(found.task, found.versionstamp, next)) recovered++;
    }
    return recovered;
  }

  /** Deletes terminal tasks past their expiry, with their chunks. Returns how many. */
  async sweep(limit = 500): Promise<number> {
    let swept = 0;
    const iter = this.kv.list<string>({ start: ["expiry"], end: ["expiry", this.#now() + 1] }, {
      limit,
    });
    for await (const entry of iter) {
      const found = await retryBusy(() => this.kv.get<TaskRecord>(["task", entry.value]));
      const task = found.value;
      // Checked against the index entry and the task: when two sweepers
      // (processes, isolates) meet the same task, one commit wins and the
      // count comes down once (unchecked, each took one off and the counts
      // wrapped below zero).
      const op = this.kv.atomic()
        .check({ key: entry.key, versionstamp: entry.versionstamp })
        .check({ key: ["task", entry.value], versionstamp: found.versionstamp })
        .delete(entry.key);
      if (task && task.expiresAt === entry.key[1]) {
        op.delete(["task", task.id]).delete(ownerKey(task)).delete(["partial", task.id])
          .sum(["count", task.owner, task.status], MINUS_ONE);
      }
      if (!(await retryBusy(() => op.commit())).ok) continue;
      const chunks: Deno.KvKey[] = [];
      for await (const c of this.kv.list({ prefix: ["chunk", entry.value] })) chunks.push(c.key);
      for (let i = 0; i < chunks.length; i += 100) {
        const del = this.kv.atomic();
        for (const key of chunks.slice(i, i + 100)) del.delete(key);
        await retryBusy(() => del.commit());
      }
      swept++;
    }
    return swept;
  }

  /** Counts of the owner's tasks by status. */
  async counts(owner: string): Promise<Record<TaskStatus, number>> {
    const entries = await this.kv.getMany<Deno.KvU64[]>(
      STATUSES.map((s) => ["count", owner, s]),
    );
    const counts = {} as Record<TaskStatus, number>;
    STATUSES.forEach((s, i) => counts[s] = counter(entries[i]));
    return counts;
  }

  /**
   * The owner's tasks, newest first, filtered, one page at a time.
   *
   * @throws {BridgeError} `invalid_argument` for a cursor that is not ours.
   */
  async list(owner: string, options: ListOptions = {}): Promise<TaskPage> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
    const now = this.#now();
    const tasks: TaskRecord[] = [];
    let nextCursor: string | null = null;
    let iter: Deno.KvListIterator<TaskRecord>;
    try {
      iter = this.kv.list<TaskRecord>({ prefix: ["owner", owner] }, {
        reverse: true,
        cursor: options.cursor,
        batchSize: 200,
      });
      for await (const entry of iter) {
        const t = entry.value;
        if (t.expiresAt !== null && t.expiresAt <= now) continue;
        if (options.status && t.status !== options.status) continue;
        if (options.sessionId && t.sessionId !== options.sessionId) continue;
        if (options.instance && t.instance !== options.instance) continue;
        tasks.push(t);
        if (tasks.length === limit) {
          nextCursor = iter.cursor;
          break;
        }
      }
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
    if (nextCursor !== null) {
      // Only report a cursor if something actually follows.
      const more = this.kv.list<TaskRecord>({ prefix: ["owner", owner] }, {
        reverse: true,
        cursor: nextCursor,
        limit: 1,
      });
      let any = false;
      for await (const _ of more) any = true;
      if (!any) nextCursor = null;
    }
    return { tasks, counts: await this.counts(owner), nextCursor };
  }
}
