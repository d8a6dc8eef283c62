/**
 * The one error model of the bridge: a stable machine-readable `code`, a
 * message for the user and a hint that says what to do about it. Tools send
 * it as `structuredContent.error`, tasks store it, HTTP sends it as JSON
 * (see `http/error_response.ts`) and JSON-RPC errors carry it in `data`.
 *
 * @module
 */
import { ProtocolError } from "@modelcontextprotocol/server";
import { z } from "zod";

/**
 * Every code the bridge emits, tools, tasks and HTTP alike. Clients may
 * branch on them, so never rename or remove one.
 */
export type ErrorCode =
  // The caller's arguments.
  | "invalid_argument"
  | "unknown_instance"
  | "unknown_agent"
  | "agent_required"
  // The gateway.
  | "gateway_unreachable"
  | "gateway_timeout"
  | "gateway_unauthorized"
  | "gateway_not_found"
  | "gateway_rate_limited"
  | "gateway_rejected"
  | "gateway_error"
  | "gateway_bad_reply"
  | "gateway_disconnected"
  | "gateway_forbidden"
  | "gateway_tool_unavailable"
  | "gateway_pairing_required"
  // Approvals.
  | "approval_not_found"
  // Tasks.
  | "cancelled"
  | "interrupted"
  | "task_not_found"
  | "task_finished"
  | "task_expired"
  | "quota_exceeded"
  | "storage_unavailable"
  // HTTP routes outside /mcp.
  | "unauthorized"
  | "rate_limited"
  | "forbidden"
  | "not_found"
  | "gone"
  // Anything unexpected: no detail leaks.
  | "internal";

/**
 * The HTTP status of each code: the one map, and (being a `Record` over
 * {@linkcode ErrorCode}) the list of codes the schema's enum is built from,
 * so a new code cannot be added without its status.
 */
const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unknown_instance: 404,
  unknown_agent: 404,
  agent_required: 400,
  // The gateway failed, not the caller: a bad gateway, or its timeout.
  gateway_unreachable: 502,
  gateway_timeout: 504,
  gateway_unauthorized: 502,
  gateway_not_found: 502,
  gateway_rate_limited: 503,
  gateway_rejected: 502,
  gateway_error: 502,
  gateway_bad_reply: 502,
  gateway_disconnected: 502,
  gateway_forbidden: 502,
  gateway_tool_unavailable: 502,
  gateway_pairing_required: 502,
  approval_not_found: 404,
  cancelled: 409,
  interrupted: 503,
  task_not_found: 404,
  task_finished: 409,
  task_expired: 410,
  quota_exceeded: 429,
  storage_unavailable: 503,
  unauthorized: 401,
  rate_limited: 429,
  forbidden: 403,
  not_found: 404,
  gone: 410,
  internal: 500,
};

/** Every error code, in the order of the status map: the values of `errorBodySchema`'s enum. */
export const ERROR_CODES = Object.keys(HTTP_STATUS) as [ErrorCode, ...ErrorCode[]];

/** The HTTP status an error with this code answers with. */
export function httpStatus(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/**
 * The JSON shape of an error as clients see it: tool results'
 * `structuredContent.error`, a task's `error`, the `data.error` of a refused
 * task-augmented call and (with `code` sent as `error`) HTTP error bodies.
 * Validated by {@linkcode errorBodySchema}.
 */
export interface ErrorBody {
  /** Stable code that clients may branch on; sent as `error` in HTTP bodies. */
  code: ErrorCode;
  /** What went wrong, in a sentence for the user; never a stack or a secret. */
  message: string;
  /** What to do about it; may be empty. */
  hint: string;
}

/**
 * The zod schema of {@linkcode ErrorBody} (`code` an enum of
 * {@linkcode ERROR_CODES}), for output schemas. Typed by the interface, so
 * the two cannot drift: public types stay free of zod's (JSR's rule).
 */
export const errorBodySchema: z.ZodType<ErrorBody> = z.object({
  code: z.enum(ERROR_CODES).describe("Stable error code, e.g. gateway_unauthorized"),
  message: z.string().describe("What went wrong"),
  hint: z.string().describe("What to do about it; may be empty"),
});

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

  /** Rebuilds an error from its JSON shape (a stored task's error, for instance). */
  static from(body: ErrorBody): BridgeError {
    return new BridgeError(body.code, body.message, body.hint);
  }

  /** The JSON shape sent to clients. */
  toJSON(): ErrorBody {
    return { code: this.code, message: this.message, hint: this.hint };
  }
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
  /** The JSON-RPC version; always "2.0". */
  jsonrpc: "2.0";
  /** The failed request's id; null when the body could not be read far enough to know it. */
  id: string | number | null;
  /** A JSON-RPC code (e.g. -32600, -32603) and its message. */
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

/**
 * A JSON-RPC error to throw from a request handler: the SDK sends its code,
 * message (exactly as given) and `data`.
 */
export function mcpError(code: number, message: string, data?: unknown): ProtocolError {
  return new ProtocolError(code, message, data);
}
