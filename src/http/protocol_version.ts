/**
 * The `MCP-Protocol-Version` check of 2025-era requests. The 2026-07-28 leg
 * has its own (the SDK's); a 2025-era request naming a version we do not
 * speak gets the same answer shape here: 400, JSON-RPC -32022 (the
 * specification's "unsupported protocol version"), every version we speak in
 * `data.supported`, the version asked for in `data.requested`, and the
 * request's own id (the SDK's 2025 transports answer -32000 with a null id
 * and the list in the message only).
 *
 * @module
 */
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/server";

/** The 2026-07-28 revision, served per request beside the 2025 ones. */
export const MODERN_PROTOCOL_VERSION = "2026-07-28";

/** Every protocol version this server speaks, newest first. */
export const PROTOCOL_VERSIONS: readonly string[] = [
  MODERN_PROTOCOL_VERSION,
  ...SUPPORTED_PROTOCOL_VERSIONS,
];

/** JSON-RPC code of an unsupported protocol version (2026-07-28). */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/** The id of a single JSON-RPC request body; null for a batch, a notification or no body. */
function requestId(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/**
 * The refusal of a 2025-era request whose `MCP-Protocol-Version` header names
 * a version we do not speak; null when the header is absent or known.
 */
export function unsupportedVersion(request: Request, body: unknown): Response | null {
  const requested = request.headers.get("mcp-protocol-version");
  if (requested === null || PROTOCOL_VERSIONS.includes(requested)) return null;
  return Response.json({
    jsonrpc: "2.0",
    id: requestId(body),
    error: {
      code: UNSUPPORTED_PROTOCOL_VERSION,
      message: `Unsupported protocol version: ${requested.slice(0, 64)}`,
      data: { supported: PROTOCOL_VERSIONS, requested: requested.slice(0, 64) },
    },
  }, { status: 400 });
}
