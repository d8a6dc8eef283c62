/**
 * The guards in the order the app runs them, configured from `Config`: on
 * every route Host/Origin then CORS; on `/mcp` the body limit, authentication
 * (failed attempts limited per client address) and the rate limit (per
 * verified principal, each batch element counted).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { Config } from "../config.ts";
import { clientAddress } from "../client_address.ts";
import { addressGroup } from "../auth/address_group.ts";
import { type BearerOptions, mcpBearer } from "../auth/bearer.ts";
import {
  hostName,
  hostOriginGuard,
  limitAuthAttempts,
  originMatches,
  rateLimit,
} from "./guards.ts";
import { messageCount, type RpcBodyEnv } from "./rpc_body.ts";
import { rpcError } from "./rpc_error.ts";

/** Largest accepted request body: a 100,000-character message in any script, JSON-escaped, fits. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The context variables the `/mcp` guards read: the principal auth sets, the body read once. */
export type GuardEnv = { Variables: { principal: string } & RpcBodyEnv["Variables"] };

/**
 * Headers a browser client may send to `/mcp` across origins: those of
 * 2025-11-25 sessions, and the 2026-07-28 routing headers (`Mcp-Method`,
 * `Mcp-Name`).
 */
const CORS_ALLOW_HEADERS = [
  "Content-Type",
  "Authorization",
  "Mcp-Session-Id",
  "Mcp-Protocol-Version",
  "Mcp-Method",
  "Mcp-Name",
  "Last-Event-ID",
];

/**
 * The guards of every route: Host/Origin (the bind host's names, the
 * allowed hosts and origins, the issuer's), then CORS when `corsOrigins` is
 * set.
 *
 * @example
 * ```ts
 * app.use("*", ...siteGuards(config));
 * ```
 */
export function siteGuards(config: Config): MiddlewareHandler[] {
  const { http, corsOrigins } = config;
  const issuer = config.auth.issuerUrl ? new URL(config.auth.issuerUrl) : undefined;
  const guards = [hostOriginGuard({
    bindHost: config.host,
    allowedHosts: [...http.allowedHosts, ...(issuer ? [hostName(issuer.host)] : [])],
    allowedOrigins: [...http.allowedOrigins, ...corsOrigins, ...(issuer ? [issuer.origin] : [])],
  })];
  if (corsOrigins.length) {
    guards.push(cors({
      origin: (origin) => corsOrigins.some((p) => originMatches(origin, p)) ? origin : null,
      allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
      allowHeaders: CORS_ALLOW_HEADERS,
      exposeHeaders: ["Mcp-Session-Id", "WWW-Authenticate"],
      maxAge: 600,
    }));
  }
  return guards;
}

/** What {@linkcode mcpGuards} needs beyond the configuration. */
export interface McpGuardOptions {
  /** The OAuth server, when enabled: its tokens are accepted besides the static ones. */
  oauth?: BearerOptions["oauth"];
  /** Epoch ms clock the rate limits refill on; default `Date.now`. */
  now?: () => number;
}

/**
 * The guards of `/mcp`: body limit (413 past {@linkcode MAX_BODY_BYTES}),
 * authentication when tokens or OAuth are configured (its failed attempts
 * limited per address group), then the rate limit keyed on the verified
 * principal, or on the address group without auth. Async because the bearer
 * middleware digests the static tokens first.
 *
 * @example
 * ```ts
 * app.use("/mcp", ...await mcpGuards(config, { oauth }));
 * ```
 */
export async function mcpGuards(
  config: Config,
  options: McpGuardOptions = {},
): Promise<MiddlewareHandler[]> {
  const { http } = config;
  const { oauth, now } = options;
  // Per-address budgets count an IPv6 /64 as one address, like the OAuth limits:
  // one host holds a whole /64 and could otherwise rotate to a fresh budget per request.
  const address = (c: Context) => addressGroup(clientAddress(c, config.trustProxy));
  const guards: MiddlewareHandler[] = [bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => rpcError(413, -32000, `Request body too large: at most ${MAX_BODY_BYTES} bytes`),
  })];
  if (oauth || http.authTokens.length) {
    const bearer = await mcpBearer({ staticTokens: http.authTokens, oauth });
    guards.push(
      limitAuthAttempts(bearer, { perMinute: http.rateLimitPerMinute, key: address, now }),
    );
  }
  // After auth: keyed on the verified principal (never on the raw header,
  // which a client can vary), or on the address when there is no auth.
  guards.push(rateLimit({
    perMinute: http.rateLimitPerMinute,
    key: (c) => {
      const principal = (c as Context<GuardEnv>).get("principal");
      return principal ? `principal:${principal}` : `address:${address(c)}`;
    },
    cost: (c) => messageCount(c as Context<GuardEnv>),
    now,
  }));
  return guards;
}
