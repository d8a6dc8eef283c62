/**
 * Keeps a port served: when the listener fails (Deno's server stops
 * accepting for good on an accept error, e.g. EMFILE "Too many open files"
 * when idle connections use up the process's file handles), the failure is
 * logged and the port is listened on again, backing off, until stopped.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** First wait before listening again after the listener failed. */
export const RELISTEN_FIRST_MS = 100;
/** Longest wait between attempts to listen again (doubling from the first). */
export const RELISTEN_MAX_MS = 2_000;
/** A listener that served this long before failing starts the backoff over. */
const RELISTEN_STABLE_MS = 30_000;

/** A listener as {@linkcode relisten} watches it (a `Deno.HttpServer` is one). */
export interface Listener {
  /** Settles when the listener stops: rejects on an accept error. */
  finished: Promise<void>;
}

/** What {@linkcode relisten} needs. */
export interface RelistenOptions {
  /** The port to listen on again (the one the first listener got, port 0 resolved). */
  port: number;
  /** Opens a listener on `port`, calling `onListen` once it listens; throws when it cannot. */
  listen(port: number, onListen: () => void): Listener;
  /** Aborted to stop: {@linkcode relisten} then resolves without listening again. */
  signal: AbortSignal;
  /** Receives `http_listener_failed` (with the next wait) and `http_listener_resumed`. */
  log: Logger;
}

/**
 * Watches `first` and every listener after it until `options.signal`
 * aborts; resolves then. A listener that closes or fails is replaced after
 * a wait doubling from {@linkcode RELISTEN_FIRST_MS} to
 * {@linkcode RELISTEN_MAX_MS}; one that served for 30 s first starts the
 * backoff over.
 *
 * @example
 * ```ts ignore
 * await relisten(server, { port, listen, signal: stopping.signal, log });
 * ```
 */
export async function relisten(first: Listener, options: RelistenOptions): Promise<void> {
  const { port, signal, log } = options;
  const stopped = abortPromise(signal);
  let current: Listener | undefined = first;
  let failure: unknown;
  let failures = 0;
  while (!signal.aborted) {
    if (current) {
      const since = performance.now();
      const outcome = await Promise.race([
        current.finished.then(() => new Error("the listener closed"), (error: unknown) => error),
        stopped,
      ]);
      if (outcome === STOPPED || signal.aborted) break;
      failure = outcome;
      if (performance.now() - since >= RELISTEN_STABLE_MS) failures = 0;
    }
    failures++;
    const retryMs = Math.min(RELISTEN_MAX_MS, RELISTEN_FIRST_MS * 2 ** (failures - 1));
    log.error("http_listener_failed", {
      error: describe(failure),
      port,
      failures,
      retry_ms: retryMs,
      hint: failure instanceof Error && /os error 24\b/.test(failure.message)
        ? "out of file handles: idle connections hold them; raise the limit (ulimit -n, LimitNOFILE) and cap connections in the reverse proxy"
        : undefined,
    });
    await sleep(retryMs, signal);
    if (signal.aborted) break;
    try {
      current = options.listen(port, () => log.info("http_listener_resumed", { port, failures }));
    } catch (error) {
      current = undefined;
      failure = error;
    }
  }
}

const STOPPED = Symbol("stopped");

function abortPromise(signal: AbortSignal): Promise<typeof STOPPED> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(STOPPED);
    signal.addEventListener("abort", () => resolve(STOPPED), { once: true });
  });
}

/** Resolves after `ms`, or at once when `signal` aborts (its timer cleared either way). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** `name: message` of an error, never its stack. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
