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
import { getConnInfo } from "hono/deno";

/**
 * The peer address of the connection, as Deno saw it (Hono's `getConnInfo`),
 * or "unknown" without Deno's serve info (`app.request()` without an env).
 */
export function peerAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    // getConnInfo destructures c.env.remoteAddr: without serve info there is none.
    return "unknown";
  }
}

const IPV4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?$/;
const IPV6_BRACKETED = /^\[([0-9a-f:.]{2,45})\](?::\d{1,5})?$/i;
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]{1,44}$/i;

/**
 * The IP address in one `X-Forwarded-For` entry, without a port (some
 * proxies write `ip:port`; a fresh source port must not be a fresh client),
 * or undefined for anything that is not an address (`unknown`, junk).
 */
function addressOf(entry: string): string | undefined {
  const v4 = IPV4.exec(entry);
  if (v4) return v4[1];
  const bracketed = IPV6_BRACKETED.exec(entry);
  if (bracketed) return bracketed[1].toLowerCase();
  if (IPV6.test(entry)) return entry.toLowerCase();
  return undefined;
}

/**
 * The client's address: with `hops` > 0, the `hops`-th `X-Forwarded-For`
 * entry from the right (the address our outermost trusted proxy saw);
 * otherwise, without the header, or when that entry is not an IP address,
 * the peer address (so junk shares the proxy's budget instead of getting
 * a fresh one).
 *
 * @example Behind one proxy that appends (nginx `$proxy_add_x_forwarded_for`)
 * ```ts ignore
 * // X-Forwarded-For: 6.6.6.6, 203.0.113.9  (the client wrote 6.6.6.6)
 * clientAddress(c, 1); // "203.0.113.9"
 * ```
 */
export function clientAddress(c: Context, hops: number): string {
  if (hops > 0) {
    const header = c.req.header("x-forwarded-for");
    if (header) {
      const entries = header.split(",").map((e) => e.trim()).filter(Boolean);
      // Fewer entries than trusted hops: the first proxy saw the client directly.
      const entry = entries[Math.max(0, entries.length - hops)];
      const address = entry === undefined ? undefined : addressOf(entry);
      if (address) return address;
    }
  }
  return peerAddress(c);
}

/**
 * Whether a client address (as {@linkcode clientAddress} gives it) is a
 * loopback one: IPv4 127/8, `::1` (bracketed or not), or IPv4-mapped 127/8.
 */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(bare);
}
