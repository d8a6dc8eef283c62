/**
 * `GET /health`: the server is up, and how it serves (version, session mode,
 * auth mode). Needs no login and touches nothing outside the process.
 *
 * @module
 */
import type { Handler } from "hono";
import { VERSION } from "../version.ts";

/** How `/mcp` authenticates: OAuth, static bearer tokens, or not at all. */
export type AuthMode = "oauth" | "bearer" | "none";

/** What {@linkcode healthHandler} reports. */
export interface HealthOptions {
  /** True in stateless mode (`--stateless`): reported as `mode`. */
  stateless: boolean;
  /** Reported as `auth`. */
  auth: AuthMode;
  /** Open sessions now (0 in stateless mode); reported only when `debug` is on. */
  sessions?: () => number;
  /** `--debug`: adds the session count, which says how busy the server is. */
  debug?: boolean;
}

/**
 * The `/health` handler: 200 `{status: "ok", version, transport, mode, auth}`
 * (plus `sessions` with `debug`).
 *
 * @example
 * ```ts
 * app.get("/health", healthHandler({ stateless: false, auth: "bearer" }));
 * ```
 */
export function healthHandler(options: HealthOptions): Handler {
  return function health(c) {
    return c.json({
      status: "ok",
      version: VERSION,
      transport: "http",
      mode: options.stateless ? "stateless" : "stateful",
      auth: options.auth,
      ...(options.debug ? { sessions: options.sessions?.() ?? 0 } : {}),
    });
  };
}
