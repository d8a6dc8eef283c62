/**
 * The JSON-RPC body of a `POST /mcp`, read once per request and kept on the
 * context: the rate limit counts its messages, then the handler serves it.
 *
 * @module
 */
import type { Context } from "hono";
import { rpcError } from "./rpc_error.ts";

/** A POST body to `/mcp`, read once: parsed JSON, or the error response for it. */
export type RpcBody = { ok: true; value: unknown } | { ok: false; response: Response };

/** The context variable the body is kept in. */
export type RpcBodyEnv = { Variables: { rpcBody: RpcBody } };

/**
 * The request's body as JSON, read on the first call and kept for the
 * others. Not JSON: 415 when the Content-Type is not `application/json`,
 * 400 (JSON-RPC parse error) when the bytes do not parse.
 */
export async function readBody<E extends RpcBodyEnv>(c: Context<E>): Promise<RpcBody> {
  const cached = c.get("rpcBody");
  if (cached) return cached;
  const body = await parseBody(c);
  c.set("rpcBody", body);
  return body;
}

async function parseBody(c: Context): Promise<RpcBody> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().includes("application/json")) {
    return {
      ok: false,
      response: rpcError(
        415,
        -32000,
        "Unsupported Media Type: Content-Type must be application/json",
      ),
    };
  }
  try {
    return { ok: true, value: await c.req.json() };
  } catch {
    return {
      ok: false,
      response: rpcError(400, -32700, "Parse error: the body is not valid JSON"),
    };
  }
}

/**
 * Rate-limit cost of a request: one per JSON-RPC message of a batch, at
 * least one (a non-POST, an empty batch or a body that did not parse).
 */
export async function messageCount<E extends RpcBodyEnv>(c: Context<E>): Promise<number> {
  if (c.req.method !== "POST") return 1;
  const body = await readBody(c);
  return body.ok && Array.isArray(body.value) ? Math.max(1, body.value.length) : 1;
}
