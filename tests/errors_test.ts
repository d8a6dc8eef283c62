/** `BridgeError`, `toBridgeError` and JSON-RPC error bodies: what reaches clients and what does not. */
import assert from "node:assert/strict";
import { BridgeError, rpcErrorBody, toBridgeError } from "../src/errors.ts";

Deno.test("errors: a BridgeError carries code, message and hint; its JSON is exactly those", () => {
  const error = new BridgeError("gateway_unauthorized", "Token rejected.", "Check the token.");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "BridgeError");
  assert.equal(error.message, "Token rejected.");
  error.httpStatus = 401;
  assert.deepEqual(error.toJSON(), {
    code: "gateway_unauthorized",
    message: "Token rejected.",
    hint: "Check the token.",
  });
  assert.equal(JSON.stringify(error), JSON.stringify(error.toJSON()), "no status, no stack");
  assert.equal(new BridgeError("internal", "x").hint, "");
});

Deno.test("errors: toBridgeError passes ours through and hides anything else", () => {
  const ours = new BridgeError("cancelled", "Cancelled.");
  assert.equal(toBridgeError(ours), ours);
  for (const thrown of [new Error("db password is hunter2"), "a string", null, { code: "x" }]) {
    const error = toBridgeError(thrown);
    assert.equal(error.code, "internal");
    assert.equal(error.message, "The bridge hit an unexpected error.");
    assert.match(error.hint, /--debug/);
    assert.doesNotMatch(JSON.stringify(error.toJSON()), /hunter2/);
  }
});

Deno.test("errors: rpcErrorBody is a JSON-RPC 2.0 error with a null id unless given", () => {
  assert.deepEqual(rpcErrorBody(-32700, "Parse error"), {
    jsonrpc: "2.0",
    id: null,
    error: { code: -32700, message: "Parse error" },
  });
  assert.equal(rpcErrorBody(-32600, "Invalid", 7).id, 7);
  assert.equal(rpcErrorBody(-32600, "Invalid", "a").id, "a");
});
