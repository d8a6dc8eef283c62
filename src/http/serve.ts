/**
 * Serves the HTTP app with `Deno.serve` until SIGTERM/SIGINT (or `signal`),
 * then shuts down within 10 s: in-flight calls are cancelled, sessions closed,
 * and open connections drained.
 *
 * @module
 */
import type { BridgeServer } from "../server.ts";
import { type Config, ConfigError } from "../config.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import type { Logger } from "../log.ts";
import { createApp } from "./app.ts";
import { isLoopback } from "./guards.ts";

/** Longest graceful shutdown. */
export const SHUTDOWN_MS = 10_000;

/** What {@linkcode serveHttp} needs. */
export interface ServeOptions {
  /** Configuration. */
  config: Config;
  /** Builds an MCP server for a principal; its calls stop when `shutdown` aborts. */
  createServer: (owner: string) => BridgeServer;
  /** Aborted when shutdown begins: cancels tool calls in flight. */
  shutdown: AbortController;
  /** Gateways (for /ready). */
  gateways: GatewayRegistry;
  /** KV (for /ready). */
  kv: Deno.Kv;
  /** Logger. */
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

/** Serves until a shutdown signal; resolves once stopped. Call {@linkcode checkExposure} first. */
export async function serveHttp(options: ServeOptions): Promise<void> {
  const { config, log } = options;
  // The issuer defaults to the address we end up listening on (port 0 included).
  let listened = "";
  const issuer = () => config.auth.issuerUrl ?? listened;
  const { app, sessions } = await createApp({ ...options, issuer });
  const stopping = new AbortController();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      signal: stopping.signal,
      onListen: (addr) => {
        const url = displayUrl(addr as Deno.NetAddr);
        listened = url;
        if (
          config.auth.enabled && !isLoopback(config.host) && isLoopback(new URL(issuer()).hostname)
        ) {
          log.warn("oauth_issuer_loopback", {
            message:
              "OAuth is on and the issuer is a loopback URL while serving a non-loopback address; set MCP_ISSUER_URL to the public URL clients use",
          });
        }
        log.info("listening", { url, mcp: `${url}/mcp`, port: (addr as Deno.NetAddr).port });
        console.error(`openclaw-mcp: serving MCP (Streamable HTTP) at ${url}/mcp`);
      },
    }, app.fetch);
  } catch (error) {
    await sessions?.close();
    throw bindError(error, config);
  }

  const stop = () => {
    if (stopping.signal.aborted) return;
    stopping.abort();
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
  await Promise.race([
    server.finished,
    new Promise((r) => stopping.signal.addEventListener("abort", r, { once: true })),
  ]);
  // Stopping: connections drain (stop() closed the sessions and their streams),
  // bounded by SHUTDOWN_MS for anything still holding on.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    server.finished,
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
