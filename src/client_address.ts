/**
 * The address a request came from: the peer address or, behind `hops`
 * trusted reverse proxies, the address the outermost trusted proxy saw.
 *
 * Proxies such as nginx (`$proxy_add_x_forwarded_for`) append the peer they
 * saw to whatever `X-Forwarded-For` the client sent, so only the entries
 * our own proxies wrote are trustworthy: the last `hops` of the list. The
 * client is the `hops`-th entry from the right; anything left of it was
 * written by the client and is ignored.
 *
 * @module
 */
import type { Context } from "hono";

/** The peer address of the connection, as Deno saw it. */
export function peerAddress(c: Context): string {
  const addr = (c.env as Deno.ServeHandlerInfo | undefined)?.remoteAddr as Deno.NetAddr | undefined;
  return addr?.hostname ?? "unknown";
}

/**
 * The client's address: with `hops` > 0, the `hops`-th `X-Forwarded-For`
 * entry from the right (the address our outermost trusted proxy saw);
 * otherwise, or without the header, the peer address.
 */
export function clientAddress(c: Context, hops: number): string {
  if (hops > 0) {
    const header = c.req.header("x-forwarded-for");
    if (header) {
      const entries = header.split(",").map((e) => e.trim()).filter(Boolean);
      // Fewer entries than trusted hops: the first proxy saw the client directly.
      const entry = entries[Math.max(0, entries.length - hops)];
      if (entry) return entry;
    }
  }
  return peerAddress(c);
}
