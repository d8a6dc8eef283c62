/**
 * `GET /operator/events`: the operator page's live feed, Server-Sent
 * Events. Each second the current snapshot is taken (one per second for all
 * feeds, see `snapshot.ts`) and sent when it changed: as JSON (`event:
 * snapshot`, for scripts) or, with `?format=html`, as the page's live part
 * rendered by the server (`event: html`, for the page's script). A comment
 * every 15 s keeps proxies from closing a quiet stream.
 *
 * Bounded, per process: at most {@linkcode FEEDS_PER_PRINCIPAL} open feeds
 * per sign-in or token and {@linkcode FEEDS_TOTAL} in all (more get 429);
 * each ends after {@linkcode FEED_MAX_MS} (`event: end`, reason `expired`;
 * the browser reconnects), and as soon as its access is gone (reason
 * `signed_out`, checked every {@linkcode ACCESS_RECHECK_MS}) or the server
 * shuts down.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { errorResponse } from "../http/error_response.ts";
import { NO_STORE_HEADERS } from "./page.ts";
import type { OperatorSnapshot } from "./snapshot.ts";

/** How often a feed looks for a change. */
export const FEED_INTERVAL_MS = 1_000;
/** A feed ends after this long; the browser's EventSource opens the next. */
export const FEED_MAX_MS = 5 * 60_000;
/** How often a feed checks that its reader may still read it. */
export const ACCESS_RECHECK_MS = 5_000;
/** A comment is sent after this long without an event. */
export const HEARTBEAT_MS = 15_000;
/** Open feeds per sign-in, token or loopback viewer, in one process. */
export const FEEDS_PER_PRINCIPAL = 4;
/** Open feeds in one process. */
export const FEEDS_TOTAL = 32;
/** What the browser waits before reconnecting (sent as `retry`). */
const RETRY_MS = 2_000;

/** What a feed sends: JSON snapshots, or the page's live part as HTML. */
export type FeedFormat = "json" | "html";

/** What {@linkcode OperatorFeeds} needs. */
export interface FeedOptions {
  /** The current snapshot (shared, at most one built per second). */
  snapshot: () => Promise<OperatorSnapshot>;
  /** Renders the page's live part of a snapshot. */
  render: (snapshot: OperatorSnapshot) => string;
  /** Logs snapshot failures (the feed goes on). */
  log: Logger;
  /** Overrides for tests. */
  limits?: Partial<FeedLimits>;
}

/** The feeds' timing and caps. */
export interface FeedLimits {
  /** See {@linkcode FEED_INTERVAL_MS}. */
  intervalMs: number;
  /** See {@linkcode FEED_MAX_MS}. */
  maxMs: number;
  /** See {@linkcode ACCESS_RECHECK_MS}. */
  recheckMs: number;
  /** See {@linkcode HEARTBEAT_MS}. */
  heartbeatMs: number;
  /** See {@linkcode FEEDS_PER_PRINCIPAL}. */
  perPrincipal: number;
  /** See {@linkcode FEEDS_TOTAL}. */
  total: number;
}

/** One request for a feed. */
export interface FeedRequest {
  /** Whose feed it is (a sign-in, a token id, `loopback`): the per-principal cap's key. */
  principal: string;
  /** What to send. */
  format: FeedFormat;
  /** Whether the reader may still read (asked every {@linkcode ACCESS_RECHECK_MS}). */
  allowed: () => Promise<boolean>;
}

const encoder = new TextEncoder();

/** One SSE event: each line of `data` on its own `data:` line. */
function event(name: string, data: string): string {
  const lines = data.replace(/\r\n?/g, "\n").split("\n").map((l) => `data: ${l}`).join("\n");
  return `event: ${name}\n${lines}\n\n`;
}

/** The open feeds of this process. */
export class OperatorFeeds {
  #options: FeedOptions;
  #limits: FeedLimits;
  #open = new Map<string, number>();
  #stops = new Set<AbortController>();

  /** Feeds of `options.snapshot`, within the limits. */
  constructor(options: FeedOptions) {
    this.#options = options;
    this.#limits = {
      intervalMs: FEED_INTERVAL_MS,
      maxMs: FEED_MAX_MS,
      recheckMs: ACCESS_RECHECK_MS,
      heartbeatMs: HEARTBEAT_MS,
      perPrincipal: FEEDS_PER_PRINCIPAL,
      total: FEEDS_TOTAL,
      ...options.limits,
    };
  }

  /** Feeds open now. */
  get size(): number {
    return this.#stops.size;
  }

  /** Opens a feed, or answers 429 when the principal or the process has too many. */
  open(request: FeedRequest): Response {
    const { perPrincipal, total } = this.#limits;
    const mine = this.#open.get(request.principal) ?? 0;
    if (mine >= perPrincipal || this.#stops.size >= total) {
      return errorResponse({
        code: "quota_exceeded",
        message: mine >= perPrincipal
          ? `Too many live feeds: at most ${perPrincipal} per sign-in are open at once.`
          : `Too many live feeds: this server keeps at most ${total} open at once.`,
        hint: "Close another operator tab, or read /operator/snapshot instead.",
      }, { ...NO_STORE_HEADERS, "retry-after": "10" });
    }
    const stop = new AbortController();
    this.#open.set(request.principal, mine + 1);
    this.#stops.add(stop);
    const done = () => {
      if (!this.#stops.delete(stop)) return;
      const left = (this.#open.get(request.principal) ?? 1) - 1;
      if (left > 0) this.#open.set(request.principal, left);
      else this.#open.delete(request.principal);
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#run(request, { controller, signal: stop.signal }).finally(() => {
          done();
          try {
            controller.close();
          } catch {
            // Already closed by the reader going away.
          }
        });
      },
      cancel: () => stop.abort(),
    });
    return new Response(body, {
      headers: { ...NO_STORE_HEADERS, "content-type": "text/event-stream; charset=utf-8" },
    });
  }

  /** Ends every feed (server shutdown). */
  close(): void {
    for (const stop of this.#stops) stop.abort();
  }

  async #run(
    request: FeedRequest,
    stream: { controller: ReadableStreamDefaultController<Uint8Array>; signal: AbortSignal },
  ): Promise<void> {
    const { controller, signal } = stream;
    const { intervalMs, maxMs, recheckMs, heartbeatMs } = this.#limits;
    const send = (text: string) => {
      if (!signal.aborted) controller.enqueue(encoder.encode(text));
    };
    const started = performance.now();
    let checked = started;
    let lastSent = started;
    let last = "";
    send(`retry: ${RETRY_MS}\n\n`);
    while (!signal.aborted) {
      const t = performance.now();
      if (t - started >= maxMs) {
        send(event("end", JSON.stringify({ reason: "expired" })));
        return;
      }
      if (t - checked >= recheckMs) {
        checked = t;
        if (!(await request.allowed())) {
          send(event("end", JSON.stringify({ reason: "signed_out" })));
          return;
        }
      }
      const data = await this.#data(request.format);
      if (data !== null && data !== last) {
        last = data;
        lastSent = performance.now();
        send(event(request.format === "html" ? "html" : "snapshot", data));
      } else if (performance.now() - lastSent >= heartbeatMs) {
        lastSent = performance.now();
        send(": ping\n\n");
      }
      await sleep(intervalMs, signal);
    }
  }

  /** The event's data, or null when the snapshot failed (logged; the next tick tries again). */
  async #data(format: FeedFormat): Promise<string | null> {
    try {
      const snapshot = await this.#options.snapshot();
      return format === "html" ? this.#options.render(snapshot) : JSON.stringify(snapshot);
    } catch (error) {
      this.#options.log.error("operator_snapshot_failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      return null;
    }
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
