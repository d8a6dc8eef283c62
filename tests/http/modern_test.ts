/**
 * The 2026-07-28 leg of `/mcp` in process: `isLegacy` routing on built
 * `Request`s, and `modernLeg` over the SDK's `createMcpHandler` with a stub
 * server factory that records whom and which era it was asked for.
 */
import assert from "node:assert/strict";
import { Server } from "@modelcontextprotocol/server";
import { isLegacy, modernLeg } from "../../src/http/modern.ts";
import { createLogger } from "../../src/log.ts";
import type { Era } from "../../src/server.ts";
import { INITIALIZE } from "../../testing/spawn.ts";

const MODERN = "2026-07-28";
const URL_ = "http://localhost/mcp";

type Json = Record<string, unknown>;

/** The per-request `_meta` envelope of 2026-07-28. */
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** A POST of `body` with the JSON headers and `headers`; returns the request and the body as parsed. */
function post(body: Json, headers: Record<string, string> = {}): [Request, Json] {
  const request = new Request(URL_, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return [request, body];
}

/** A modern `tools/list`: the envelope in the body, the version and method in the headers. */
function modernToolsList(id = 1): [Request, Json] {
  return post(
    { jsonrpc: "2.0", id, method: "tools/list", params: { _meta: ENVELOPE } },
    { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" },
  );
}

const toolsCall = {
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "openclaw_status", arguments: {} },
};

Deno.test("isLegacy: the 2025 era (no envelope claim) is legacy", async () => {
  assert.equal(await isLegacy(...post(INITIALIZE)), true, "initialize");
  assert.equal(
    await isLegacy(...post(toolsCall, { "mcp-session-id": "s1" })),
    true,
    "a claim-less tools/call",
  );
  assert.equal(
    await isLegacy(...post({ jsonrpc: "2.0", method: "notifications/initialized" })),
    true,
    "a claim-less notification",
  );
  for (const method of ["GET", "DELETE"]) {
    const request = new Request(URL_, { method, headers: { "mcp-session-id": "s1" } });
    assert.equal(await isLegacy(request, undefined), true, method);
  }
});

Deno.test("isLegacy: an enveloped request, or a modern version header without one, is not", async () => {
  assert.equal(await isLegacy(...modernToolsList()), false, "an enveloped request");
  const headerOnly = post(toolsCall, {
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/call",
    "mcp-name": "openclaw_status",
  });
  assert.equal(await isLegacy(...headerOnly), false, "the modern leg owns the refusal");
});

/** A leg over a stub factory that records each call and answers tools/list with the owner. */
function stubLeg() {
  const calls: { owner: string; era: Era }[] = [];
  const lines: Json[] = [];
  const log = createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  const leg = modernLeg((owner, era) => {
    calls.push({ owner, era });
    const server = new Server({ name: "stub", version: "0" }, { capabilities: { tools: {} } });
    server.setRequestHandler("tools/list", () => ({
      tools: [{ name: `for_${owner}`, inputSchema: { type: "object" as const } }],
    }));
    return server;
  }, log);
  return { leg, calls, lines };
}

Deno.test("modernLeg: each request gets a fresh modern server for the principal handed to handle()", async () => {
  const { leg, calls } = stubLeg();
  try {
    const alice = await leg.handle(...withOwner(modernToolsList(1), "alice"));
    assert.equal(alice.status, 200);
    const body = await alice.json();
    assert.equal(body.id, 1);
    assert.deepEqual(
      body.result.tools.map((t: { name: string }) => t.name),
      ["for_alice"],
      "the server built for alice answered",
    );
    const bob = await leg.handle(...withOwner(modernToolsList(2), "bob"));
    assert.deepEqual((await bob.json()).result.tools[0].name, "for_bob");
    assert.deepEqual(calls, [{ owner: "alice", era: "modern" }, { owner: "bob", era: "modern" }]);
  } finally {
    await leg.close();
  }
});

/** `[request, body]` as `handle(request, owner, body)` takes them. */
function withOwner([request, body]: [Request, Json], owner: string): [Request, string, Json] {
  return [request, owner, body];
}

Deno.test("modernLeg: a modern version header without the envelope is -32602; a legacy request is refused", async () => {
  const { leg, calls, lines } = stubLeg();
  try {
    const [request, body] = post(toolsCall, {
      "mcp-protocol-version": MODERN,
      "mcp-method": "tools/call",
      "mcp-name": "openclaw_status",
    });
    const response = await leg.handle(request, "alice", body);
    const answer = await response.json();
    assert.equal(answer.id, 2);
    assert.equal(answer.error.code, -32602, JSON.stringify(answer));

    const [init, initBody] = post(INITIALIZE);
    const refused = await (await leg.handle(init, "alice", initBody)).json();
    assert.equal(refused.id, 1);
    assert.equal(refused.error.code, -32022, "unsupported protocol version (strict mode)");
    assert.deepEqual(refused.error.data.supported, [MODERN]);
    assert.deepEqual(calls, [], "no server is built for a refused request");
    assert.ok(lines.some((l) => l.event === "mcp_modern_refused"), "refusals are logged (debug)");
  } finally {
    await leg.close();
  }
});

Deno.test("modernLeg: close() resolves, twice too", async () => {
  const { leg } = stubLeg();
  await leg.handle(...withOwner(modernToolsList(), "alice"));
  await leg.close();
  await leg.close();
});
