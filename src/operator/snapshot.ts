/**
 * What the operator page shows, as one plain object: the instances with
 * their health, latency and agents (the verdicts `/ready` caches, never a
 * probe of its own), every owner's newest tasks (the store's bounded
 * {@linkcode TaskStore.recent}, with short previews of their text, and
 * whether a running one waits for an approval), the approvals pending on
 * each instance (read through its operator WebSocket by
 * `approval_reads.ts`, shared by every viewer), open sessions, version and
 * uptime. Built at most once per
 * {@linkcode SNAPSHOT_TTL_MS} however many pages and feeds ask.
 *
 * Nothing secret goes in: instances carry their URL, never their token,
 * and every text is cut short and has any configured secret (gateway
 * tokens, static tokens, the owner password, the client secret) replaced.
 *
 * @module
 */
import { type Approval, cut, type Decision, DECISIONS } from "../gateway/approvals.ts";
import type { HealthStatus } from "../gateway/health.ts";
import type { NamedReport, ProbeCache } from "../gateway/probe_cache.ts";
import type { TaskRecord, TaskStatus, TaskStore } from "../tasks/store.ts";
import { VERSION } from "../version.ts";
import { ApprovalReads, type ApprovalsPort } from "./approval_reads.ts";

/** A snapshot answers for this long (the feeds tick at the same pace). */
export const SNAPSHOT_TTL_MS = 1_000;
/** Longest wait for the gateways' verdicts before the last known ones are shown. */
export const PROBE_WAIT_MS = 1_500;
/** Characters of a task's message shown. */
export const MESSAGE_PREVIEW_CHARS = 160;
/** Characters of a reply (or the end of a reply so far) shown. */
export const REPLY_PREVIEW_CHARS = 600;
/** Previews kept in memory (a message, a finished task's reply: their text never changes). */
const PREVIEW_CACHE = 500;
/** Pending approvals shown per instance (the oldest first; the count says how many more). */
export const APPROVALS_SHOWN = 20;
/** Characters of an approval's summary (the command) shown. */
export const APPROVAL_SUMMARY_CHARS = 400;
/** Secrets shorter than this are not searched for (they would match ordinary text). */
const MIN_SECRET_CHARS = 6;

/** One gateway instance as the page shows it. */
export interface InstanceView {
  /** The instance's name. */
  name: string;
  /** Its base URL (never its token). */
  url: string;
  /** The instance used when a call names none. */
  isDefault: boolean;
  /** The probe's verdict; `probing` before the first one settled. */
  status: HealthStatus | "probing";
  /** Milliseconds the probe took, or null. */
  latencyMs: number | null;
  /** The probe's one line (why it failed). */
  message: string;
  /** The agents the gateway lists. */
  agents: string[];
  /** When the verdict was made, epoch ms, or null. */
  checkedAt: number | null;
  /** The approvals pending on it. */
  approvals: InstanceApprovals;
}

/** One pending approval as the page shows it. */
export interface ApprovalView {
  /** The gateway's id (what the page's buttons answer). */
  id: string;
  /** `exec` (a shell command) or `plugin`. */
  kind: "exec" | "plugin";
  /** What is asked: the command, or the plugin's request (cut short). */
  summary: string;
  /** The conversation that asked, when known. */
  sessionKey: string | null;
  /** The agent that asked, when known. */
  agent: string | null;
  /** Working directory of a command, when given. */
  cwd: string | null;
  /** Where a command would run, when given. */
  host: string | null;
  /** The answers the gateway takes for it. */
  decisions: Decision[];
  /** Epoch ms, or null. */
  requestedAt: number | null;
  /** Epoch ms after which the gateway denies it, or null. */
  expiresAt: number | null;
}

/**
 * An instance's pending approvals: `off` (`OPENCLAW_APPROVALS=off`),
 * `reading` (the first read has not answered yet), `ok`, or `unavailable`
 * (the last read failed: `error` says why).
 */
export interface InstanceApprovals {
  /** See above. */
  state: "off" | "reading" | "ok" | "unavailable";
  /** The oldest {@linkcode APPROVALS_SHOWN} pending ones. */
  pending: ApprovalView[];
  /** How many are pending in all. */
  total: number;
  /** Why they could not be read (a coded error, never a stack), or null. */
  error: { code: string; message: string; hint: string } | null;
  /** When they were last read, epoch ms, or null. */
  checkedAt: number | null;
}

/** One task as the page shows it. */
export interface TaskView {
  /** The task id. */
  id: string;
  /** Its status. */
  status: TaskStatus;
  /** Instance name. */
  instance: string;
  /** Agent asked for, or null for the instance's default. */
  agent: string | null;
  /** Who submitted it: a token id, an OAuth client, `anonymous`... (no secret). */
  owner: string;
  /** −100..100. */
  priority: number;
  /** Attempts started. */
  attempt: number;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the current attempt's start, or null. */
  startedAt: number | null;
  /** Epoch ms, or null while not finished. */
  finishedAt: number | null;
  /** From the start of its run (or its queueing) to its end, or null while not finished. */
  durationMs: number | null;
  /** The start of the message. */
  message: string;
  /** The start of the reply (finished) or the end of the reply so far (running). */
  reply: string;
  /** Characters of the whole reply (so far). */
  replyChars: number;
  /** A failed or cancelled task's error code and message, or null. */
  error: { code: string; message: string } | null;
  /** The approvals a running task's conversation waits on (none otherwise). */
  waiting: { id: string; kind: "exec" | "plugin"; summary: string }[];
}

/** Everything the page shows. */
export interface OperatorSnapshot {
  /** The bridge's version. */
  version: string;
  /** When this process started serving, epoch ms. */
  startedAt: number;
  /** When the snapshot was taken, epoch ms. */
  now: number;
  /** How `/mcp` authenticates. */
  auth: "oauth" | "bearer" | "none";
  /** Sessions of 2025-era clients in this process (null in stateless mode); 2026-era requests have none. */
  sessions: { open: number | null; max: number | null; stateless: boolean };
  /** Every instance, in configuration order. */
  instances: InstanceView[];
  /** Every owner's newest tasks. */
  tasks: { active: TaskView[]; finished: TaskView[]; shownActive: number; shownFinished: number };
}

/** An instance as the registry lists it. */
export interface InstanceInfo {
  /** Its name. */
  name: string;
  /** Its base URL. */
  url: string;
  /** The default instance. */
  isDefault: boolean;
  /** Its token (only to be kept out of the page). */
  token?: string;
  /** Its approvals; none: approvals are off. */
  approvals?: ApprovalsPort;
}

/** What {@linkcode snapshotSource} reads. */
export interface SnapshotDeps {
  /** The instances (from the gateway registry). */
  instances: () => InstanceInfo[];
  /** The probe cache `/ready` uses. */
  probes: Pick<ProbeCache, "reports" | "latest">;
  /** The task store (its `recent` listing and previews). */
  store: Pick<TaskStore, "recent" | "messageHead" | "replyHead" | "partialTail" | "waiting">;
  /** Where the instances' approvals are read (shared with the answering route); default a new one. */
  approvals?: ApprovalReads;
  /** Open sessions now (null in stateless mode) and the cap. */
  sessions: () => { open: number | null; max: number | null };
  /** How `/mcp` authenticates. */
  auth: OperatorSnapshot["auth"];
  /** Secrets to keep off the page besides the instances' tokens. */
  secrets: readonly (string | undefined)[];
  /** When the process started serving, epoch ms. */
  startedAt: number;
  /** Epoch ms clock; default `Date.now`. */
  now?: () => number;
  /** Pending/running and finished tasks shown; default 50 and 20. */
  limits?: { active?: number; finished?: number };
}

/** Takes snapshots, each shared for {@linkcode SNAPSHOT_TTL_MS}. */
export interface SnapshotSource {
  /** The current snapshot (a new one at most once per {@linkcode SNAPSHOT_TTL_MS}). */
  take(): Promise<OperatorSnapshot>;
  /** Drops the kept snapshot: the next {@linkcode take} builds a new one (after an answer). */
  refresh(): void;
}

/**
 * A source of snapshots over `deps`.
 *
 * @example
 * ```ts ignore
 * const snapshots = snapshotSource({ instances, probes, store, sessions, auth, secrets, startedAt });
 * const { instances, tasks } = await snapshots.take();
 * ```
 */
export function snapshotSource(deps: SnapshotDeps): SnapshotSource {
  const now = deps.now ?? Date.now;
  const active = deps.limits?.active ?? 50;
  const finished = deps.limits?.finished ?? 20;
  // Texts that never change (a message; a finished task's reply), kept by task id.
  const messages = new BoundedCache<string>(PREVIEW_CACHE);
  const replies = new BoundedCache<string>(PREVIEW_CACHE);
  let kept: { at: number; snapshot: Promise<OperatorSnapshot> } | null = null;
  const reads = deps.approvals ?? new ApprovalReads({ now });

  // Built at the first snapshot: the registry is not asked for anything before.
  let scrubbing: ((text: string) => string) | null = null;
  const scrub = (text: string) =>
    (scrubbing ??= scrubber([...deps.secrets, ...deps.instances().map((i) => i.token)]))(text);

  /** The start of the message, an ellipsis marking a cut. */
  function messagePreview(task: TaskRecord): Promise<string> {
    return messages.get(task.id, async () => {
      const head = await deps.store.messageHead(task, MESSAGE_PREVIEW_CHARS + 1);
      return head.length > MESSAGE_PREVIEW_CHARS
        ? `${head.slice(0, MESSAGE_PREVIEW_CHARS - 1)}\u2026`
        : head;
    });
  }

  async function finishedPreview(task: TaskRecord): Promise<{ message: string; reply: string }> {
    return {
      message: await messagePreview(task),
      reply: await replies.get(task.id, () => deps.store.replyHead(task, REPLY_PREVIEW_CHARS)),
    };
  }

  async function view(task: TaskRecord): Promise<TaskView> {
    let message: string;
    let reply = "";
    let replyChars = 0;
    let waiting: TaskView["waiting"] = [];
    if (task.status === "completed" || task.status === "failed" || task.status === "cancelled") {
      ({ message, reply } = await finishedPreview(task));
      replyChars = task.result?.chars ?? 0;
    } else {
      message = await messagePreview(task);
      if (task.status === "running") {
        const [tail, waits] = await Promise.all([
          deps.store.partialTail(task, REPLY_PREVIEW_CHARS),
          deps.store.waiting(task),
        ]);
        reply = tail.text;
        replyChars = tail.chars;
        waiting = waits.map((a) => ({
          id: a.id,
          kind: a.kind,
          summary: scrub(cut(a.summary, APPROVAL_SUMMARY_CHARS)),
        }));
      }
    }
    const from = task.startedAt ?? task.createdAt;
    return {
      id: task.id,
      status: task.status,
      instance: task.instance,
      agent: task.agent,
      owner: scrub(ownerLabel(task.owner)),
      priority: task.priority,
      attempt: task.attempt,
      createdAt: task.createdAt,
      startedAt: task.startedAt,
      finishedAt: task.finishedAt,
      durationMs: task.finishedAt === null ? null : Math.max(0, task.finishedAt - from),
      message: scrub(message),
      reply: scrub(reply),
      replyChars,
      error: task.error ? { code: task.error.code, message: scrub(task.error.message) } : null,
      waiting,
    };
  }

  async function instanceViews(): Promise<InstanceView[]> {
    // Wait a little for a probe in flight; a slow gateway must not hold up the page.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      deps.probes.reports().catch(() => {}),
      new Promise<void>((resolve) => timer = setTimeout(resolve, PROBE_WAIT_MS)),
    ]);
    clearTimeout(timer);
    const settled = deps.probes.latest();
    const byName = new Map<string, NamedReport>(
      (settled?.reports ?? []).map((r) => [r.name, r]),
    );
    const list = deps.instances();
    const approvals = await Promise.all(list.map((i) => approvalsOf(i)));
    return list.map((instance, n) => {
      const report = byName.get(instance.name);
      return {
        name: instance.name,
        url: scrub(instance.url),
        isDefault: instance.isDefault,
        status: report?.status ?? "probing",
        latencyMs: report?.latencyMs ?? null,
        message: scrub(report?.message ?? "Not probed yet."),
        agents: (report?.agents ?? []).map(scrub),
        checkedAt: report ? settled!.at : null,
        approvals: approvals[n],
      };
    });
  }

  /** The instance's pending approvals (read at most once per snapshot period). */
  async function approvalsOf(instance: InstanceInfo): Promise<InstanceApprovals> {
    const read = await reads.read(instance.name, instance.approvals);
    const none = { pending: [], total: 0, error: null, checkedAt: null };
    switch (read.state) {
      case "off":
      case "reading":
        return { state: read.state, ...none };
      case "unavailable":
        return {
          state: "unavailable",
          ...none,
          error: {
            code: read.error.code,
            message: scrub(read.error.message),
            hint: scrub(read.error.hint),
          },
          checkedAt: read.at,
        };
      case "ok":
        return {
          state: "ok",
          pending: read.approvals.slice(0, APPROVALS_SHOWN).map((a) => approvalView(a, scrub)),
          total: read.approvals.length,
          error: null,
          checkedAt: read.at,
        };
    }
  }

  async function build(): Promise<OperatorSnapshot> {
    const [instances, recent] = await Promise.all([
      instanceViews(),
      deps.store.recent({ active, finished }),
    ]);
    const sessions = deps.sessions();
    return {
      version: VERSION,
      startedAt: deps.startedAt,
      now: now(),
      auth: deps.auth,
      sessions: { ...sessions, stateless: sessions.open === null },
      instances,
      tasks: {
        active: await Promise.all(recent.active.map(view)),
        finished: await Promise.all(recent.finished.map(view)),
        shownActive: active,
        shownFinished: finished,
      },
    };
  }

  return {
    refresh() {
      kept = null;
    },
    take() {
      const t = now();
      if (kept && t - kept.at < SNAPSHOT_TTL_MS && t >= kept.at) return kept.snapshot;
      const current = { at: t, snapshot: build() };
      kept = current;
      current.snapshot.catch(() => {
        if (kept === current) kept = null;
      });
      return current.snapshot;
    },
  };
}

/** An approval as the page shows it: texts cut short and scrubbed. */
export function approvalView(approval: Approval, scrub: (text: string) => string): ApprovalView {
  const text = (value: string | null, max = 200) => value === null ? null : scrub(cut(value, max));
  return {
    id: approval.id,
    kind: approval.kind,
    summary: scrub(cut(approval.summary, APPROVAL_SUMMARY_CHARS)),
    sessionKey: text(approval.sessionKey),
    agent: text(approval.agent, 100),
    cwd: text(approval.cwd),
    host: text(approval.host, 100),
    decisions: DECISIONS.filter((d) => !approval.unavailable.includes(d)),
    requestedAt: approval.createdAt,
    expiresAt: approval.expiresAt,
  };
}

/**
 * Replaces every occurrence of the `secrets` (the longest first; those
 * shorter than 6 characters are left alone) with `[hidden]`.
 */
export function scrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  const kept = [...new Set(secrets)]
    .filter((s): s is string => !!s && s.length >= MIN_SECRET_CHARS)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of kept) out = out.split(secret).join("[hidden]");
    return out;
  };
}

/**
 * Who a task belongs to, for people: a static token's id as is
 * (`token:` and 16 hex digits of its SHA-256), an OAuth login as its client
 * (`oauth:<client id>`, without the login's family id), anything else as is.
 */
export function ownerLabel(owner: string): string {
  if (owner.startsWith("oauth:")) {
    const rest = owner.slice("oauth:".length);
    // The login's family id is the last part; the client id (a URL for CIMD) may hold colons.
    const client = rest.includes(":") ? rest.slice(0, rest.lastIndexOf(":")) : rest;
    const shown = client.length > 60 ? `${client.slice(0, 59)}\u2026` : client;
    return `oauth:${shown}`;
  }
  return owner.length > 80 ? `${owner.slice(0, 79)}\u2026` : owner;
}

/** Values by key, at most `max` of them (the oldest dropped first). */
class BoundedCache<T> {
  #max: number;
  #values = new Map<string, T>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The kept value of `key`, or `load()`'s, kept. */
  async get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.#values.has(key)) return this.#values.get(key)!;
    const value = await load();
    if (this.#values.size >= this.#max) this.#values.delete(this.#values.keys().next().value!);
    this.#values.set(key, value);
    return value;
  }
}
