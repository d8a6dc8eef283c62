/**
 * The error model: codes, the body schema, the code -> HTTP status map,
 * `BridgeError`, `toBridgeError` and JSON-RPC error bodies: what reaches
 * clients and what does not.
 */
import assert from "node:assert/strict";
import { ProtocolError } from "@modelcontextprotocol/server";
import {
  BridgeError,
  ERROR_CODES,
  type ErrorBody,
  errorBodySchema,
  type ErrorCode,
  httpStatus,
  mcpError,
  rpcErrorBody,
  toBridgeError,
} from "../src/errors.ts";

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

Deno.test("errors: ERROR_CODES holds every code the bridge emits, task and HTTP codes included", () => {
  for (
    const code of [
      "interrupted",
      "quota_exceeded",
      "task_expired",
      "storage_unavailable",
      "cancelled",
      "unauthorized",
      "forbidden",
      "not_found",
      "gone",
      "internal",
    ]
  ) assert.ok(ERROR_CODES.includes(code as ErrorCode), code);
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, "no code twice");
});

Deno.test("errors: errorBodySchema admits the codes and nothing else, and needs all three fields", () => {
  for (const code of ERROR_CODES) {
    assert.deepEqual(errorBodySchema.parse({ code, message: "m", hint: "" }), {
      code,
      message: "m",
      hint: "",
    });
  }
  assert.ok(!errorBodySchema.safeParse({ code: "made_up", message: "m", hint: "" }).success);
  assert.ok(!errorBodySchema.safeParse({ code: "internal", message: "m" }).success, "hint needed");
  const error = new BridgeError("task_expired", "Expired.", "Submit again.");
  assert.deepEqual(errorBodySchema.parse(error.toJSON()), error.toJSON());
});

Deno.test("errors: BridgeError.from rebuilds an error from its body", () => {
  const body: ErrorBody = { code: "interrupted", message: "Stopped.", hint: "Submit again." };
  const error = BridgeError.from(body);
  assert.ok(error instanceof BridgeError);
  assert.deepEqual(error.toJSON(), body);
});

Deno.test("errors: httpStatus maps every code to an error status", () => {
  for (const code of ERROR_CODES) {
    const status = httpStatus(code);
    assert.ok(status >= 400 && status <= 599, `${code}: ${status}`);
  }
  assert.equal(httpStatus("invalid_argument"), 400);
  assert.equal(httpStatus("unauthorized"), 401);
  assert.equal(httpStatus("forbidden"), 403);
  assert.equal(httpStatus("not_found"), 404);
  assert.equal(httpStatus("gone"), 410);
  assert.equal(httpStatus("quota_exceeded"), 429);
  assert.equal(httpStatus("internal"), 500);
  assert.equal(httpStatus("gateway_error"), 502);
  assert.equal(httpStatus("storage_unavailable"), 503);
  assert.equal(httpStatus("gateway_timeout"), 504);
});

Deno.test("errors: mcpError is the SDK's ProtocolError with our message as it is", () => {
  const error = mcpError(-32602, 'Unknown tool "x"', { error: "d" });
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.code, -32602);
  assert.deepEqual(error.data, { error: "d" });
  assert.equal(error.message, 'Unknown tool "x"');
});
