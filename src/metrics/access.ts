/**
 * Who may read `/metrics`: the operator, not the MCP clients.
 *
 * - `Authorization: Bearer <MCP_METRICS_TOKEN>`, or one of the static
 *   tokens (`MCP_AUTH_TOKENS`), compared in constant time on SHA-256
 *   digests like `/mcp`'s static tokens;
 * - never an OAuth access token: it names a client of the bridge, not its
 *   operator (with OAuth on and neither token set, `/metrics` is refused);
 * - with no authentication configured at all on a loopback bind, any
 *   loopback client (the machine's own Prometheus or curl);
 * - whatever `allow` accepts, checked first (the operator page's owner
 *   session, once there is one).
 *
 * Refusals are 401 with a coded JSON error and a `Bearer` challenge; they
 * are limited per client address like failed logins on `/mcp` (a
 * successful scrape gives its attempt back), so `/metrics` is no cheap
 * way to guess tokens or load the server. A presented token is never echoed.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import { addressGroup } from "../auth/address_group.ts";
import { matchesAny, sha256Bytes } from "../auth/crypto.ts";
import { clientAddress, isLoopbackAddress } from "../client_address.ts";
import { errorResponse } from "../http/error_response.ts";
import { isLoopback, limitAuthAttempts } from "../http/guards.ts";

/** What {@linkcode metricsAccess} takes besides the configuration. */
export interface MetricsAccessOptions {
  /**
   * Accepts a request on other grounds, before any token is looked at
   * (e.g. the operator page's owner session cookie).
   */
  allow?: (c: Context) => boolean | Promise<boolean>;
  /** Epoch ms clock the refusal limit refills on; default `Date.now`. */
  now?: () => number;
}

/** RFC 6750 `Bearer` credentials (b64token). */
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/**
 * The guard of `/metrics`, as Hono middleware: lets the request through to
 * the handler, or answers 401 (429 past the per-address refusal limit,
 * `MCP_RATE_LIMIT` per minute).
 *
 * @example
 * ```ts ignore
 * app.get("/metrics", metricsAccess(config), handler);
 * ```
 */
export function metricsAccess(
  config: Config,
  options: MetricsAccessOptions = {},
): MiddlewareHandler {
  const { http } = config;
  const tokens = [
    ...(http.metricsToken !== undefined ? [http.metricsToken] : []),
    ...http.authTokens,
  ];
  const digests = Promise.all(tokens.map(sha256Bytes));
  // No credential exists at all: the bind decides, and only a loopback one opens.
  const openToLoopback = tokens.length === 0 && !config.auth.enabled && isLoopback(config.host);
  const hint = refusalHint(config);

  const check: MiddlewareHandler = async function metricsAuth(c, next) {
    if (await options.allow?.(c)) return await next();
    if (openToLoopback && isLoopbackAddress(clientAddress(c, config.trustProxy))) {
      return await next();
    }
    const header = c.req.header("authorization");
    const presented = header === undefined ? undefined : BEARER.exec(header)?.[1];
    if (presented !== undefined && await matchesAny(await digests, presented)) return await next();
    return refusal(header === undefined ? "missing" : "invalid", hint);
  };
  return limitAuthAttempts(check, {
    perMinute: http.rateLimitPerMinute,
    key: (c) => addressGroup(clientAddress(c, config.trustProxy)),
    now: options.now,
    refuse: (message, retryAfterSeconds) =>
      errorResponse(
        { code: "rate_limited", message: `${message}.`, hint: "Check the scraper's token." },
        { "retry-after": String(retryAfterSeconds) },
      ),
  });
}

/** What the operator should do, given what the server accepts. */
function refusalHint(config: Config): string {
  const { http, auth } = config;
  const oauth = auth.enabled ? " OAuth access tokens are not accepted on /metrics." : "";
  if (http.metricsToken !== undefined || http.authTokens.length) {
    const which = http.metricsToken !== undefined
      ? `MCP_METRICS_TOKEN${http.authTokens.length ? " or one of MCP_AUTH_TOKENS" : ""}`
      : "one of MCP_AUTH_TOKENS";
    return `Send Authorization: Bearer <token> with ${which}.${oauth}`;
  }
  return auth.enabled
    ? `Set MCP_METRICS_TOKEN on the server and scrape with it.${oauth}`
    : "Set MCP_METRICS_TOKEN on the server and scrape with it; without any authentication only loopback clients of a loopback bind may read /metrics.";
}

/** The 401: a coded JSON error and a Bearer challenge, never the token that was sent. */
function refusal(why: "missing" | "invalid", hint: string): Response {
  const challenge = why === "missing"
    ? 'Bearer realm="openclaw-mcp"'
    : 'Bearer realm="openclaw-mcp", error="invalid_token"';
  return errorResponse({
    code: "unauthorized",
    message: why === "missing"
      ? "/metrics needs a bearer token."
      : "The token is not accepted on /metrics.",
    hint,
  }, { "www-authenticate": challenge });
}
