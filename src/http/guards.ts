/**
 * HTTP guards as Hono middleware: Host and Origin validation (DNS-rebinding
 * protection), a rate limit per principal or client (counting each message of
 * a JSON-RPC batch), and a limit on failed authentication attempts per client
 * address. Authentication is in `src/auth/`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { TokenBuckets } from "../token_bucket.ts";
import { errorResponse } from "./error_response.ts";
import { rpcError } from "./rpc_error.ts";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** True for a loopback bind address or host name. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return LOOPBACK_NAMES.has(h) || /^127\.\d+\.\d+\.\d+$/.test(h) || h.endsWith(".localhost");
}

/** Host name of a Host header value, without port, lower-cased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.lastIndexOf(":");
  return colon === -1 ? h : h.slice(0, colon);
}

/** Matches an origin against a pattern: exact, `*`, or `*.example.com` (any scheme). */
export function originMatches(origin: string, pattern: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) {
    try {
      const host = new URL(origin).hostname;
      return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    } catch {
      return false;
    }
  }
  return origin === pattern.replace(/\/+$/, "");
}

/** Options for {@linkcode hostOriginGuard}. */
export interface HostOriginOptions {
  /** The address the server listens on: a loopback bind checks Host even with none configured. */
  bindHost: string;
  /** Extra host names (MCP_ALLOWED_HOSTS, the issuer's host). */
  allowedHosts: string[];
  /** Extra origins or patterns (MCP_ALLOWED_ORIGINS, CORS_ORIGINS, the issuer). */
  allowedOrigins: string[];
}

/**
 * A 403 in the route's own language: JSON-RPC on `/mcp`, where MCP clients
 * read it, the bridge's JSON error body everywhere else.
 */
function forbidden(c: Context, message: string, hint: string): Response {
  return c.req.path === "/mcp" ? rpcError(403, -32000, `${message}: ${hint}`) : errorResponse({
    code: "forbidden",
    message: `${message}.`,
    hint: `${hint[0].toUpperCase()}${hint.slice(1)}.`,
  });
}

/**
 * Rejects requests whose Host is not ours (DNS rebinding) or whose Origin is
 * not allowed. A loopback bind accepts only loopback Host names unless more
 * are configured; any bind accepts loopback Origins and configured ones.
 */
export function hostOriginGuard(options: HostOriginOptions): MiddlewareHandler {
  const hosts = new Set(options.allowedHosts.map((h) => hostName(h)));
  const checkHost = isLoopback(options.bindHost) || hosts.size > 0;
  return async function hostOrigin(c, next) {
    const host = c.req.header("host");
    if (checkHost) {
      const name = host ? hostName(host) : "";
      if (!name || !(isLoopback(name) || hosts.has(name))) {
        return forbidden(
          c,
          "Invalid Host header",
          "add the name to MCP_ALLOWED_HOSTS to accept it",
        );
      }
    }
    const origin = c.req.header("origin");
    if (origin && origin !== "null") {
      let loopbackOrigin = false;
      try {
        loopbackOrigin = isLoopback(new URL(origin).hostname);
      } catch {
        // An unparsable Origin is simply not loopback.
      }
      if (!loopbackOrigin && !options.allowedOrigins.some((p) => originMatches(origin, p))) {
        return forbidden(
          c,
          "Invalid Origin header",
          "add it to MCP_ALLOWED_ORIGINS or CORS_ORIGINS",
        );
      }
    }
    await next();
  };
}

/** Options for {@linkcode rateLimit}. */
export interface RateLimitOptions {
  /** Requests per minute per client; 0 disables. */
  perMinute: number;
  /** Identifies the client: the verified principal or the client address. */
  key: (c: Context) => string;
  /**
   * Tokens a request takes: one per JSON-RPC message, so a batch of 100
   * costs 100 (default 1). A request costing more than is left is refused
   * whole; one costing more than `perMinute` is always refused.
   */
  cost?: (c: Context) => number | Promise<number>;
  /** Epoch ms clock the buckets refill on; default `Date.now`. */
  now?: () => number;
}

function tooManyRequests(message: string, retryAfterSeconds: number): Response {
  return rpcError(429, -32000, `${message}; retry in ${retryAfterSeconds} s`, {
    "retry-after": String(retryAfterSeconds),
  });
}

/**
 * A token bucket per client: `perMinute` requests may come in a burst, and
 * the bucket refills evenly over the minute. Over the limit: 429 with
 * `Retry-After`.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const capacity = options.perMinute;
  const buckets = new TokenBuckets(capacity, options.now);
  return async function limit(c, next) {
    if (capacity <= 0) return await next();
    const cost = options.cost ? await options.cost(c) : 1;
    const taken = buckets.take(options.key(c), cost);
    if (!taken.ok) {
      return tooManyRequests(
        taken.never
          ? `Too many requests: a batch of ${cost} messages exceeds the limit of ${capacity} per minute; send smaller batches`
          : `Too many requests: the limit is ${capacity} per minute`,
        taken.retryAfterSeconds,
      );
    }
    await next();
  };
}

/** Options for {@linkcode limitAuthAttempts}. */
export interface AuthAttemptOptions {
  /** Attempts per minute per client address; 0 disables. */
  perMinute: number;
  /** The address a request counts against; the app gives the client's address group (an IPv6 /64 is one). */
  key: (c: Context) => string;
  /** Epoch ms clock the buckets refill on; default `Date.now`. */
  now?: () => number;
  /** The 429 in the route's language; default a JSON-RPC error (`/mcp`). */
  refuse?: (message: string, retryAfterSeconds: number) => Response;
}

/**
 * Wraps an authentication middleware so that failed attempts are limited per
 * client address: each attempt takes a token from the address's bucket and
 * a successful one gives it back as soon as `auth` passes the request on.
 * Floods of missing or wrong tokens are throttled before the principal is
 * known, while authenticated callers sharing an address (a proxy, a NAT) are
 * limited per principal only, by {@linkcode rateLimit} after `auth`.
 */
export function limitAuthAttempts(
  auth: MiddlewareHandler,
  options: AuthAttemptOptions,
): MiddlewareHandler {
  const capacity = options.perMinute;
  const buckets = new TokenBuckets(capacity, options.now);
  return async function limitedAuth(c, next) {
    if (capacity <= 0) return await auth(c, next);
    const key = options.key(c);
    const taken = buckets.take(key);
    if (!taken.ok) {
      return (options.refuse ?? tooManyRequests)(
        `Too many unauthenticated requests from this address: the limit is ${capacity} per minute`,
        taken.retryAfterSeconds,
      );
    }
    return await auth(c, async () => {
      buckets.give(key);
      await next();
    });
  };
}
