/**
 * Raw MCP over Streamable HTTP, for tests where the wire is the point:
 * 2026-07-28 requests (routing headers plus the `_meta` envelope, no
 * session) and 2025-11-25 ones (initialize, `Mcp-Session-Id`), their
 * answers read the same way whether JSON or SSE.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SseParser } from "../../src/gateway/sse.ts";
import { TASKS_EXTENSION } from "../../src/tasks/mcp_tasks.ts";
import { INITIALIZE } from "../../testing/spawn.ts";

/** The stateless protocol revision. */
export const MODERN = "2026-07-28";

/** The session protocol revision. */
export const LEGACY = "2025-11-25";

/** A JSON object. */
export type Json = Record<string, unknown>;

/** How a 2026-07-28 request is built. */
export interface ModernOptions {
  /** The JSON-RPC id; a fresh number by default. */
  id?: string | number;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The version in both the header and the envelope (default {@linkcode MODERN}). */
  version?: string;
  /** Declare the Tasks extension in the envelope's client capabilities. */
  tasks?: boolean;
  /** Put a progress token in `_meta`. */
  progressToken?: string | number;
  /** Header overrides, applied last; `null` removes a header. */
  headers?: Record<string, string | null>;
}

/** An answer: status, headers, and the JSON messages it carried. */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The JSON body, or each SSE event's data, in order. */
  messages: Json[];
  /** The last message: the JSON-RPC response (or an HTTP error body). */
  response: Json;
}

let nextId = 1000;

/** The `_meta` envelope every 2026-07-28 request carries. */
export function envelope(options: ModernOptions = {}): Json {
  return {
    "io.modelcontextprotocol/protocolVersion": options.version ?? MODERN,
    "io.modelcontextprotocol/clientInfo": { name: "raw-modern-test", version: "1" },
    "io.modelcontextprotocol/clientCapabilities": options.tasks
      ? { extensions: { [TASKS_EXTENSION]: {} } }
      : {},
    ...(options.progressToken !== undefined ? { progressToken: options.progressToken } : {}),
  };
}

/** Reads a response as JSON or as an SSE stream of JSON-RPC messages. */
export async function readReply(response: Response): Promise<Reply> {
  const type = response.headers.get("content-type") ?? "";
  const text = await response.text();
  let messages: Json[] = [];
  if (type.startsWith("text/event-stream")) {
    messages = new SseParser().push(text).filter((e) => e.data).map((e) => JSON.parse(e.data));
  } else if (text) {
    messages = [JSON.parse(text)];
  }
  return {
    status: response.status,
    headers: response.headers,
    messages,
    response: messages.at(-1) ?? {},
  };
}

/**
 * A 2026-07-28 request to `<base>/mcp`: the version and `Mcp-Method`
 * headers, `Mcp-Name` from `params.name` (tools/call), `params.uri`
 * (resources/read) or `params.taskId` (tasks/*), and the envelope merged
 * into any `_meta` the params carry (a progress token, say).
 */
export function modernRequest(
  base: string,
  method: string,
  params: Json = {},
  options: ModernOptions = {},
): Request {
  const name = params.name ?? params.uri ?? params.taskId;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": options.version ?? MODERN,
    "mcp-method": method,
    ...(typeof name === "string" ? { "mcp-name": name } : {}),
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
  };
  for (const [key, value] of Object.entries(options.headers ?? {})) {
    if (value === null) delete headers[key.toLowerCase()];
    else headers[key.toLowerCase()] = value;
  }
  const body = {
    jsonrpc: "2.0",
    id: options.id ?? nextId++,
    method,
    params: { ...params, _meta: { ...params._meta as Json | undefined, ...envelope(options) } },
  };
  return new Request(`${base}/mcp`, { method: "POST", headers, body: JSON.stringify(body) });
}

/** POSTs a 2026-07-28 request ({@linkcode modernRequest}) and reads the reply. */
export async function modernRpc(
  base: string,
  method: string,
  params: Json = {},
  options: ModernOptions = {},
): Promise<Reply> {
  return await readReply(await fetch(modernRequest(base, method, params, options)));
}

/** A 2026-07-28 `tools/call`. */
export function modernCall(
  base: string,
  name: string,
  args: Json,
  options: ModernOptions = {},
): Promise<Reply> {
  return modernRpc(base, "tools/call", { name, arguments: args }, options);
}

/** POSTs a 2025-era message (no envelope), in a session when one is given. */
export async function legacyRpc(
  base: string,
  message: Json,
  options: { session?: string; token?: string } = {},
): Promise<Reply> {
  const response = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(options.session
        ? { "mcp-session-id": options.session, "mcp-protocol-version": LEGACY }
        : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify(message),
  });
  return await readReply(response);
}

/** Opens a 2025-11-25 session (initialize, then initialized); returns its id. */
export async function openSession(base: string, token?: string): Promise<string> {
  const init = await legacyRpc(base, INITIALIZE, { token });
  assert.equal(init.status, 200, JSON.stringify(init.response));
  const session = init.headers.get("mcp-session-id");
  assert.ok(session, "initialize gave a session");
  const initialized = await legacyRpc(
    base,
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { session, token },
  );
  assert.equal(initialized.status, 202);
  return session;
}

/** The `result` of a successful JSON-RPC reply (fails the test otherwise). */
export function resultOf(reply: Reply): Json {
  assert.equal(reply.status, 200, JSON.stringify(reply.response));
  const result = reply.response.result as Json | undefined;
  assert.ok(result, `expected a result: ${JSON.stringify(reply.response)}`);
  return result;
}

/** The structured content of a successful tool result (fails the test on an error result). */
export function structuredOf(reply: Reply): Json {
  const result = resultOf(reply);
  assert.ok(!result.isError, JSON.stringify(result));
  return result.structuredContent as Json;
}

/** The JSON-RPC `error` of a reply (fails the test if there is none). */
export function errorOf(reply: Reply): { code: number; message: string; data?: Json } {
  const error = reply.response.error as { code: number; message: string; data?: Json };
  assert.ok(
    error && typeof error === "object",
    `expected an error: ${JSON.stringify(reply.response)}`,
  );
  return error;
}
