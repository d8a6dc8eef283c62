/** `rpcError`: a JSON-RPC error body with a null id, the HTTP status and extra headers. */
import assert from "node:assert/strict";
import { rpcError } from "../../src/http/rpc_error.ts";

Deno.test("rpcError: status, JSON content type, headers and a JSON-RPC 2.0 body", async () => {
  const response = rpcError(404, -32001, "Session not found", { "mcp-session-id": "gone" });
  assert.equal(response.status, 404);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(response.headers.get("mcp-session-id"), "gone");
  assert.deepEqual(await response.json(), {
    jsonrpc: "2.0",
    id: null,
    error: { code: -32001, message: "Session not found" },
  });
});

Deno.test("rpcError: no extra headers by default", async () => {
  const response = rpcError(405, -32000, "Method not allowed");
  assert.deepEqual([...response.headers.keys()], ["content-type"]);
  assert.equal((await response.json()).error.code, -32000);
});
