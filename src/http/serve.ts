/**
 * Serves the HTTP app with `Deno.serve` until SIGTERM/SIGINT (or `signal`),
 * then shuts down within 10 s: in-flight calls are cancelled, sessions closed,
 * and open connections drained.
 * A failing listener (out of file handles) never ends the process: it is
 * opened again on the same port.
 *
 * @module
 */
import type { BridgeServer, Era } from "../server.ts";
import { type Config, ConfigError } from "../config.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import type { Logger } from "../log.ts";
import { type AppDeps, createApp } from "./app.ts";
import { isLoopback } from "./guards.ts";
import { relisten } from "./relisten.ts";

export { RELISTEN_FIRST_MS, RELISTEN_MAX_MS } from "./relisten.ts";

/** Milliseconds shutdown waits for open connections to drain before it returns anyway. */
export const SHUTDOWN_MS = 10_000;

/** What {@linkcode serveHttp} needs. */
export interface ServeOptions {
  /** The loaded configuration: `host`, `port`, `http` and `auth` decide what is served and how. */
  config: Config;
  /** Builds an MCP server for a principal; its calls stop when `shutdown` aborts. */
  createServer: (owner: string, era?: Era) => BridgeServer;
  /** Aborted when shutdown begins: cancels tool calls in flight. */
  shutdown: AbortController;
  /** The instances `/ready` probes (each at most once per `READY_PROBE_TTL_MS`, see `ready.ts`). */
  gateways: GatewayRegistry;
  /** The open store: `/ready` reads it, OAuth keeps its state in it. */
  kv: Deno.Kv;
  /** Receives `listening`, `shutting_down` and listener failures, and is passed to the app. */
  log: Logger;
  /** This process's metrics, served at `/metrics`. */
  metrics?: AppDeps["metrics"];
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
 * --allow-insecure, or with a static or metrics token or owner password that is too short.
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
  const metricsToken = config.http.metricsToken;
  if (metricsToken !== undefined && metricsToken.length < MIN_TOKEN_CHARS) {
    throw new ConfigError(
      `MCP_METRICS_TOKEN/--metrics-token (value hidden): shorter than ${MIN_TOKEN_CHARS} characters, too easy to guess on a non-loopback bind; generate one with: openssl rand -hex 32`,
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

/**
 * Serves until a shutdown signal; resolves once stopped. Call {@linkcode checkExposure} first.
 *
 * A listener that fails (out of file handles) is opened again on the same
 * port until shutdown ({@linkcode relisten}); only the first bind's failure
 * is an error to the caller.
 */
export async function serveHttp(options: ServeOptions): Promise<void> {
  const { config, log } = options;
  // The issuer defaults to the address we end up listening on (port 0 included).
  let listened = "";
  const issuer = () => config.auth.issuerUrl ?? listened;
  const { app, sessions, modern, operator } = await createApp({ ...options, issuer });
  const listeners = listenerPool(config.host, app.fetch);
  let first: Deno.HttpServer;
  try {
    first = listeners.listen(config.port, (addr) => {
      listened = displayUrl(addr);
      announce(config, log, { url: listened, port: addr.port });
    });
  } catch (error) {
    await Promise.all([sessions?.close(), modern.close()]);
    throw bindError(error, config);
  }

  const stopping = new AbortController();
  const stop = () => {
    if (stopping.signal.aborted) return;
    stopping.abort();
    listeners.abortAll();
    log.info("shutting_down", { sessions: sessions?.size ?? 0 });
    options.shutdown.abort();
    operator?.close();
    sessions?.close();
    modern.close().catch(() => {});
  };
  const unwatch = onStopSignals(stop);
  options.shutdown.signal.addEventListener("abort", stop);
  // Listening again reuses the port we got (port 0 included).
  const port = (first.addr as Deno.NetAddr).port;
  await relisten(first, { port, listen: listeners.listen, signal: stopping.signal, log });
  // Stopping: connections drain (stop() closed the sessions and their streams),
  // bounded by SHUTDOWN_MS for anything still holding on.
  await listeners.drained(SHUTDOWN_MS);
  unwatch();
  await Promise.all([sessions?.close(), modern.close()]);
}

/** Logs (and prints) where MCP is served; warns about a loopback issuer on a public bind. */
function announce(config: Config, log: Logger, at: { url: string; port: number }): void {
  const { url, port } = at;
  const issuer = config.auth.issuerUrl ?? url;
  if (config.auth.enabled && !isLoopback(config.host) && isLoopback(new URL(issuer).hostname)) {
    log.warn("oauth_issuer_loopback", {
      message:
        "OAuth is on and the issuer is a loopback URL while serving a non-loopback address; set MCP_ISSUER_URL to the public URL clients use",
    });
  }
  log.info("listening", { url, mcp: `${url}/mcp`, port });
  console.error(`openclaw-mcp: serving MCP (Streamable HTTP) at ${url}/mcp`);
}

/**
 * The listeners not yet finished, each with its own abort: one that failed
 * is dropped, so a long accept-error storm holds no dead servers.
 */
function listenerPool(hostname: string, fetch: Deno.ServeHandler) {
  const live = new Map<Deno.HttpServer, AbortController>();
  return {
    /** Listens on `port` (throws when it cannot), calling `onListen` with the bound address. */
    listen(port: number, onListen: (addr: Deno.NetAddr) => void): Deno.HttpServer {
      const controller = new AbortController();
      const server = Deno.serve({
        hostname,
        port,
        signal: controller.signal,
        onListen: (addr) => onListen(addr as Deno.NetAddr),
      }, fetch);
      live.set(server, controller);
      server.finished.finally(() => live.delete(server)).catch(() => {});
      return server;
    },
    /** Stops every listener accepting; their open connections drain. */
    abortAll(): void {
      for (const controller of live.values()) controller.abort();
    },
    /** Resolves once every listener has finished, or after `ms` at the latest. */
    async drained(ms: number): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...live.keys()].map((s) => s.finished)),
        new Promise((r) => timer = setTimeout(r, ms)),
      ]);
      clearTimeout(timer);
    },
  };
}

const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Calls `stop` on SIGTERM and SIGINT; returns the function that stops listening for them. */
function onStopSignals(stop: () => void): () => void {
  for (const signal of STOP_SIGNALS) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Not every platform has every signal.
    }
  }
  return () => {
    for (const signal of STOP_SIGNALS) {
      try {
        Deno.removeSignalListener(signal, stop);
      } catch {
        // See above.
      }
    }
  };
}
