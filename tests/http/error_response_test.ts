/** JSON error responses outside /mcp: the error body with its code as `error`, the status by code. */
import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import { errorResponse, httpErrorBody } from "../../src/http/error_response.ts";

Deno.test("error response: the body is code (as error), message and hint; the status follows the code", async () => {
  const response = errorResponse({ code: "gone", message: "Moved.", hint: "Use /mcp." });
  assert.equal(response.status, 410);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await response.json(), { error: "gone", message: "Moved.", hint: "Use /mcp." });
});

Deno.test("error response: a BridgeError goes out as its body, never its stack or gateway status", async () => {
  const error = new BridgeError("storage_unavailable", "Busy.", "Retry.");
  error.httpStatus = 418;
  const response = errorResponse(error, { "retry-after": "1" });
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  const text = await response.text();
  assert.deepEqual(JSON.parse(text), httpErrorBody(error));
  assert.doesNotMatch(text, /418|stack/);
});
