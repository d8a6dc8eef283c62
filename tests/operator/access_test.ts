/**
 * `operatorAccess`: the mode each configuration gives, and who a request is
 * (bearer header, sign-in cookie, loopback client), through Hono's
 * `app.request()` with a chosen peer address.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { tokenId } from "../../src/auth/bearer.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import {
  type OperatorAccess,
  operatorAccess,
  operatorMode,
  SIGN_IN_COOKIE,
} from "../../src/operator/access.ts";

function config(env: Record<string, string>): Config {
  const command = loadConfig({ args: ["--transport", "http"], env });
  if (command.kind !== "run") throw new Error("expected a run command");
  return command.config;
}

/** Asks `access` about a request from `peer` with `headers`. */
function checker(access: OperatorAccess) {
  const app = new Hono();
  app.get("/", async (c) => Response.json(await access.check(c)));
  app.get("/session", async (c) => Response.json(await access.hasOperatorSession(c)));
  return async (headers: Record<string, string> = {}, peer = "127.0.0.1", path = "/") => {
    const env = { remoteAddr: { transport: "tcp", hostname: peer, port: 40_000 } };
    return await (await app.request(path, { headers }, env)).json();
  };
}

Deno.test("access: the mode follows the configuration", () => {
  const TOKEN = { MCP_AUTH_TOKENS: "a-token-0123456789" };
  const OAUTH = { AUTH_ENABLED: "true", MCP_OWNER_PASSWORD: "owner-password" };
  assert.equal(operatorMode(config({})), "loopback");
  assert.equal(operatorMode(config({ HOST: "0.0.0.0", MCP_ALLOW_INSECURE: "true" })), "closed");
  assert.equal(operatorMode(config(TOKEN)), "token");
  assert.equal(operatorMode(config(OAUTH)), "password");
  assert.equal(operatorMode(config({ ...OAUTH, ...TOKEN })), "password_or_token");
  assert.equal(operatorMode(config({ AUTH_ENABLED: "true" })), "closed", "OAuth, no password");
  // The owner password means nothing with OAuth off (there is no consent page to guard).
  assert.equal(operatorMode(config({ MCP_OWNER_PASSWORD: "owner-password" })), "loopback");
});

Deno.test("access: a static token header, a sign-in cookie, nothing else", async () => {
  await using kv = await Deno.openKv(":memory:");
  const access = operatorAccess({
    config: config({
      AUTH_ENABLED: "true",
      MCP_OWNER_PASSWORD: "owner-password",
      MCP_AUTH_TOKENS: "a-token-0123456789,b-token-0123456789",
    }),
    kv,
    issuer: () => "http://127.0.0.1:3000",
  });
  const check = checker(access);
  assert.deepEqual(await check(), { ok: false, reason: "none" });
  assert.deepEqual(
    await check({}, "127.0.0.1"),
    { ok: false, reason: "none" },
    "loopback is no login",
  );
  assert.deepEqual(await check({ authorization: "Bearer b-token-0123456789" }), {
    ok: true,
    grant: { via: "token", principal: await tokenId("b-token-0123456789") },
  });
  for (const header of ["Bearer nope", "Bearer", "Basic YTpi", "b-token-0123456789"]) {
    assert.deepEqual(await check({ authorization: header }), { ok: false, reason: "bad_token" });
  }
  assert.equal(await access.credentialOf("owner-password"), "password");
  assert.equal(await access.credentialOf("a-token-0123456789"), "token");
  assert.equal(await access.credentialOf("owner-passwor"), null);

  const { token, signIn } = await access.signIns.start("password", "owner-password");
  const cookie = { cookie: `${SIGN_IN_COOKIE}=${token}` };
  assert.deepEqual(await check(cookie), {
    ok: true,
    grant: { via: "sign_in", principal: signIn.id, signIn },
  });
  assert.equal(await check(cookie, "127.0.0.1", "/session"), true);
  assert.equal(
    await check({ authorization: "Bearer b-token-0123456789" }, "127.0.0.1", "/session"),
    false,
  );
  // A bearer header decides alone: a bad one is refused even beside a good cookie.
  assert.deepEqual(await check({ ...cookie, authorization: "Bearer nope" }), {
    ok: false,
    reason: "bad_token",
  });
});

Deno.test("access: without auth on a loopback bind, loopback clients only", async () => {
  await using kv = await Deno.openKv(":memory:");
  const check = checker(operatorAccess({ config: config({}), kv, issuer: () => "" }));
  const open = { ok: true, grant: { via: "loopback", principal: "loopback" } };
  for (const peer of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
    assert.deepEqual(await check({}, peer), open, peer);
  }
  for (const peer of ["192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "unknown"]) {
    assert.deepEqual(await check({}, peer), { ok: false, reason: "none" }, peer);
  }
  for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
    assert.deepEqual(await check({ [header]: "127.0.0.1" }), { ok: false, reason: "none" }, header);
  }
  const proxied = checker(
    operatorAccess({ config: config({ TRUST_PROXY: "1" }), kv, issuer: () => "" }),
  );
  assert.deepEqual(await proxied({ "x-forwarded-for": "127.0.0.1" }), open);
  assert.deepEqual(await proxied({ "x-forwarded-for": "127.0.0.1, 192.0.2.9" }), {
    ok: false,
    reason: "none",
  });

  const closed = checker(operatorAccess({
    config: config({ HOST: "0.0.0.0", MCP_ALLOW_INSECURE: "true" }),
    kv,
    issuer: () => "",
  }));
  assert.deepEqual(await closed({}, "127.0.0.1"), { ok: false, reason: "none" }, "never open");
});

Deno.test("access: cookies are Secure behind an https issuer or request", async () => {
  await using kv = await Deno.openKv(":memory:");
  const make = (issuer: string, env: Record<string, string> = {}) =>
    operatorAccess({
      config: config({ MCP_AUTH_TOKENS: "a-token-0123456789", ...env }),
      kv,
      issuer: () => issuer,
    });
  const cookieOf = async (
    access: OperatorAccess,
    url: string,
    headers: Record<string, string> = {},
  ) => {
    const app = new Hono();
    app.get("/", (c) => c.text(access.signInCookie(c, "x")));
    return await (await app.request(url, { headers })).text();
  };
  assert.doesNotMatch(await cookieOf(make("http://127.0.0.1:3000"), "http://127.0.0.1/"), /Secure/);
  assert.match(await cookieOf(make("https://mcp.example.com"), "http://127.0.0.1/"), /; Secure/);
  assert.match(await cookieOf(make(""), "https://mcp.example.com/"), /; Secure/);
  const https = { "x-forwarded-proto": "https" };
  assert.doesNotMatch(await cookieOf(make(""), "http://127.0.0.1/", https), /Secure/, "untrusted");
  assert.match(
    await cookieOf(make("", { TRUST_PROXY: "1" }), "http://127.0.0.1/", https),
    /Secure/,
  );
  const out = await (async () => {
    const app = new Hono();
    const access = make("https://mcp.example.com");
    app.get("/", (c) => c.text(access.signOutCookie(c)));
    return await (await app.request("/")).text();
  })();
  assert.equal(out, "openclaw_operator=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict");
});
