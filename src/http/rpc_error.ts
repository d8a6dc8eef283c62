/**
 * JSON-RPC error responses over HTTP, for refusals that happen before (or
 * instead of) the MCP transport: guards, unknown sessions, stateless 405.
 *
 * @module
 */
import { rpcErrorBody } from "../errors.ts";

/** A JSON-RPC error response with a null id and the given HTTP status and headers. */
export function rpcError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json(rpcErrorBody(code, message), { status, headers });
}
