/**
 * The durable task store on Deno KV.
 *
 * Key layout:
 *
 * ```
 * ["task", id]                            -> TaskRecord (small: no text)
 * ["owner", owner, createdAt, id]         -> TaskRecord copy, for listing newest first
 * ["pending", 100 - priority, createdAt, id] -> id   (claim order: priority, then age)
 * ["running", id]                         -> id   (lease recovery scans this small set)
 * ["expiry", expiresAt, id]               -> id   (sweeper)
 * ["count", owner, status]                -> KvU64 (counts by status)
 * ["chunk", id, kind, attempt, i]         -> string (message, result, partial; 30,000 chars each)
 * ["partial", id]                         -> { attempt, chars, chunks }
 * ```
 *
 * Every status change is one atomic commit checked against the task's
 * versionstamp, so two runners (processes, isolates) can never both claim or
 * finish one task, and a terminal task never changes again.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import type { Usage } from "../gateway/client.ts";

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

/** A finished task's error. */
export interface TaskError {
  /** Stable code, e.g. `gateway_timeout` or `interrupted`. */
  code: string;
  /** What went wrong. */
  message: string;
  /** What to do. */
  hint: string;
}

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
}

/** Characters per stored chunk: two-byte strings stay under KV's 64 KiB value cap. */
export const CHUNK_CHARS = 30_000;
/** Chunks written per atomic commit (KV caps a commit at 800 KiB). */
const CHUNKS_PER_COMMIT = 10;
/** A task is run at most this many times (a retry after an interrupted run). */
export const MAX_ATTEMPTS = 2;
const MINUS_ONE = 0xFFFFFFFFFFFFFFFFn;

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
const pendingKey = (t: TaskRecord): Deno.KvKey => ["pending", 100 - t.priority, t.createdAt, t.id];

/**
 * Retries a KV operation while SQLite reports the database busy (two
 * processes on one file), with a short jittered backoff.
 */
export async function retryBusy<T>(operation: () => Promise<T>, attempts = 50): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await operation();
    } catch (error) {
      const busy = error instanceof Error && /database is locked|busy/i.test(error.message);
      if (!busy || i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * Math.min(i + 1, 10)));
    }
  }
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

  /** Wraps an open KV. */
  constructor(kv: Deno.Kv, options: TaskStoreOptions = {}) {
    this.kv = kv;
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
  }

  /** Stores a new pending task. */
  async submit(owner: string, submission: Submission): Promise<TaskRecord> {
    const now = this.#now();
    const parts = chunk(submission.message);
    const task: TaskRecord = {
      id: this.#newId(),
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
    };
    // A message is at most 100,000 characters: 4 chunks, well inside one commit.
    const op = this.kv.atomic()
      .check({ key: ["task", task.id], versionstamp: null })
      .set(["task", task.id], task)
      .set(ownerKey(task), task)
      .set(pendingKey(task), task.id)
      .sum(["count", owner, "pending"], 1n);
    parts.forEach((part, i) => op.set(["chunk", task.id, "message", 0, i], part));
    const result = await retryBusy(() => op.commit());
    if (!result.ok) throw new BridgeError("internal", "Could not store the task.", "Retry.");
    return task;
  }

  /** The task with its versionstamp, if it exists and has not expired. */
  async read(id: string): Promise<Claim | null> {
    const entry = await retryBusy(() => this.kv.get<TaskRecord>(["task", id]));
    if (!entry.value || !entry.versionstamp) return null;
    if (entry.value.expiresAt !== null && entry.value.expiresAt <= this.#now()) return null;
    return { task: entry.value, versionstamp: entry.versionstamp };
  }

  /**
   * The owner's task.
   *
   * @throws {BridgeError} `task_not_found` when absent, expired or another owner's.
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

  /** Queue position of a pending task (0 = next), or null when more than 1,000 are ahead. */
  async position(task: TaskRecord): Promise<number | null> {
    if (task.status !== "pending") return null;
    let ahead = 0;
    const iter = this.kv.list({ start: ["pending"], end: pendingKey(task) }, { limit: 1_001 });
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
      if (prev.status === "pending") op.delete(pendingKey(prev));
      if (prev.status === "running") op.delete(["running", prev.id]);
      if (next.status === "pending") op.set(pendingKey(next), next.id);
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
      expiresAt: now + this.#ttlMs,
    };
  }

  /**
   * Claims the first pending task, in priority then age order, whose
   * instance `canRun` accepts; marks it running under a lease.
   */
  async claim(
    runner: string,
    leaseMs: number,
    options: { canRun?: (instance: string) => boolean } = {},
  ): Promise<Claim | null> {
    const canRun = options.canRun ?? (() => true);
    const iter = this.kv.list<string>({ prefix: ["pending"] }, { limit: 64 });
    for await (const entry of iter) {
      const found = await this.read(entry.value);
      if (!found || found.task.status !== "pending" || !canRun(found.task.instance)) continue;
      const now = this.#now();
      const next: TaskRecord = {
        ...found.task,
        status: "running",
        attempt: found.task.attempt + 1,
        startedAt: now,
        updatedAt: now,
        runner,
        leaseUntil: now + leaseMs,
      };
      const versionstamp = await this.#commit(found.task, found.versionstamp, next);
      if (versionstamp) return { task: next, versionstamp };
    }
    return null;
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
      const task = (await this.kv.get<TaskRecord>(["task", entry.value])).value;
      const op = this.kv.atomic().delete(entry.key);
      if (task && task.expiresAt === entry.key[1]) {
        op.delete(["task", task.id]).delete(ownerKey(task)).delete(["partial", task.id])
          .sum(["count", task.owner, task.status], MINUS_ONE);
      }
      await retryBusy(() => op.commit());
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
    STATUSES.forEach((s, i) => counts[s] = Number(entries[i].value?.value ?? 0n));
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
