/**
 * The pending approvals the operator page shows, read through each
 * instance's `GatewayApprovals.list()` (its one operator WebSocket, kept
 * open while it is used and closed 30 s after), shared by every viewer:
 * at most one read per instance per {@linkcode SNAPSHOT_TTL_MS} however many
 * pages and feeds are open, a slow read never holding the page up longer
 * than {@linkcode PROBE_WAIT_MS} (the last answer is shown meanwhile), and
 * after a failure a wait of {@linkcode APPROVALS_RETRY_MS} doubling up to
 * {@linkcode APPROVALS_MAX_RETRY_MS} before the next try, so a gateway that
 * refuses the bridge is not asked every second.
 *
 * A failure is kept as its coded error (`gateway_pairing_required`, with
 * the gateway's one line and the hint), never a stack.
 *
 * @module
 */
import type { Approval, Decision } from "../gateway/approvals.ts";
import { type ErrorBody, toBridgeError } from "../errors.ts";

/** What the page needs of an instance's approvals (a `GatewayApprovals`). */
export interface ApprovalsPort {
  /** Every pending approval, oldest first. */
  list(signal?: AbortSignal): Promise<Approval[]>;
  /** Answers one; the decision that stands comes back. */
  resolve(
    id: string,
    decision: Decision,
    signal?: AbortSignal,
  ): Promise<{ approval: Approval; decision: string }>;
}

/** A snapshot answers for this long; approvals are read at most this often. */
export const APPROVALS_TTL_MS = 1_000;
/** Longest wait for a read before the last known answer is shown. */
export const APPROVALS_WAIT_MS = 1_500;
/** A read is given up after this long. */
export const APPROVALS_READ_TIMEOUT_MS = 10_000;
/** The wait before reading again after a failure; doubles with each one. */
export const APPROVALS_RETRY_MS = 5_000;
/** The longest wait after failures. */
export const APPROVALS_MAX_RETRY_MS = 60_000;

/** An instance's approvals as last read. */
export type ApprovalRead =
  | { state: "off" }
  | { state: "reading" }
  | { state: "ok"; approvals: Approval[]; at: number }
  | { state: "unavailable"; error: ErrorBody; at: number };

/** The reads' timing; tests shorten it. */
export interface ApprovalReadTiming {
  /** See {@linkcode APPROVALS_TTL_MS}. */
  ttlMs: number;
  /** See {@linkcode APPROVALS_WAIT_MS}. */
  waitMs: number;
  /** See {@linkcode APPROVALS_READ_TIMEOUT_MS}. */
  timeoutMs: number;
  /** See {@linkcode APPROVALS_RETRY_MS}. */
  retryMs: number;
  /** See {@linkcode APPROVALS_MAX_RETRY_MS}. */
  maxRetryMs: number;
}

interface Entry {
  read: ApprovalRead;
  /** Epoch ms before which no new read starts. */
  next: number;
  failures: number;
  inflight: Promise<void> | null;
}

/** The approvals of every instance, read for the page; see the module doc. */
export class ApprovalReads {
  #now: () => number;
  #timing: ApprovalReadTiming;
  #entries = new Map<string, Entry>();

  /** Reads on `now`'s clock (epoch ms) with `timing`. */
  constructor(options: { now?: () => number; timing?: Partial<ApprovalReadTiming> } = {}) {
    this.#now = options.now ?? Date.now;
    this.#timing = {
      ttlMs: APPROVALS_TTL_MS,
      waitMs: APPROVALS_WAIT_MS,
      timeoutMs: APPROVALS_READ_TIMEOUT_MS,
      retryMs: APPROVALS_RETRY_MS,
      maxRetryMs: APPROVALS_MAX_RETRY_MS,
      ...options.timing,
    };
  }

  /**
   * The approvals of instance `name` (`off` without a `source`): the kept
   * answer while it is fresh, else a new read (shared with any other caller
   * meanwhile), waited for a little.
   */
  async read(name: string, source: ApprovalsPort | undefined): Promise<ApprovalRead> {
    if (!source) return { state: "off" };
    let entry = this.#entries.get(name);
    if (!entry) {
      entry = { read: { state: "reading" }, next: 0, failures: 0, inflight: null };
      this.#entries.set(name, entry);
    }
    if (!entry.inflight && this.#now() >= entry.next) entry.inflight = this.#refresh(entry, source);
    const pending = entry.inflight;
    if (pending) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        pending,
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#timing.waitMs)),
      ]);
      clearTimeout(timer);
    }
    return entry.read;
  }

  /**
   * Approval `id` of instance `name` was answered (or is gone): it leaves
   * the kept list now, and the next read asks the gateway again.
   */
  forget(name: string, id: string): void {
    const entry = this.#entries.get(name);
    if (!entry) return;
    if (entry.read.state === "ok") {
      entry.read = { ...entry.read, approvals: entry.read.approvals.filter((a) => a.id !== id) };
    }
    if (entry.failures === 0) entry.next = 0;
  }

  async #refresh(entry: Entry, source: ApprovalsPort): Promise<void> {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), this.#timing.timeoutMs);
    try {
      const approvals = await source.list(stop.signal);
      const at = this.#now();
      entry.read = { state: "ok", approvals, at };
      entry.failures = 0;
      entry.next = at + this.#timing.ttlMs;
    } catch (error) {
      const at = this.#now();
      const { code, message, hint } = stop.signal.aborted
        ? {
          code: "gateway_timeout" as const,
          message: `The gateway did not list its approvals within ${
            Math.round(this.#timing.timeoutMs / 1000)
          } s.`,
          hint: "Check that the gateway is up; the page tries again by itself.",
        }
        : toBridgeError(error);
      entry.read = { state: "unavailable", error: { code, message, hint }, at };
      entry.failures++;
      const { retryMs, maxRetryMs } = this.#timing;
      entry.next = at + Math.min(maxRetryMs, retryMs * 2 ** Math.min(entry.failures - 1, 16));
    } finally {
      clearTimeout(timer);
      entry.inflight = null;
    }
  }
}
