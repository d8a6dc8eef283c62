/**
 * Serves the HTTP app with `Deno.serve` until SIGTERM/SIGINT (or `signal`),
 * then shuts down within 10 s: in-flight calls are cancelled, sessions closed,
 * and open connections drained.
 * A failing listener (out of file handles) never ends the process: it is
 * opened again on the same port.
 *
 * @module
 */
import type { BridgeServer } from "../server.ts";
import { type Config, ConfigError } from "../config.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import type { Logger } from "../log.ts";
import { createApp } from "./app.ts";
import { isLoopback } from "./guards.ts";

/** Milliseconds shutdown waits for open connections to drain before it returns anyway. */
export const SHUTDOWN_MS = 10_000;

/** What {@linkcode serveHttp} needs. */
export interface ServeOptions {
  /** The loaded configuration: `host`, `port`, `http` and `auth` decide what is served and how. */
  config: Config;
  /** Builds an MCP server for a principal; its calls stop when `shutdown` aborts. */
  createServer: (owner: string) => BridgeServer;
  /** Aborted when shutdown begins: cancels tool calls in flight. */
  shutdown: AbortController;
  /** The instances `/ready` probes (each at most once per `READY_PROBE_TTL_MS`, see `ready.ts`). */
  gateways: GatewayRegistry;
  /** The open store: `/ready` reads it, OAuth keeps its state in it. */
  kv: Deno.Kv;
  /** Receives `listening`, `shutting_down` and listener failures, and is passed to the app. */
  log: Logger;
}

/** Shortest static bearer token accepted on a non-loopback bind. */
export const MIN_TOKEN_CHARS = 16;
/** Shortest owner password accepted on a non-loopback bind. */
export const MIN_PASSWORD_CHARS = 12;

/**
 * Refuses configurations that would expose the server unauthenticated, or
 * behind secrets short enough to guess.
 *
 * @throws {ConfigError} for a non-loopback bind without auth and without
 * --allow-insecure, or with a static token or owner password that is too short.
 */
export function checkExposure(config: Config): void {
  const authenticated = config.http.authTokens.length > 0 || config.auth.enabled;
  if (isLoopback(config.host)) return;
  if (!authenticated && !config.http.allowInsecure) {
    throw new ConfigError(
      `HOST/--host=${
        JSON.stringify(config.host)
      } is not a loopback address and no authentication is configured; set MCP_AUTH_TOKENS (or --auth-token), or pass --allow-insecure if something in front of this server authenticates`,
    );
  }
  const short = config.http.authTokens.findIndex((t) => t.length < MIN_TOKEN_CHARS);
  if (short !== -1) {
    throw new ConfigError(
      `MCP_AUTH_TOKENS/--auth-token (value hidden): token ${
        short + 1
      } is shorter than ${MIN_TOKEN_CHARS} characters, too easy to guess on a non-loopback bind; generate one with: openssl rand -hex 32`,
    );
  }
  const password = config.auth.ownerPassword;
  if (config.auth.enabled && password !== undefined && password.length < MIN_PASSWORD_CHARS) {
    throw new ConfigError(
      `MCP_OWNER_PASSWORD (value hidden): shorter than ${MIN_PASSWORD_CHARS} characters, too easy to guess on a non-loopback bind; choose a longer one (e.g. openssl rand -base64 18)`,
    );
  }
}

/** Turns a failure to listen into a one-line configuration error. */
function bindError(error: unknown, config: Config): unknown {
  const where = `HOST/--host=${JSON.stringify(config.host)} PORT/--port=${config.port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new ConfigError(
      `${where}: the address is already in use; stop the other process or choose another port (--port 0 picks a free one)`,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable || error instanceof TypeError) {
    return new ConfigError(
      `${where}: not an address this machine can listen on; use e.g. 127.0.0.1 or 0.0.0.0`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ConfigError(
      `${where}: permission denied (ports below 1024 need privileges); choose a port above 1024`,
    );
  }
  return error;
}

function displayUrl(addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `http://${host}:${addr.port}`;
}

/** First wait before listening again after the listener failed. */
export const RELISTEN_FIRST_MS = 100;
/** Longest wait between attempts to listen again (doubling from the first). */
export const RELISTEN_MAX_MS = 2_000;
/** A listener that served this long before failing starts the backoff over. */
const RELISTEN_STABLE_MS = 30_000;

/** `name: message` of an error, never its stack. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Serves until a shutdown signal; resolves once stopped. Call {@linkcode checkExposure} first.
 *
 * Deno's server stops accepting for good on an accept error (EMFILE "Too many
 * open files" when idle connections use up the process's file handles):
 * `finished` rejects and the listener closes, while accepted connections stay
 * open. We log it, wait (backing off) and listen again on the same port, until
 * shutdown. Only the first bind's failure is an error to the caller.
 */
export async function serveHttp(options: ServeOptions): Promise<void> {
  const { config, log } = options;
  // The issuer defaults to the address we end up listening on (port 0 included).
  let listened = "";
  const issuer = () => config.auth.issuerUrl ?? listened;
  const { app, sessions } = await createApp({ ...options, issuer });
  const stopping = new AbortController();
  // Listeners not yet finished, each with its own abort: one that failed is
  // dropped, so a long accept-error storm holds no dead servers or listeners.
  const live = new Map<Deno.HttpServer, AbortController>();
  const listen = (port: number, onListen: (addr: Deno.NetAddr) => void): Deno.HttpServer => {
    const controller = new AbortController();
    const server = Deno.serve({
      hostname: config.host,
      port,
      signal: controller.signal,
      onListen: (addr) => onListen(addr as Deno.NetAddr),
    }, app.fetch);
    live.set(server, controller);
    server.finished.finally(() => live.delete(server)).catch(() => {});
    return server;
  };
  let first: Deno.HttpServer;
  try {
    first = listen(config.port, (addr) => {
      const url = displayUrl(addr);
      listened = url;
      if (
        config.auth.enabled && !isLoopback(config.host) && isLoopback(new URL(issuer()).hostname)
      ) {
        log.warn("oauth_issuer_loopback", {
          message:
            "OAuth is on and the issuer is a loopback URL while serving a non-loopback address; set MCP_ISSUER_URL to the public URL clients use",
        });
      }
      log.info("listening", { url, mcp: `${url}/mcp`, port: addr.port });
      console.error(`openclaw-mcp: serving MCP (Streamable HTTP) at ${url}/mcp`);
    });
  } catch (error) {
    await sessions?.close();
    throw bindError(error, config);
  }
  // Listening again reuses the port we got (port 0 included).
  const port = (first.addr as Deno.NetAddr).port;

  const stop = () => {
    if (stopping.signal.aborted) return;
    stopping.abort();
    for (const controller of live.values()) controller.abort();
    log.info("shutting_down", { sessions: sessions?.size ?? 0 });
    options.shutdown.abort();
    sessions?.close();
  };
  const signals = ["SIGTERM", "SIGINT"] as const;
  for (const signal of signals) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Not every platform has every signal.
    }
  }
  options.shutdown.signal.addEventListener("abort", stop);
  const stopped = new Promise<"stopped">((r) =>
    stopping.signal.addEventListener("abort", () => r("stopped"), { once: true })
  );
  const pause = (ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([stopped, new Promise((r) => timer = setTimeout(r, ms))])
      .finally(() => clearTimeout(timer));
  };

  let current: Deno.HttpServer | undefined = first;
  let failure: unknown;
  let failures = 0;
  while (!stopping.signal.aborted) {
    if (current) {
      const since = performance.now();
      const outcome = await Promise.race([
        current.finished.then(() => new Error("the listener closed"), (error: unknown) => error),
        stopped,
      ]);
      if (outcome === "stopped" || stopping.signal.aborted) break;
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
    await pause(retryMs);
    if (stopping.signal.aborted) break;
    try {
      current = listen(port, () => log.info("http_listener_resumed", { port, failures }));
    } catch (error) {
      current = undefined;
      failure = error;
    }
  }
  // Stopping: connections drain (stop() closed the sessions and their streams),
  // bounded by SHUTDOWN_MS for anything still holding on.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...live.keys()].map((s) => s.finished)),
    new Promise((r) => timer = setTimeout(r, SHUTDOWN_MS)),
  ]);
  clearTimeout(timer);
  for (const signal of signals) {
    try {
      Deno.removeSignalListener(signal, stop);
    } catch {
      // See above.
    }
  }
  await sessions?.close();
}
