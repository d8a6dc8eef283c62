/**
 * A gateway's pending approvals (exec and plugin), over its operator
 * WebSocket: list them, resolve one, and watch a conversation for new ones.
 *
 * One {@linkcode GatewayApprovals} per instance keeps at most one
 * connection: opened on first use, kept while someone watches, closed a
 * while after the last use. While watched it reconnects (with back-off) and
 * re-reads the pending list, so a watcher never misses an approval raised
 * while the connection was down.
 *
 * Wire shapes (OpenClaw 2026.9, see docs/notes/openclaw-approvals.md):
 * `exec.approval.requested` / `plugin.approval.requested` carry
 * `{id, request: {command?, sessionKey?, agentId?, ...}, createdAtMs,
 * expiresAtMs}`; `*.approval.resolved` carry `{id, decision}`;
 * `exec.approval.list` / `plugin.approval.list` answer the pending ones;
 * `exec.approval.resolve` / `plugin.approval.resolve` take `{id, decision}`.
 *
 * @module
 */
import { z } from "zod";
import { BridgeError } from "../errors.ts";
import type { Instance } from "../config.ts";
import type { DeviceIdentity } from "./device_identity.ts";
import { withoutAgent } from "./session_key.ts";
import { GatewayRpcError, GatewaySocket } from "./gateway_socket.ts";

/** What a person may answer. */
export const DECISIONS = ["allow-once", "allow-always", "deny"] as const;

/** A `decision` argument or form field: one of {@linkcode DECISIONS}, refused with a message naming them. */
export const decisionArg = z.enum(DECISIONS, {
  error: `decision must be one of ${DECISIONS.join(", ")}`,
});

/** One of {@linkcode DECISIONS}. */
export type Decision = typeof DECISIONS[number];

/** The two kinds of approval the gateway raises. */
export type ApprovalKind = "exec" | "plugin";

/** A pending approval, as the bridge shows it. */
export interface Approval {
  /** The gateway's id; pass it to `openclaw_approval_respond`. */
  id: string;
  /** `exec` (a shell command) or `plugin` (a plugin's own request). */
  kind: ApprovalKind;
  /** What is asked: the command, or the plugin's title. */
  summary: string;
  /** The gateway session that asked (`agent:<id>:<key>`), when known. */
  sessionKey: string | null;
  /** The agent run that asked (the chat completion's id), when known; absent in older records. */
  runId?: string | null;
  /** The agent that asked, when known. */
  agent: string | null;
  /** Working directory of an exec request, when given. */
  cwd: string | null;
  /** Where an exec request would run (`gateway`, `node`, `sandbox`), when given. */
  host: string | null;
  /** Decisions the gateway will not take for this request (e.g. `allow-always`). */
  unavailable: Decision[];
  /** Epoch ms. */
  createdAt: number | null;
  /** Epoch ms; the request is denied by the gateway after this. */
  expiresAt: number | null;
}

/** Told about approvals in one conversation. */
export interface ApprovalListener {
  /** A request was raised (or found pending when the watch began or reconnected). */
  requested(approval: Approval): void;
  /** A request was answered (by anyone) or expired. */
  resolved(id: string, decision: string | null): void;
}

/** How a connection is made (a test passes its own). */
export type SocketOpener = (signal?: AbortSignal) => Promise<GatewaySocket>;

const OPTIONAL_TEXT = z.string().nullish().transform((v) => v ?? null);

const requestShape = z.object({
  command: OPTIONAL_TEXT,
  commandPreview: OPTIONAL_TEXT,
  title: OPTIONAL_TEXT,
  description: OPTIONAL_TEXT,
  pluginId: OPTIONAL_TEXT,
  toolName: OPTIONAL_TEXT,
  sessionKey: OPTIONAL_TEXT,
  runId: OPTIONAL_TEXT,
  agentId: OPTIONAL_TEXT,
  cwd: OPTIONAL_TEXT,
  host: OPTIONAL_TEXT,
  allowedDecisions: z.array(z.string()).nullish(),
  unavailableDecisions: z.array(z.string()).nullish(),
}).loose();

const approvalShape = z.object({
  id: z.string().min(1).max(512),
  request: requestShape.nullish(),
  createdAtMs: z.number().nullish(),
  expiresAtMs: z.number().nullish(),
}).loose();

const resolvedShape = z.object({
  id: z.string().min(1),
  decision: z.string().nullish(),
}).loose();

/** Longest session key, agent, cwd or host kept (characters). */
const MAX_FIELD_CHARS = 500;

/** A connection that lived this long resets the reconnect back-off when it drops. */
const STABLE_MS = 10_000;

/** Most pending requests remembered per instance between list reads. */
const MAX_KNOWN = 1_000;

/** Longest summary shown (characters); a longer command is cut with "…". */
export const MAX_SUMMARY_CHARS = 2_000;

/** `text` cut to `max` characters, the last one "…" when cut (approval texts, here and on the operator page). */
export function cut(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** Reads one approval as the gateway sent it; null when it is not one. */
export function parseApproval(kind: ApprovalKind, value: unknown): Approval | null {
  const parsed = approvalShape.safeParse(value);
  if (!parsed.success) return null;
  const { id, request, createdAtMs, expiresAtMs } = parsed.data;
  const summary = kind === "exec"
    ? request?.command ?? request?.commandPreview ?? "(command not shown)"
    : [request?.title, request?.description].filter(Boolean).join(": ") ||
      request?.toolName || request?.pluginId || "(plugin request)";
  return {
    id,
    kind,
    summary: cut(summary, MAX_SUMMARY_CHARS),
    sessionKey: request?.sessionKey ? cut(request.sessionKey, MAX_FIELD_CHARS) : null,
    runId: request?.runId ? cut(request.runId, MAX_FIELD_CHARS) : null,
    agent: request?.agentId ? cut(request.agentId, MAX_FIELD_CHARS) : null,
    cwd: request?.cwd ? cut(request.cwd, MAX_FIELD_CHARS) : null,
    host: request?.host ? cut(request.host, MAX_FIELD_CHARS) : null,
    unavailable: DECISIONS.filter((d) =>
      (request?.unavailableDecisions ?? []).includes(d) ||
      (request?.allowedDecisions ? !request.allowedDecisions.includes(d) : false)
    ),
    createdAt: createdAtMs ?? null,
    expiresAt: expiresAtMs ?? null,
  };
}

/** Reads a list answer: an array, or an object holding one under a usual name. */
export function parseApprovalList(kind: ApprovalKind, payload: unknown): Approval[] {
  const rows = Array.isArray(payload) ? payload : (() => {
    const box = payload as Record<string, unknown> | null;
    for (const name of ["approvals", "pending", "items", "requests"]) {
      if (Array.isArray(box?.[name])) return box[name] as unknown[];
    }
    return [];
  })();
  return rows.map((row) => parseApproval(kind, row)).filter((a): a is Approval => a !== null);
}

/** `agent:<id>:<rest>` → `<rest>`, lowercased: how a session key is compared. */
export function sessionPart(key: string): string {
  return withoutAgent(key).toLowerCase();
}

/** What a watch follows: a conversation (lowercased session part) or one agent run. */
type WatchKey = { session: string; run?: undefined } | { run: string; session?: undefined };

/** Whether `approval` was raised in what `key` follows. */
function concerns(key: WatchKey, approval: Approval): boolean {
  if (key.run !== undefined) return approval.runId === key.run;
  return approval.sessionKey !== null && sessionPart(approval.sessionKey) === key.session;
}

/** What a use of a closed hub (the server shutting down) fails with. */
function shuttingDown(): BridgeError {
  return new BridgeError("cancelled", "The server is shutting down.", "");
}

/** The error for an id the gateway does not hold as pending. */
export function approvalNotFound(instance: string, id: string): BridgeError {
  return new BridgeError(
    "approval_not_found",
    `No pending approval "${
      cut(id, 80)
    }" on instance "${instance}": it was answered, expired, or never existed.`,
    "List the pending ones with openclaw_approvals.",
  );
}

/** Timing of a {@linkcode GatewayApprovals}; tests shorten it. */
export interface ApprovalsTiming {
  /** An unused connection closes after this. Default 30 s. */
  lingerMs: number;
  /** First reconnect delay; doubles up to `maxBackoffMs`. Default 1 s. */
  backoffMs: number;
  /** Longest reconnect delay. Default 30 s. */
  maxBackoffMs: number;
}

const DEFAULT_TIMING: ApprovalsTiming = {
  lingerMs: 30_000,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
};

/** A log sink for connection trouble (never given a secret). */
export type ApprovalsLog = (event: string, fields: Record<string, unknown>) => void;

/** The approvals of one gateway instance; see the module doc. */
export class GatewayApprovals {
  /** The instance served. */
  readonly instance: Instance;
  #open: SocketOpener;
  #timing: ApprovalsTiming;
  #log: ApprovalsLog;
  #socket: Promise<GatewaySocket> | undefined;
  #users = 0;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #watchers = new Map<ApprovalListener, WatchKey>();
  #known = new Map<string, Approval>();
  #reconnect: ReturnType<typeof setTimeout> | undefined;
  #backoff: number;
  #closed = false;
  #lastFailure: string | undefined;
  #connectedAt = 0;
  #seeding = false;
  #seededOn: GatewaySocket | undefined;

  /**
   * Serves `instance`; nothing connects until first use.
   *
   * @param open makes an authenticated operator connection
   *   (see {@linkcode operatorOpener}).
   */
  constructor(
    instance: Instance,
    open: SocketOpener,
    options: { timing?: Partial<ApprovalsTiming>; log?: ApprovalsLog } = {},
  ) {
    this.instance = instance;
    this.#open = open;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#backoff = this.#timing.backoffMs;
    this.#log = options.log ?? (() => {});
  }

  /** Every pending approval, oldest first. */
  async list(signal?: AbortSignal): Promise<Approval[]> {
    return await this.#use(signal, async (socket) => await this.#fetchPending(socket, signal));
  }

  /**
   * Answers approval `id` with `decision`. The gateway keeps the first
   * answer: the result says which decision stands.
   *
   * @throws {BridgeError} `approval_not_found` when it is not pending.
   */
  async resolve(
    id: string,
    decision: Decision,
    signal?: AbortSignal,
  ): Promise<{ approval: Approval; decision: string }> {
    return await this.#use(signal, async (socket) => {
      const pending = await this.#fetchPending(socket, signal);
      const approval = pending.find((a) => a.id === id);
      if (!approval) throw approvalNotFound(this.instance.name, id);
      if (approval.unavailable.includes(decision)) {
        throw new BridgeError(
          "invalid_argument",
          `The gateway does not offer "${decision}" for approval "${id}".`,
          `Answer allow-once or deny.`,
        );
      }
      try {
        const answer = await socket.request(`${approval.kind}.approval.resolve`, {
          id,
          decision,
        }, { signal });
        const stood = z.object({ decision: z.string() }).loose().safeParse(answer);
        return { approval, decision: stood.success ? stood.data.decision : decision };
      } catch (error) {
        if (
          error instanceof GatewayRpcError &&
          /NOT_FOUND|ALREADY_RESOLVED|unknown|expired/i.test(error.message)
        ) {
          throw approvalNotFound(this.instance.name, id);
        }
        throw this.#rpcError(error, "resolve the approval");
      }
    });
  }

  /**
   * Watches conversation `key` (a session key as the bridge sent it,
   * without the `agent:<id>:` prefix; or `{runId}`, one agent run, for a
   * chat without a session) until the returned function is called. Pending
   * requests found on (re)connect are reported too.
   */
  watch(key: string | { runId: string }, listener: ApprovalListener): () => void {
    if (this.#closed) return () => {};
    this.#watchers.set(
      listener,
      typeof key === "string" ? { session: key.toLowerCase() } : { run: key.runId },
    );
    this.#users++;
    this.#cancelLinger();
    this.#connectForWatchers();
    for (const approval of this.#known.values()) this.#tell(listener, approval);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#watchers.delete(listener);
      this.#release();
    };
  }

  /** Closes the connection and stops reconnecting. */
  close(): void {
    this.#closed = true;
    this.#cancelLinger();
    if (this.#reconnect !== undefined) clearTimeout(this.#reconnect);
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.then((s) => s.close(), () => {});
  }

  async #use<T>(
    signal: AbortSignal | undefined,
    work: (socket: GatewaySocket) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw shuttingDown();
    this.#users++;
    this.#cancelLinger();
    try {
      return await work(await this.#connect(signal));
    } finally {
      this.#release();
    }
  }

  #release(): void {
    this.#users--;
    if (this.#users > 0 || this.#closed) return;
    this.#linger = setTimeout(() => {
      this.#linger = undefined;
      if (this.#users > 0) return;
      const socket = this.#socket;
      this.#socket = undefined;
      this.#known.clear();
      socket?.then((s) => s.close(), () => {});
    }, this.#timing.lingerMs);
    Deno.unrefTimer(this.#linger);
  }

  #cancelLinger(): void {
    if (this.#linger !== undefined) clearTimeout(this.#linger);
    this.#linger = undefined;
  }

  /** The open connection, or a new one (shared by concurrent callers). */
  #connect(signal?: AbortSignal): Promise<GatewaySocket> {
    const current = this.#socket;
    if (!current) return this.#fresh(signal);
    // Every caller that finds this one gone shares a single replacement:
    // one each would leave all but the last open behind the hub's back.
    const replace = () =>
      this.#socket !== undefined && this.#socket !== current ? this.#socket : this.#fresh(signal);
    return current.then((s) => s.open ? s : replace(), replace);
  }

  #fresh(signal?: AbortSignal): Promise<GatewaySocket> {
    const made = this.#open(signal).then((socket) => {
      if (this.#closed) {
        // Shut down while connecting: nobody will close it later.
        socket.close();
        throw shuttingDown();
      }
      socket.onEvent((event, payload) => this.#onEvent(event, payload));
      socket.closed.then(() => this.#onClosed(socket));
      return socket;
    });
    this.#socket = made;
    made.catch(() => {
      if (this.#socket === made) this.#socket = undefined;
    });
    return made;
  }

  async #fetchPending(socket: GatewaySocket, signal?: AbortSignal): Promise<Approval[]> {
    return (await this.#readPending(socket, signal)).pending;
  }

  /** The pending list, and what was known when it arrived (events heard meanwhile included). */
  async #readPending(
    socket: GatewaySocket,
    signal?: AbortSignal,
  ): Promise<{ pending: Approval[]; known: Map<string, Approval> }> {
    const lists = await Promise.all((["exec", "plugin"] as const).map(async (kind) => {
      try {
        return parseApprovalList(
          kind,
          await socket.request(`${kind}.approval.list`, {}, { signal }),
        );
      } catch (error) {
        // A gateway without plugins may not know plugin.approval.list.
        if (kind === "plugin" && error instanceof GatewayRpcError) return [];
        throw this.#rpcError(error, "list approvals");
      }
    }));
    const all = lists.flat().sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
    const known = new Map(this.#known);
    const ids = new Set(all.map((a) => a.id));
    for (const id of [...this.#known.keys()]) {
      if (!ids.has(id)) this.#known.delete(id);
    }
    for (const approval of all) this.#known.set(approval.id, approval);
    this.#forgetExpired();
    return { pending: all, known };
  }

  #rpcError(error: unknown, doing: string): unknown {
    if (!(error instanceof GatewayRpcError)) return error;
    const { code, message } = error.failure;
    if (/scope|forbidden|unauthori/i.test(`${code} ${message}`)) {
      return new BridgeError(
        "gateway_forbidden",
        `The gateway for instance "${this.instance.name}" does not let the bridge ${doing}: ${
          cut(message || code, 200)
        }.`,
        "The bridge needs the operator.approvals scope: use the gateway's shared token.",
      );
    }
    return new BridgeError(
      "gateway_rejected",
      `The gateway for instance "${this.instance.name}" refused to ${doing}: ${
        cut(message || code, 200)
      }.`,
      "Check the gateway's log.",
    );
  }

  #onEvent(event: string, payload: unknown): void {
    const match = /^(exec|plugin)\.approval\.(requested|resolved)$/.exec(event);
    if (!match) return;
    this.#forgetExpired();
    const kind = match[1] as ApprovalKind;
    if (match[2] === "requested") {
      const approval = parseApproval(kind, payload);
      // A repeated event for a request already known is not news.
      if (!approval || this.#known.has(approval.id)) return;
      this.#known.set(approval.id, approval);
      for (const listener of this.#watchers.keys()) this.#tell(listener, approval);
      return;
    }
    const resolved = resolvedShape.safeParse(payload);
    if (!resolved.success) return;
    const approval = this.#known.get(resolved.data.id);
    this.#known.delete(resolved.data.id);
    if (!approval) return;
    for (const [listener, key] of this.#watchers) {
      if (concerns(key, approval)) listener.resolved(approval.id, resolved.data.decision ?? null);
    }
  }

  /** Drops requests past their expiry whose end we did not hear (bounded memory). */
  #forgetExpired(): void {
    const now = Date.now();
    for (const [id, approval] of this.#known) {
      if (approval.expiresAt !== null && approval.expiresAt < now) this.#known.delete(id);
    }
    // A gateway that never says "resolved" cannot grow this without bound.
    let excess = this.#known.size - MAX_KNOWN;
    for (const id of this.#known.keys()) {
      if (excess-- <= 0) break;
      this.#known.delete(id);
    }
  }

  #tell(listener: ApprovalListener, approval: Approval): void {
    const key = this.#watchers.get(listener);
    if (key !== undefined && concerns(key, approval)) listener.requested(approval);
  }

  /** While watched, a lost connection comes back and the pending list is re-read. */
  #connectForWatchers(): void {
    if (this.#closed || this.#watchers.size === 0 || this.#reconnect !== undefined) return;
    // Already listening on a connection whose pending list was read: events
    // keep it current, so a new watch costs no round trip.
    if (this.#seeding || this.#seededOn?.open) return;
    this.#seeding = true;
    this.#connect().then(async (socket) => {
      // Compared with what was known when the list arrived: a request whose
      // event came while the list was read has been told already.
      const { pending, known: before } = await this.#readPending(socket);
      this.#seededOn = socket;
      // The back-off resets only once a connection proves stable (see #onClosed).
      this.#connectedAt = Date.now();
      this.#lastFailure = undefined;
      // Answered while we were away: tell its conversation's watchers it is over.
      const still = new Set(pending.map((a) => a.id));
      for (const [id, gone] of before) {
        if (still.has(id)) continue;
        for (const [listener, watched] of this.#watchers) {
          if (concerns(watched, gone)) listener.resolved(id, null);
        }
      }
      for (const approval of pending) {
        if (before.has(approval.id)) continue;
        for (const listener of this.#watchers.keys()) this.#tell(listener, approval);
      }
    }).catch((error) => {
      if (this.#closed) return;
      const code = error instanceof BridgeError ? error.code : "internal";
      // Said once per kind of failure, not on every retry.
      if (code !== this.#lastFailure) {
        this.#lastFailure = code;
        this.#log("approvals_watch_failed", {
          instance: this.instance.name,
          code,
          hint: error instanceof BridgeError ? error.hint : "",
          retry_ms: this.#backoff,
        });
      }
      this.#scheduleReconnect();
    }).finally(() => {
      this.#seeding = false;
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#watchers.size === 0 || this.#reconnect !== undefined) return;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      this.#connectForWatchers();
    }, this.#backoff);
    Deno.unrefTimer(this.#reconnect);
    this.#backoff = Math.min(this.#backoff * 2, this.#timing.maxBackoffMs);
  }

  #onClosed(socket: GatewaySocket): void {
    this.#socket?.then((current) => {
      if (current !== socket) return;
      this.#socket = undefined;
      if (Date.now() - this.#connectedAt >= STABLE_MS) this.#backoff = this.#timing.backoffMs;
      this.#scheduleReconnect();
    }, () => {});
  }
}

/** Opens an operator connection with the approvals scope for `instance`. */
export function operatorOpener(
  instance: Instance,
  device: () => Promise<DeviceIdentity>,
): SocketOpener {
  return async (signal) =>
    await GatewaySocket.connect({
      instance,
      device: await device(),
      // Measured: agent-raised approvals reach admin operator connections only.
      scopes: ["operator.admin", "operator.approvals", "operator.read"],
      caps: ["approvals"],
      signal,
    });
}

/**
 * The approvals of one chat as it runs: watched by its session key from the
 * start, or, for a chat without a session, by its run id once the gateway's
 * stream names it (pass {@linkcode ChatApprovals.onRunId} to the chat). The
 * gateway names the run in its first chunk, before any tool runs; a request
 * raised before the watch began is still found in the pending list or the
 * hub's memory.
 */
export class ChatApprovals {
  #approvals: GatewayApprovals | undefined;
  #listener: ApprovalListener;
  #stop: (() => void) | undefined;
  #stopped = false;

  /** Starts watching `sessionKey` at once when there is one. */
  constructor(
    approvals: GatewayApprovals | undefined,
    sessionKey: string | undefined,
    listener: ApprovalListener,
  ) {
    this.#approvals = approvals;
    this.#listener = listener;
    if (sessionKey) this.#stop = approvals?.watch(sessionKey, listener);
  }

  /** Told the run id: watches it when no session is watched. */
  readonly onRunId = (id: string): void => {
    if (this.#stopped || this.#stop || !this.#approvals) return;
    this.#stop = this.#approvals.watch({ runId: id }, this.#listener);
  };

  /** Ends the watch (idempotent). */
  stop(): void {
    this.#stopped = true;
    this.#stop?.();
  }
}
