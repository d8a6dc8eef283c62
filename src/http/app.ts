/**
 * The HTTP app: Streamable HTTP at `/mcp` (both protocol eras: 2025-11-25
 * requests go to sessions or the stateless transport, 2026-07-28 requests
 * to the per-request leg) plus `/health`, `/ready`, `/metrics` and the
 * owner's operator page at `/` (its own sign-in, see `src/operator/`), behind
 * the guards, in this order: Host/Origin, CORS, body limit, auth (failed
 * attempts limited per client address), rate limit (per verified principal,
 * each batch element counted).
 *
 * @module
 */
import type { BridgeServer, Era } from "../server.ts";
import { type Context, type ErrorHandler, type Handler, Hono, type NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Config } from "../config.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import type { Logger } from "../log.ts";
import { createOAuth } from "../auth/oauth.ts";
import { handleStateless, SessionManager } from "./sessions.ts";
import { isLegacy, type ModernLeg, modernLeg } from "./modern.ts";
import { MODERN_PROTOCOL_VERSION, unsupportedVersion } from "./protocol_version.ts";
import { rpcError } from "./rpc_error.ts";
import { errorResponse } from "./error_response.ts";
import { toBridgeError } from "../errors.ts";
import { type GuardEnv, mcpGuards, siteGuards } from "./guard_chain.ts";
import { type AuthMode, healthHandler } from "./health.ts";
import { readBody } from "./rpc_body.ts";
import { readyHandler } from "./ready.ts";
import type { BridgeMetrics } from "../metrics/bridge_metrics.ts";
import { metricsAccess } from "../metrics/access.ts";
import { ProbeCache } from "../gateway/probe_cache.ts";
import { type OperatorApp, operatorApp } from "../operator/routes.ts";

export { MAX_BODY_BYTES } from "./guard_chain.ts";
export { READY_PROBE_TTL_MS } from "./ready.ts";
export type { RpcBody } from "./rpc_body.ts";

/** The principal of requests when no authentication is configured. */
export const ANONYMOUS = "anonymous";

/** What the app needs. */
export interface AppDeps {
  /** The loaded configuration (`http`, `auth`, `corsOrigins`, `trustProxy`, `debug` are read). */
  config: Config;
  /** Builds an MCP server for a principal, in one era (default 2025, `legacy`). */
  createServer: (owner: string, era?: Era) => BridgeServer;
  /** The instances `/ready` probes (each at most once per `READY_PROBE_TTL_MS`, see `ready.ts`). */
  gateways: GatewayRegistry;
  /** The open store: `/ready` reads it, OAuth keeps its state in it. */
  kv: Deno.Kv;
  /** Receives `http_error` with the stack of a crash (clients get none) and is passed to OAuth and sessions. */
  log: Logger;
  /** Public base URL (the OAuth issuer); known once the server listens. */
  issuer: () => string;
  /** Clock in ms (sessions, the /ready cache, the /metrics refusal limit). */
  now?: () => number;
  /** This process's metrics: served at `/metrics` (see `metrics/access.ts`); no route without. */
  metrics?: Pick<BridgeMetrics, "expose" | "contentType" | "watchSessions">;
}

/** The app and the session table it serves. */
export interface HttpApp {
  /** The Hono app; serve `app.fetch`. */
  app: Hono<Env>;
  /** Sessions (null in stateless mode). */
  sessions: SessionManager | null;
  /** The 2026-07-28 leg; close it at shutdown with the sessions. */
  modern: ModernLeg;
  /** The operator page at `/` (null with `MCP_OPERATOR_PAGE=false`); close it at shutdown (ends its feeds). */
  operator: OperatorApp | null;
}

/**
 * Hono environment: Deno's serve info, the principal set by auth, and the
 * parsed body (shared by the rate limit, which counts batch elements, and
 * the handler).
 */
export type Env = { Bindings: Deno.ServeHandlerInfo } & GuardEnv;

/**
 * Builds the HTTP app: Host/Origin guard and CORS on every route; `/health`,
 * `/ready`, the operator page (`/`, `/operator/*`), `/metrics` (behind its
 * own guard, which also takes the operator's sign-in, outside the
 * per-principal rate limit), OAuth and the retired `/sse` routes; then on
 * `/mcp` a body
 * limit, authentication (with its per-address attempt limit) and the
 * per-principal rate limit. Async because the bearer middleware digests the
 * static tokens first.
 */
export async function createApp(deps: AppDeps): Promise<HttpApp> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const auth = authMode(config);
  const sessions = config.http.stateless ? null : createSessions(deps, auth);
  const oauth = config.auth.enabled
    ? createOAuth({ config, kv: deps.kv, issuer: deps.issuer, log })
    : undefined;
  const app = new Hono<Env>();

  app.use("*", ...siteGuards(config));
  app.get(
    "/health",
    healthHandler({
      stateless: config.http.stateless,
      auth,
      debug: config.debug,
      sessions: () => sessions?.size ?? 0,
    }),
  );
  // One probe cache: /ready and the operator page read the same verdicts.
  const probes = new ProbeCache(deps.gateways, { now });
  app.get("/ready", readyHandler({ gateways: deps.gateways, probes, kv: deps.kv }));
  const operator = config.http.operatorPage
    ? operatorApp({
      config,
      kv: deps.kv,
      issuer: deps.issuer,
      log,
      probes,
      gateways: deps.gateways,
      sessions: () => sessions?.size ?? null,
      auth,
      now,
    })
    : null;
  const { metrics } = deps;
  if (metrics) {
    metrics.watchSessions(() => sessions?.size ?? 0);
    // The operator's browser, signed in to the page, may read it too.
    const allow = operator ? (c: Context) => operator.access.hasOperatorSession(c) : undefined;
    app.get("/metrics", metricsAccess(config, { now, allow }), async function scrape() {
      return new Response(await metrics.expose(), {
        headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
      });
    });
  }
  if (operator) app.route("/", operator.app);
  if (oauth) app.route("/", oauth.app);
  app.all("/sse", gone);
  app.all("/messages", gone);

  app.use("/mcp", ...await mcpGuards(config, { oauth, now }));
  const modern = modernLeg(deps.createServer, log);
  app.on(["GET", "POST", "DELETE"], "/mcp", mcpHandler({ sessions, modern }, deps.createServer));
  app.all("/mcp", methodNotAllowed);

  app.notFound(notFound);
  app.onError(errorHandler(log));
  return { app, sessions, modern, operator };
}

function authMode(config: Config): AuthMode {
  if (config.auth.enabled) return "oauth";
  return config.http.authTokens.length ? "bearer" : "none";
}

/** The session table, warning when one principal could hold every session. */
function createSessions(deps: AppDeps, auth: AuthMode): SessionManager {
  const { http } = deps.config;
  if (auth !== "none" && http.maxSessionsPerPrincipal >= http.maxSessions) {
    deps.log.warn("sessions_per_principal_not_below_total", {
      max_sessions: http.maxSessions,
      max_sessions_per_principal: http.maxSessionsPerPrincipal,
      message:
        "one principal can hold every session and leave the others with 503; set MCP_MAX_SESSIONS_PER_PRINCIPAL below MCP_MAX_SESSIONS",
    });
  }
  return new SessionManager({
    createServer: deps.createServer,
    idleMs: http.sessionIdleMs,
    max: http.maxSessions,
    // Without authentication every caller is the one anonymous principal:
    // a share of the slots would only lower the global cap.
    maxPerPrincipal: auth === "none" ? http.maxSessions : http.maxSessionsPerPrincipal,
    log: deps.log,
    now: deps.now ?? Date.now,
  });
}

/**
 * `/mcp`: the body read once by the guards; a 2026-07-28 request is answered
 * on its own, a 2025 one by the caller's session or statelessly.
 */
function mcpHandler(
  legs: { sessions: SessionManager | null; modern: ModernLeg },
  createServer: AppDeps["createServer"],
): Handler<Env> {
  const { sessions, modern } = legs;
  return async function mcp(c) {
    const owner = c.get("principal") ?? ANONYMOUS;
    let body: unknown;
    if (c.req.method === "POST") {
      const read = await readBody(c);
      if (!read.ok) return read.response;
      body = read.value;
    }
    if (!(await isLegacy(c.req.raw, body))) return await modern.handle(c.req.raw, owner, body);
    if (
      c.req.method !== "POST" && c.req.header("mcp-protocol-version") === MODERN_PROTOCOL_VERSION
    ) {
      // 2026-07-28 has no standalone stream (GET) and no session to end (DELETE).
      return rpcError(405, -32000, "Method not allowed: 2026-07-28 requests are POSTs", {
        allow: "POST",
      });
    }
    const refused = unsupportedVersion(c.req.raw, body);
    if (refused) return refused;
    if (!sessions) return await handleStateless(c.req.raw, createServer(owner), body);
    return await sessions.handle(c.req.raw, owner, body);
  };
}

function methodNotAllowed(c: Context): Response {
  c.header("Allow", "GET, POST, DELETE");
  return rpcError(405, -32000, "Method not allowed on /mcp");
}

/** The retired HTTP+SSE transport's routes. */
function gone(): Response {
  return errorResponse({
    code: "gone",
    message: "The HTTP+SSE transport was removed; use Streamable HTTP at /mcp.",
    hint: "Point the client at /mcp (transport: Streamable HTTP).",
  });
}

const notFound: NotFoundHandler = (c) =>
  errorResponse({
    code: "not_found",
    message: `No route for ${c.req.method} ${c.req.path}.`,
    hint: "MCP is at /mcp; /health and /ready report status; the operator page is at /.",
  });

/** A crash: logged with its stack; the client gets a coded error without one. */
function errorHandler(log: Logger): ErrorHandler {
  return (error, c) => {
    // Middleware such as bearerAuth signals refusals (401) by throwing these.
    if (error instanceof HTTPException) return error.getResponse();
    log.error("http_error", {
      path: c.req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
    return c.req.path === "/mcp"
      ? rpcError(500, -32603, "Internal error: the server hit an unexpected error")
      : errorResponse(toBridgeError(error));
  };
}
