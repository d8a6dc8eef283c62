import assert from "node:assert/strict";
import {
  MODERN_PROTOCOL_VERSION,
  PROTOCOL_VERSIONS,
  UNSUPPORTED_PROTOCOL_VERSION,
  unsupportedVersion,
} from "../../src/http/protocol_version.ts";

function post(version?: string): Request {
  return new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: version ? { "mcp-protocol-version": version } : {},
  });
}

Deno.test("protocol_version: every version we speak passes, and no header passes", () => {
  assert.equal(PROTOCOL_VERSIONS[0], MODERN_PROTOCOL_VERSION);
  assert.ok(PROTOCOL_VERSIONS.includes("2025-11-25"));
  for (const version of PROTOCOL_VERSIONS) {
    assert.equal(unsupportedVersion(post(version), {}), null);
  }
  assert.equal(unsupportedVersion(post(), { jsonrpc: "2.0", id: 1, method: "initialize" }), null);
});

Deno.test("protocol_version: an unknown version is 400 -32022 with the list, the ask and the id", async () => {
  for (const id of [7, "req-7"]) {
    const response = unsupportedVersion(post("1999-01-01"), { jsonrpc: "2.0", id, method: "x" });
    assert.ok(response);
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      jsonrpc: "2.0",
      id,
      error: {
        code: UNSUPPORTED_PROTOCOL_VERSION,
        message: "Unsupported protocol version: 1999-01-01",
        data: { supported: [...PROTOCOL_VERSIONS], requested: "1999-01-01" },
      },
    });
  }
});

Deno.test("protocol_version: a batch or a notification gets a null id; a huge header is cut", async () => {
  const batch = unsupportedVersion(post("x".repeat(500)), [{ jsonrpc: "2.0", id: 1 }]);
  const body = await batch!.json();
  assert.equal(body.id, null);
  assert.equal(body.error.data.requested, "x".repeat(64));
  const note = unsupportedVersion(post("0"), { jsonrpc: "2.0", method: "notifications/x" });
  assert.equal((await note!.json()).id, null);
});
