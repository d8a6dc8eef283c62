/**
 * The address a request came from: the peer address, or with a trusted
 * reverse proxy the first `X-Forwarded-For` entry.
 *
 * @module
 */
import type { Context } from "hono";

/** The client's address as seen by this server or, when `trustProxy`, by the proxy. */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  const addr = (c.env as Deno.ServeHandlerInfo | undefined)?.remoteAddr as Deno.NetAddr | undefined;
  return addr?.hostname ?? "unknown";
}
