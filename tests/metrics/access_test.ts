/** Who may read /metrics: the guard alone, on a Hono app in process, from chosen addresses. */
import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { loadConfig } from "../../src/config.ts";
import { metricsAccess } from "../../src/metrics/access.ts";

const METRICS_TOKEN = "metrics-token-0123456789abcdef";
const STATIC_TOKEN = "static-token-0123456789abcdef";

function config(env: Record<string, string>, args: string[] = []) {
  const command = loadConfig({ args: ["--transport", "http", ...args], env });
  assert.ok(command.kind === "run");
  return command.config;
}

/** A fetch to an app serving only the guarded route, as if from `address`. */
function guarded(
  env: Record<string, string>,
  options: { args?: string[]; allow?: (c: Context) => boolean; now?: () => number } = {},
) {
  const app = new Hono();
  app.get(
    "/metrics",
    metricsAccess(config(env, options.args), { allow: options.allow, now: options.now }),
    (c) => c.text("ok"),
  );
  return async (address: string, headers: Record<string, string> = {}) => {
    const remoteAddr = { transport: "tcp", hostname: address, port: 40_000 };
    return await app.request("http://127.0.0.1/metrics", { headers }, { remoteAddr });
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("access: the metrics token and the static tokens are accepted; nothing else", async () => {
  const get = guarded({ MCP_METRICS_TOKEN: METRICS_TOKEN, MCP_AUTH_TOKENS: STATIC_TOKEN });
  assert.equal((await get("192.0.2.1", bearer(METRICS_TOKEN))).status, 200);
  assert.equal((await get("192.0.2.1", bearer(STATIC_TOKEN))).status, 200);
  assert.equal((await get("192.0.2.1", { authorization: `bearer  ${METRICS_TOKEN}` })).status, 200);
  for (
    const headers of [
      {},
      bearer("wrong-token-0123456789"),
      bearer(METRICS_TOKEN + "x"),
      { authorization: `Basic ${btoa(`x:${METRICS_TOKEN}`)}` },
      { authorization: METRICS_TOKEN },
    ]
  ) {
    const response = await get("127.0.0.1", headers);
    assert.equal(response.status, 401, JSON.stringify(headers));
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /);
    const text = await response.text();
    assert.equal(JSON.parse(text).error, "unauthorized");
    assert.doesNotMatch(text, /0123456789/, "no token echoed");
  }
});

Deno.test("access: with OAuth on, an OAuth access token is never the operator", async () => {
  const oauthOnly = guarded({ AUTH_ENABLED: "true" });
  const refused = await oauthOnly("127.0.0.1", bearer("an-oauth-access-token"));
  assert.equal(refused.status, 401);
  assert.match((await refused.json()).hint, /MCP_METRICS_TOKEN.*OAuth access tokens are not/);
  assert.equal((await oauthOnly("127.0.0.1")).status, 401, "not open to loopback either");
  const withToken = guarded({ AUTH_ENABLED: "true", MCP_METRICS_TOKEN: METRICS_TOKEN });
  assert.equal((await withToken("192.0.2.1", bearer(METRICS_TOKEN))).status, 200);
});

Deno.test("access: without any auth, loopback clients of a loopback bind only", async () => {
  const open = guarded({});
  assert.equal((await open("127.0.0.1")).status, 200);
  assert.equal((await open("::1")).status, 200);
  assert.equal((await open("::ffff:127.0.0.1")).status, 200);
  assert.equal((await open("127.0.0.1", bearer("anything-at-all"))).status, 200);
  const remote = await open("192.0.2.7");
  assert.equal(remote.status, 401);
  assert.match((await remote.json()).hint, /loopback clients of a loopback bind/);
  // Behind a trusted proxy on this machine, the client is the forwarded address.
  const proxied = guarded({}, { args: ["--trust-proxy", "1"] });
  assert.equal((await proxied("127.0.0.1", { "x-forwarded-for": "192.0.2.7" })).status, 401);
  assert.equal((await proxied("127.0.0.1", { "x-forwarded-for": "127.0.0.1" })).status, 200);
  const publicBind = guarded({}, { args: ["--host", "0.0.0.0", "--allow-insecure"] });
  assert.equal((await publicBind("127.0.0.1")).status, 401, "a public bind is never open");
});

Deno.test("access: allow() admits a request before any token is looked at", async () => {
  const get = guarded({ MCP_METRICS_TOKEN: METRICS_TOKEN }, {
    allow: (c) => c.req.header("cookie") === "owner=yes",
  });
  assert.equal((await get("192.0.2.1", { cookie: "owner=yes" })).status, 200);
  assert.equal((await get("192.0.2.1", { cookie: "owner=no" })).status, 401);
});

Deno.test("access: refusals are limited per address; successful scrapes give their attempt back", async () => {
  const t = 1_000_000;
  const get = guarded({ MCP_METRICS_TOKEN: METRICS_TOKEN, MCP_RATE_LIMIT: "3" }, { now: () => t });
  for (let i = 0; i < 10; i++) {
    assert.equal((await get("192.0.2.1", bearer(METRICS_TOKEN))).status, 200, `scrape ${i}`);
  }
  for (let i = 0; i < 3; i++) assert.equal((await get("192.0.2.1")).status, 401);
  const limited = await get("192.0.2.1", bearer(METRICS_TOKEN));
  assert.equal(limited.status, 429, "even the right token waits once the address is spent");
  assert.equal((await limited.json()).error, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  assert.equal((await get("192.0.2.99")).status, 401, "another address has its own budget");
});
