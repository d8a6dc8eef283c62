/**
 * `siteGuards` and `mcpGuards` composed the way the app composes them, over
 * Hono's `app.request()`: which hosts, origins and CORS preflights pass, and
 * on `/mcp` the body limit, authentication and the per-principal rate limit
 * counting batch elements.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { type Config, loadConfig } from "../../src/config.ts";
import {
  type GuardEnv,
  MAX_BODY_BYTES,
  mcpGuards,
  siteGuards,
} from "../../src/http/guard_chain.ts";
import { tokenId } from "../../src/auth/bearer.ts";
import { gatewayEnv } from "../../testing/spawn.ts";

const TOKEN = "token-one-0123456789";

function config(env: Record<string, string> = {}): Config {
  const command = loadConfig({
    args: ["--transport", "http"],
    env: { ...gatewayEnv("http://127.0.0.1:9"), ...env },
  });
  if (command.kind !== "run") throw new Error("expected a run command");
  return command.config;
}

/** The app's guard order with a handler that names the principal. */
async function guarded(cfg: Config) {
  const app = new Hono<GuardEnv>();
  app.use("*", ...siteGuards(cfg));
  app.get("/health", (c) => c.text("ok"));
  app.use("/mcp", ...await mcpGuards(cfg, { now: () => 0 }));
  app.post("/mcp", (c) => c.json({ principal: c.get("principal") ?? null }));
  return (path: string, init: RequestInit = {}) =>
    app.request(`http://127.0.0.1${path}`, {
      ...init,
      headers: { host: "127.0.0.1", ...(init.headers as Record<string, string> ?? {}) },
    });
}

const rpc = (n: number) =>
  JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "ping" })));

Deno.test("guard_chain: the issuer's host and origin are allowed besides the bind host", async () => {
  const request = await guarded(config({ MCP_ISSUER_URL: "https://mcp.example.com" }));
  assert.equal((await request("/health")).status, 200);
  assert.equal((await request("/health", { headers: { host: "mcp.example.com" } })).status, 200);
  const origin = await request("/health", { headers: { origin: "https://mcp.example.com" } });
  assert.equal(origin.status, 200);
  assert.equal((await request("/health", { headers: { host: "evil.example" } })).status, 403);
  const foreign = await request("/health", { headers: { origin: "https://evil.example" } });
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
});

Deno.test("guard_chain: CORS answers preflights of configured origins; without CORS_ORIGINS no CORS headers", async () => {
  const preflight = (origin: string) => ({
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST" },
  });
  const withCors = await guarded(config({ CORS_ORIGINS: "https://app.example" }));
  const allowed = await withCors("/mcp", preflight("https://app.example"));
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
  assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /Mcp-Session-Id/);
  assert.equal(allowed.headers.get("access-control-max-age"), "600");

  const withoutCors = await guarded(config());
  const plain = await withoutCors("/health", { headers: { origin: "http://127.0.0.1" } });
  assert.equal(plain.headers.get("access-control-allow-origin"), null);
  await plain.body?.cancel();
});

Deno.test("guard_chain: /mcp refuses a body past MAX_BODY_BYTES with 413 JSON-RPC", async () => {
  const request = await guarded(config());
  const big = await request("/mcp", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "x".repeat(MAX_BODY_BYTES + 1),
  });
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error.code, -32000);
});

Deno.test("guard_chain: with tokens /mcp needs one and sets the principal", async () => {
  const request = await guarded(config({ MCP_AUTH_TOKENS: TOKEN }));
  const anonymous = await request("/mcp", { method: "POST", body: rpc(1) });
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const signedIn = await request("/mcp", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: rpc(1),
  });
  assert.equal(signedIn.status, 200);
  assert.equal((await signedIn.json()).principal, await tokenId(TOKEN));
});

Deno.test("guard_chain: the rate limit counts each message of a batch", async () => {
  const request = await guarded(config({ MCP_RATE_LIMIT: "3" }));
  const post = (n: number) =>
    request("/mcp", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: rpc(n),
    });
  const tooBig = await post(4);
  assert.equal(tooBig.status, 429);
  assert.match((await tooBig.json()).error.message, /a batch of 4 messages exceeds the limit of 3/);
  assert.equal((await post(2)).status, 200);
  assert.equal((await post(1)).status, 200);
  const spent = await post(1);
  assert.equal(spent.status, 429);
  assert.ok(Number(spent.headers.get("retry-after")) > 0);
});
