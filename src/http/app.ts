/**
 * The HTTP app: Streamable HTTP at `/mcp` plus `/health` and `/ready`, behind
 * the guards, in this order: Host/Origin, CORS, body limit, auth (failed
 * attempts limited per client address), rate limit (per verified principal,
 * each batch element counted).
 *
 * @module
 */
import type { BridgeServer } from "../server.ts";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { Config } from "../config.ts";
import { VERSION } from "../version.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import type { Logger } from "../log.ts";
import { clientAddress } from "../client_address.ts";
import { addressGroup } from "../auth/address_group.ts";
import {
  hostName,
  hostOriginGuard,
  limitAuthAttempts,
  originMatches,
  rateLimit,
} from "./guards.ts";
import { mcpBearer } from "../auth/bearer.ts";
import { createOAuth } from "../auth/oauth.ts";
import { handleStateless, SessionManager } from "./sessions.ts";
import { rpcError } from "./rpc_error.ts";
import { errorResponse } from "./error_response.ts";
import { toBridgeError } from "../errors.ts";

/** Largest accepted request body: a 100,000-character message in any script, JSON-escaped, fits. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The principal of requests when no authentication is configured. */
export const ANONYMOUS = "anonymous";

/**
 * How long one gateway probe answers `/ready` (which needs no login): a
 * flood of `/ready` costs at most one probe of each gateway per window, and
 * concurrent hits share the probe in flight.
 */
export const READY_PROBE_TTL_MS = 5_000;

/** What the app needs. */
export interface AppDeps {
  /** The loaded configuration (`http`, `auth`, `corsOrigins`, `trustProxy`, `debug` are read). */
  config: Config;
  /** Builds an MCP server for a principal. */
  createServer: (owner: string) => BridgeServer;
  /** The instances `/ready` probes (each at most once per {@linkcode READY_PROBE_TTL_MS}). */
  gateways: GatewayRegistry;
  /** The open store: `/ready` reads it, OAuth keeps its state in it. */
  kv: Deno.Kv;
  /** Receives `http_error` with the stack of a crash (clients get none) and is passed to OAuth and sessions. */
  log: Logger;
  /** Public base URL (the OAuth issuer); known once the server listens. */
  issuer: () => string;
  /** Clock in ms (sessions, the /ready cache). */
  now?: () => number;
}

/** The app and the session table it serves. */
export interface HttpApp {
  /** The Hono app; serve `app.fetch`. */
  app: Hono<Env>;
  /** Sessions (null in stateless mode). */
  sessions: SessionManager | null;
}

/** A POST body to `/mcp`, read once: parsed JSON, or the error response for it. */
type RpcBody = { ok: true; value: unknown } | { ok: false; response: Response };

/**
 * Hono environment: Deno's serve info, the principal set by auth, and the
 * parsed body (shared by the rate limit, which counts batch elements, and
 * the handler).
 */
export type Env = {
  Bindings: Deno.ServeHandlerInfo;
  Variables: { principal: string; rpcBody: RpcBody };
};

async function readBody(c: Context<Env>): Promise<RpcBody> {
  const cached = c.get("rpcBody");
  if (cached) return cached;
  let body: RpcBody;
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().includes("application/json")) {
    body = {
      ok: false,
      response: rpcError(
        415,
        -32000,
        "Unsupported Media Type: Content-Type must be application/json",
      ),
    };
  } else {
    try {
      body = { ok: true, value: await c.req.json() };
    } catch {
      body = {
        ok: false,
        response: rpcError(400, -32700, "Parse error: the body is not valid JSON"),
      };
    }
  }
  c.set("rpcBody", body);
  return body;
}

/** Rate-limit cost of a request: one per JSON-RPC message of a batch. */
async function messageCount(c: Context<Env>): Promise<number> {
  if (c.req.method !== "POST") return 1;
  const body = await readBody(c);
  return body.ok && Array.isArray(body.value) ? Math.max(1, body.value.length) : 1;
}

/**
 * Builds the HTTP app: Host/Origin guard and CORS on every route; `/health`,
 * `/ready`, OAuth and the retired `/sse` routes; then on `/mcp` a body
 * limit, authentication (with its per-address attempt limit) and the
 * per-principal rate limit. Async because the bearer middleware digests the
 * static tokens first.
 */
export async function createApp(deps: AppDeps): Promise<HttpApp> {
  const { config, log } = deps;
  const http = config.http;
  const issuer = config.auth.issuerUrl;
  const now = deps.now ?? Date.now;
  const app = new Hono<Env>();
  const authMode = config.auth.enabled ? "oauth" : http.authTokens.length ? "bearer" : "none";
  const sessions = http.stateless ? null : new SessionManager({
    createServer: deps.createServer,
    idleMs: http.sessionIdleMs,
    max: http.maxSessions,
    // Without authentication every caller is the one anonymous principal:
    // a share of the slots would only lower the global cap.
    maxPerPrincipal: authMode === "none" ? http.maxSessions : http.maxSessionsPerPrincipal,
    log,
    now,
  });
  if (sessions && authMode !== "none" && http.maxSessionsPerPrincipal >= http.maxSessions) {
    log.warn("sessions_per_principal_not_below_total", {
      max_sessions: http.maxSessions,
      max_sessions_per_principal: http.maxSessionsPerPrincipal,
      message:
        "one principal can hold every session and leave the others with 503; set MCP_MAX_SESSIONS_PER_PRINCIPAL below MCP_MAX_SESSIONS",
    });
  }
  const oauth = config.auth.enabled
    ? createOAuth({ config, kv: deps.kv, issuer: deps.issuer, log })
    : undefined;

  app.use(
    "*",
    hostOriginGuard({
      bindHost: config.host,
      allowedHosts: [...http.allowedHosts, ...(issuer ? [hostName(new URL(issuer).host)] : [])],
      allowedOrigins: [
        ...http.allowedOrigins,
        ...config.corsOrigins,
        ...(issuer ? [new URL(issuer).origin] : []),
      ],
    }),
  );
  if (config.corsOrigins.length) {
    app.use(
      "*",
      cors({
        origin: (origin) =>
          config.corsOrigins.some((p) => originMatches(origin, p)) ? origin : null,
        allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
        allowHeaders: [
          "Content-Type",
          "Authorization",
          "Mcp-Session-Id",
          "Mcp-Protocol-Version",
          "Last-Event-ID",
        ],
        exposeHeaders: ["Mcp-Session-Id", "WWW-Authenticate"],
        maxAge: 600,
      }),
    );
  }

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      version: VERSION,
      transport: "http",
      mode: http.stateless ? "stateless" : "stateful",
      auth: authMode,
      ...(config.debug ? { sessions: sessions?.size ?? 0 } : {}),
    }));

  let probe: { reports: ReturnType<typeof probeGateways>; settledAt: number | null } | null = null;
  function probeGateways() {
    return Promise.all(
      deps.gateways.list().map(async (g) => ({ name: g.instance.name, ...(await g.health()) })),
    );
  }
  function cachedProbe(): ReturnType<typeof probeGateways> {
    if (probe && (probe.settledAt === null || now() - probe.settledAt < READY_PROBE_TTL_MS)) {
      return probe.reports;
    }
    const current: NonNullable<typeof probe> = { reports: probeGateways(), settledAt: null };
    probe = current;
    current.reports.then(
      () => current.settledAt = now(),
      () => {
        if (probe === current) probe = null;
      },
    );
    return current.reports;
  }

  app.get("/ready", async (c) => {
    const reasons: string[] = [];
    try {
      await deps.kv.get(["ready"]);
    } catch {
      reasons.push("task store (Deno KV) is not readable");
    }
    const reports = await cachedProbe();
    if (!reports.some((r) => r.status === "ok")) reasons.push("no gateway instance is healthy");
    const gateways = reports.map((r) => ({
      name: r.name,
      status: r.status,
      latency_ms: r.latencyMs,
    }));
    return reasons.length
      ? c.json({ status: "not_ready", reasons, gateways }, 503)
      : c.json({ status: "ready", gateways });
  });

  if (oauth) app.route("/", oauth.app);

  const gone = () =>
    errorResponse({
      code: "gone",
      message: "The HTTP+SSE transport was removed; use Streamable HTTP at /mcp.",
      hint: "Point the client at /mcp (transport: Streamable HTTP).",
    });
  app.all("/sse", gone);
  app.all("/messages", gone);

  app.use(
    "/mcp",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () =>
        rpcError(413, -32000, `Request body too large: at most ${MAX_BODY_BYTES} bytes`),
    }),
  );
  // Per-address budgets count an IPv6 /64 as one address, like the OAuth limits:
  // one host holds a whole /64 and could otherwise rotate to a fresh budget per request.
  const address = (c: Context) => addressGroup(clientAddress(c, config.trustProxy));
  if (oauth || http.authTokens.length) {
    app.use(
      "/mcp",
      limitAuthAttempts(await mcpBearer({ staticTokens: http.authTokens, oauth }), {
        perMinute: http.rateLimitPerMinute,
        key: address,
        now,
      }),
    );
  }
  // After auth: keyed on the verified principal (never on the raw header,
  // which a client can vary), or on the address when there is no auth.
  app.use(
    "/mcp",
    rateLimit({
      perMinute: http.rateLimitPerMinute,
      key: (c) => {
        const principal = (c as Context<Env>).get("principal");
        return principal ? `principal:${principal}` : `address:${address(c)}`;
      },
      cost: (c) => messageCount(c as Context<Env>),
      now,
    }),
  );

  app.on(["GET", "POST", "DELETE"], "/mcp", async (c) => {
    const owner = c.get("principal") ?? ANONYMOUS;
    let body: unknown;
    if (c.req.method === "POST") {
      const read = await readBody(c);
      if (!read.ok) return read.response;
      body = read.value;
    }
    if (!sessions) return await handleStateless(c.req.raw, deps.createServer(owner), body);
    return await sessions.handle(c.req.raw, owner, body);
  });
  app.all("/mcp", (c) => {
    c.header("Allow", "GET, POST, DELETE");
    return rpcError(405, -32000, "Method not allowed on /mcp");
  });

  app.notFound((c) =>
    errorResponse({
      code: "not_found",
      message: `No route for ${c.req.method} ${c.req.path}.`,
      hint: "MCP is at /mcp; /health and /ready report status.",
    })
  );
  app.onError((error, c) => {
    // Middleware such as bearerAuth signals refusals (401) by throwing these.
    if (error instanceof HTTPException) return error.getResponse();
    log.error("http_error", {
      path: c.req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
    return c.req.path === "/mcp"
      ? rpcError(500, -32603, "Internal error: the server hit an unexpected error")
      : errorResponse(toBridgeError(error));
  });
  return { app, sessions };
}
