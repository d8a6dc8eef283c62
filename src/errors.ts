/**
 * The one error type of the bridge: a stable machine-readable `code`, a
 * message for the user and a hint that says what to do about it.
 *
 * @module
 */

/** Stable error codes; clients may branch on them, so never rename one. */
export type ErrorCode =
  | "invalid_argument"
  | "unknown_instance"
  | "gateway_unreachable"
  | "gateway_timeout"
  | "gateway_unauthorized"
  | "gateway_not_found"
  | "gateway_rate_limited"
  | "gateway_rejected"
  | "gateway_error"
  | "gateway_bad_reply"
  | "gateway_disconnected"
  | "cancelled"
  | "unknown_agent"
  | "agent_required"
  | "task_not_found"
  | "task_finished"
  | "task_expired"
  | "quota_exceeded"
  | "storage_unavailable"
  | "internal";

/** An error that is safe to show to the user: no stack, no secret. */
export class BridgeError extends Error {
  /** Stable code, e.g. `gateway_unauthorized`. */
  readonly code: ErrorCode;
  /** What the user can do about it. */
  readonly hint: string;
  /** The gateway's HTTP status, when the error came from one (not sent to clients). */
  httpStatus?: number;

  /** Creates an error from its code, user-facing message and hint. */
  constructor(code: ErrorCode, message: string, hint = "") {
    super(message);
    this.name = "BridgeError";
    this.code = code;
    this.hint = hint;
  }

  /** The JSON shape sent to clients. */
  toJSON(): ErrorBody {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** The JSON shape of an error as clients see it. */
export interface ErrorBody {
  /** Stable code. */
  code: ErrorCode;
  /** What went wrong. */
  message: string;
  /** What to do about it. */
  hint: string;
}

/**
 * Turns anything thrown into a {@linkcode BridgeError}; unknown errors become
 * `internal` with a generic message so that no stack or detail leaks out.
 */
export function toBridgeError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  return new BridgeError(
    "internal",
    "The bridge hit an unexpected error.",
    "Run with --debug and check the server log (stderr).",
  );
}

/** A JSON-RPC 2.0 error response; `id` is null when the request could not be read. */
export interface RpcErrorBody {
  /** Always "2.0". */
  jsonrpc: "2.0";
  /** The request's id, or null. */
  id: string | number | null;
  /** Code and message. */
  error: { code: number; message: string };
}

/** Builds a JSON-RPC 2.0 error response body. */
export function rpcErrorBody(
  code: number,
  message: string,
  id: string | number | null = null,
): RpcErrorBody {
  return { jsonrpc: "2.0", id, error: { code, message } };
}
