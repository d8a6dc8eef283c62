/**
 * Which OAuth redirect URIs the authorization server will send a code to:
 * the same rule for the pre-registered client (checked when the config is
 * read), dynamically registered clients and client metadata documents.
 *
 * @module
 */

/** Claude's OAuth callbacks: the default redirect URIs of the pre-registered client. */
export const CLAUDE_CALLBACKS: readonly string[] = [
  "https://claude.ai/api/mcp/auth_callback",
  "https://claude.com/api/mcp/auth_callback",
];

const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/**
 * An https URL, or http on a loopback host (native apps, tests); never with a
 * fragment (RFC 6749 §3.1.2), never something that does not parse.
 *
 * @example
 * ```ts
 * isSafeRedirect("https://claude.ai/api/mcp/auth_callback"); // true
 * isSafeRedirect("http://127.0.0.1:33418/callback"); // true
 * isSafeRedirect("http://evil.example/cb"); // false
 * ```
 */
export function isSafeRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    if (url.hash) return false;
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" && LOOPBACK_HOSTS.includes(url.hostname);
  } catch {
    return false;
  }
}
