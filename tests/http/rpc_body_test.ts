/**
 * `readBody` and `messageCount` through Hono's `app.request()`: the body is
 * read once and shared by a middleware and the handler; a wrong type is
 * 415, bad JSON 400 -32700; a batch costs one per message.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { messageCount, readBody, type RpcBody, type RpcBodyEnv } from "../../src/http/rpc_body.ts";

/** An app whose middleware counts messages and whose handler echoes the body it reads. */
function echoApp() {
  const seen: { count: number; sameBody: boolean }[] = [];
  const app = new Hono<RpcBodyEnv>();
  app.use("*", async (c, next) => {
    const count = await messageCount(c);
    const first = c.get("rpcBody") as RpcBody | undefined;
    await next();
    seen.push({ count, sameBody: first === undefined || first === c.get("rpcBody") });
  });
  app.all("/mcp", async (c) => {
    if (c.req.method !== "POST") return c.text("no body");
    const body = await readBody(c);
    return body.ok ? c.json({ echo: body.value }) : body.response;
  });
  const post = (body: string, type = "application/json") =>
    app.request("/mcp", { method: "POST", headers: { "content-type": type }, body });
  return { app, post, seen };
}

Deno.test("rpc_body: JSON is read once, shared by the middleware and the handler", async () => {
  const { post, seen } = echoApp();
  const response = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }));
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { echo: { jsonrpc: "2.0", id: 1, method: "ping" } });
  assert.deepEqual(seen, [{ count: 1, sameBody: true }]);
  // A charset parameter or upper case is still JSON.
  const typed = await post("[]", "Application/JSON; charset=utf-8");
  assert.deepEqual(await typed.json(), { echo: [] });
});

Deno.test("rpc_body: a batch costs one per message, at least one; GET costs one", async () => {
  const { app, post, seen } = echoApp();
  const batch = Array.from({ length: 3 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "ping" }));
  await (await post(JSON.stringify(batch))).body?.cancel();
  await (await post("[]")).body?.cancel();
  await (await post("{not json")).body?.cancel();
  await (await app.request("/mcp")).body?.cancel();
  assert.deepEqual(seen.map((s) => s.count), [3, 1, 1, 1]);
  assert.ok(seen.every((s) => s.sameBody));
});

Deno.test("rpc_body: a non-JSON type is 415 and bytes that do not parse are 400 -32700", async () => {
  const { post } = echoApp();
  const wrongType = await post("{}", "text/plain");
  assert.equal(wrongType.status, 415);
  assert.deepEqual(await wrongType.json(), {
    jsonrpc: "2.0",
    id: null,
    error: {
      code: -32000,
      message: "Unsupported Media Type: Content-Type must be application/json",
    },
  });
  const badJson = await post("{not json");
  assert.equal(badJson.status, 400);
  assert.deepEqual(await badJson.json(), {
    jsonrpc: "2.0",
    id: null,
    error: { code: -32700, message: "Parse error: the body is not valid JSON" },
  });
});
