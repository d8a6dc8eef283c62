/**
 * The HTTP app: Streamable HTTP at `/mcp` plus `/health` and `/ready`, behind
 * the guards, in this order: Host/Origin, CORS, body limit, rate limit, auth.
 *
 * @module
 */
import type { BridgeServer } from "../server.ts";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { Config } from "../config.ts";
import { VERSION } from "../config.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import type { Logger } from "../log.ts";
import { clientAddress } from "../client_address.ts";
import { hostName, hostOriginGuard, originMatches, rateLimit } from "./guards.ts";
import { mcpBearer } from "../auth/bearer.ts";
import { createOAuth } from "../auth/oauth.ts";
import { handleStateless, SessionManager } from "./sessions.ts";
import { rpcError } from "./rpc_error.ts";

/** Largest accepted request body: a 100,000-character message in any script, JSON-escaped, fits. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The principal of requests when no authentication is configured. */
export const ANONYMOUS = "anonymous";

/** What the app needs. */
export interface AppDeps {
  /** Configuration. */
  config: Config;
  /** Builds an MCP server for a principal. */
  createServer: (owner: string) => BridgeServer;
  /** Gateways, for /ready. */
  gateways: GatewayRegistry;
  /** KV, for /ready. */
  kv: Deno.Kv;
  /** Logger. */
  log: Logger;
  /** Public base URL (the OAuth issuer); known once the server listens. */
  issuer: () => string;
}

/** The app and the session table it serves. */
export interface HttpApp {
  /** The Hono app; serve `app.fetch`. */
  app: Hono<Env>;
  /** Sessions (null in stateless mode). */
  sessions: SessionManager | null;
}

/** Hono environment: Deno's serve info, and the principal set by auth. */
export type Env = { Bindings: Deno.ServeHandlerInfo; Variables: { principal: string } };

/** FNV-1a: a cheap, non-reversible key for rate-limit buckets. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

function clientKey(c: Context<Env>, trustProxy: number): string {
  const auth = c.req.header("authorization");
  return auth ? `auth:${fnv1a(auth)}` : `ip:${clientAddress(c, trustProxy)}`;
}

/** Builds the HTTP app. */
export async function createApp(deps: AppDeps): Promise<HttpApp> {
  const { config, log } = deps;
  const http = config.http;
  const issuer = config.auth.issuerUrl;
  const app = new Hono<Env>();
  const sessions = http.stateless ? null : new SessionManager({
    createServer: deps.createServer,
    idleMs: http.sessionIdleMs,
    max: http.maxSessions,
    log,
  });
  const authMode = config.auth.enabled ? "oauth" : http.authTokens.length ? "bearer" : "none";
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

  app.get("/ready", async (c) => {
    const reasons: string[] = [];
    try {
      await deps.kv.get(["ready"]);
    } catch {
      reasons.push("task store (Deno KV) is not readable");
    }
    const reports = await Promise.all(
      deps.gateways.list().map(async (g) => ({ name: g.instance.name, ...(await g.health()) })),
    );
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

  oauth?.mount(app as unknown as Hono<{ Variables: { principal: string } }>);

  const gone = (c: Context<Env>) =>
    c.json({
      error: "gone",
      message: "The HTTP+SSE transport was removed; use Streamable HTTP at /mcp.",
    }, 410);
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
  app.use(
    "/mcp",
    rateLimit({ perMinute: http.rateLimitPerMinute, key: (c) => clientKey(c, config.trustProxy) }),
  );
  if (oauth || http.authTokens.length) {
    app.use("/mcp", await mcpBearer({ staticTokens: http.authTokens, oauth }));
  }

  app.on(["GET", "POST", "DELETE"], "/mcp", async (c) => {
    const owner = c.get("principal") ?? ANONYMOUS;
    let body: unknown;
    if (c.req.method === "POST") {
      const type = c.req.header("content-type") ?? "";
      if (!type.toLowerCase().includes("application/json")) {
        return rpcError(
          415,
          -32000,
          "Unsupported Media Type: Content-Type must be application/json",
        );
      }
      try {
        body = await c.req.json();
      } catch {
        return rpcError(400, -32700, "Parse error: the body is not valid JSON");
      }
    }
    if (!sessions) return await handleStateless(c.req.raw, deps.createServer(owner), body);
    return await sessions.handle(c.req.raw, owner, body);
  });
  app.all("/mcp", (c) => {
    c.header("Allow", "GET, POST, DELETE");
    return rpcError(405, -32000, "Method not allowed on /mcp");
  });

  app.notFound((c) =>
    c.json({
      error: "not_found",
      message: `No route for ${c.req.method} ${c.req.path}; MCP is at /mcp`,
    }, 404)
  );
  app.onError((error, c) => {
    // Middleware such as bearerAuth signals refusals (401) by throwing these.
    if (error instanceof HTTPException) return error.getResponse();
    log.error("http_error", {
      path: c.req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
    return c.json({ error: "internal", message: "The server hit an unexpected error." }, 500);
  });
  return { app, sessions };
}
