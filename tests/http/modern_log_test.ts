/**
 * The 2026-07-28 leg's refusals are logged (debug) bounded: the SDK quotes
 * the offending header or body value in full, and a 1 MB tool name made a
 * 1 MB log line per request before the cap.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { MAX_LOGGED_ERROR, modernLeg } from "../../src/http/modern.ts";

Deno.test("modern: a refusal quoting a huge value is logged cut to MAX_LOGGED_ERROR", async () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (line) => lines.push(line) });
  const leg = modernLeg(() => {
    throw new Error("a refused request builds no server");
  }, log);
  try {
    const name = "x".repeat(1_000_000);
    const body = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: {},
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    };
    const request = new Request("http://127.0.0.1/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "other",
      },
      body: JSON.stringify(body),
    });
    const response = await leg.handle(request, "alice", body);
    assert.equal(response.status, 400);
    await response.body?.cancel();
    const refused = lines.filter((line) => line.includes('"mcp_modern_refused"'));
    assert.equal(refused.length, 1);
    const logged = JSON.parse(refused[0]).error as string;
    assert.equal(logged.length, MAX_LOGGED_ERROR);
    assert.match(logged, /name-header-mismatch/);
  } finally {
    await leg.close();
  }
});
