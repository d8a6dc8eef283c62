/**
 * JSON error responses for HTTP routes outside `/mcp` (which answers in
 * JSON-RPC, see `rpc_error.ts`), with the status `httpStatus` maps the code to.
 *
 * The body is the error's {@linkcode ErrorBody} with `code` sent as `error`:
 * `{"error": "not_found", "message": "...", "hint": "..."}`, the field name
 * OAuth and bearer refusals also use for their code.
 *
 * @module
 */
import { type ErrorBody, type ErrorCode, httpStatus } from "../errors.ts";

/** A JSON error body outside `/mcp`: the {@linkcode ErrorBody} with its code as `error`. */
export type HttpErrorBody = Omit<ErrorBody, "code"> & { error: ErrorCode };

/** The HTTP body of an error (a `BridgeError` is an {@linkcode ErrorBody} too). */
export function httpErrorBody(error: ErrorBody): HttpErrorBody {
  return { error: error.code, message: error.message, hint: error.hint };
}

/**
 * A JSON error response whose status follows the code.
 *
 * @example
 * ```ts
 * return errorResponse({ code: "gone", message: "Use /mcp.", hint: "" });
 * ```
 */
export function errorResponse(
  error: ErrorBody,
  headers: Record<string, string> = {},
): Response {
  return Response.json(httpErrorBody(error), { status: httpStatus(error.code), headers });
}
