/**
 * `context.ts`: what `oauthContext` builds from its dependencies (limits
 * merged over the defaults, lifetimes from the configuration, the clock,
 * a lazy issuer, the address group a request counts against, the static
 * secret's hash) and the redirect back to the client with a code.
 */
import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import {
  issueCode,
  MAX_DCR_CLIENTS,
  MAX_PASSWORD_FAILURES,
  OAUTH_LIMITS,
  type OAuthContext,
  oauthContext,
  type OAuthDeps,
  redirectBack,
  SCOPE,
} from "../../src/auth/context.ts";
import { sha256Hex } from "../../src/auth/crypto.ts";
import type { AuthorizationRequest } from "../../src/auth/store.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger, silentLogger } from "../../src/log.ts";

const START = Date.parse("2030-01-01T00:00:00Z");
const REQUEST: AuthorizationRequest = {
  clientId: "dcr_AAAAAAAAAAAAAAAAAAAAAA",
  redirectUri: "https://app.example/cb?tenant=7",
  challenge: "c".repeat(43),
  resource: "http://127.0.0.1:9999/mcp",
  scope: SCOPE,
  state: "st&te",
};

interface Harness {
  ctx: OAuthContext;
  advance(ms: number): void;
  setIssuer(url: string): void;
  logs: Record<string, unknown>[];
}

async function withContext(
  env: Record<string, string>,
  deps: Partial<OAuthDeps>,
  fn: (h: Harness) => void | Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const command = loadConfig({
    args: ["--transport", "http"],
    env: { AUTH_ENABLED: "true", MCP_OWNER_PASSWORD: "pw", ...env },
  });
  assert.equal(command.kind, "run");
  let time = START;
  let issuer = "http://127.0.0.1:9999";
  const logs: Record<string, unknown>[] = [];
  const ctx = oauthContext({
    config: command.config,
    kv,
    issuer: () => issuer,
    log: createLogger({ write: (line) => logs.push(JSON.parse(line)) }),
    now: () => time,
    ...deps,
  });
  try {
    await fn({
      ctx,
      advance: (ms) => {
        time += ms;
      },
      setIssuer: (url) => {
        issuer = url;
      },
      logs,
    });
  } finally {
    kv.close();
  }
}

Deno.test("context: limits are the defaults with the given overrides on top; the defaults stay put", async () => {
  const before = { ...OAUTH_LIMITS };
  await withContext({}, { limits: { maxPending: 3, registerPerMinute: 1 } }, ({ ctx }) => {
    assert.deepEqual(ctx.limits, { ...OAUTH_LIMITS, maxPending: 3, registerPerMinute: 1 });
  });
  assert.deepEqual(OAUTH_LIMITS, before);
  assert.equal(OAUTH_LIMITS.consentAttempts, MAX_PASSWORD_FAILURES);
  assert.equal(OAUTH_LIMITS.maxApproved, MAX_DCR_CLIENTS);
  await withContext({}, {}, ({ ctx }) => {
    assert.deepEqual(ctx.limits, OAUTH_LIMITS);
    assert.notEqual(ctx.limits, OAUTH_LIMITS, "a copy, so no context can change the defaults");
  });
});

Deno.test("context: token lifetimes come from the configuration; the store reads the given clock", async () => {
  await withContext(
    { MCP_ACCESS_TOKEN_TTL_MS: "5000", MCP_REFRESH_TOKEN_TTL_MS: "90000" },
    {},
    async ({ ctx, advance }) => {
      assert.deepEqual(ctx.ttls, { accessMs: 5_000, refreshMs: 90_000 });
      assert.equal(ctx.now(), START);
      const issued = await ctx.store.issueTokens(
        { clientId: "c", family: "f", resource: REQUEST.resource, scope: SCOPE },
        ctx.ttls,
      );
      assert.equal(issued.expiresIn, 5);
      advance(4_999);
      assert.ok(await ctx.store.lookup(issued.accessToken, "access"));
      advance(1);
      assert.equal(await ctx.store.lookup(issued.accessToken, "access"), null);
    },
  );
});

Deno.test("context: the owner lockout allows the configured free attempts", async () => {
  await withContext({}, { limits: { ownerFreeAttempts: 2 } }, async ({ ctx, advance }) => {
    assert.ok((await ctx.owner.reserve()).ok);
    assert.ok((await ctx.owner.reserve()).ok);
    const third = await ctx.owner.reserve();
    assert.ok(!third.ok);
    assert.equal(await ctx.owner.lockedUntil(), START + 1_000, "locked on the context's clock");
    advance(1_000);
    assert.equal(await ctx.owner.lockedUntil(), null);
  });
});

Deno.test("context: the issuer is read when needed; the resource is <issuer>/mcp", async () => {
  await withContext({}, {}, ({ ctx, setIssuer }) => {
    assert.equal(ctx.resource(), "http://127.0.0.1:9999/mcp");
    setIssuer("https://mcp.example");
    assert.equal(ctx.issuer(), "https://mcp.example");
    assert.equal(ctx.resource(), "https://mcp.example/mcp", "known once the server listens");
  });
});

Deno.test("context: the static client's secret is kept as its SHA-256 hash, if configured", async () => {
  await withContext({}, {}, ({ ctx }) => {
    assert.equal(ctx.staticSecretHash, null);
  });
  const secret = "k".repeat(40);
  await withContext(
    { MCP_CLIENT_ID: "static", MCP_CLIENT_SECRET: secret },
    {},
    async ({ ctx }) => {
      assert.equal(await ctx.staticSecretHash, await sha256Hex(secret));
    },
  );
});

/** The address group `ctx` counts a request from `peer` with `headers` against. */
async function groupOf(ctx: OAuthContext, peer: string | null, headers: HeadersInit = {}) {
  const app = new Hono();
  app.get("/", (c: Context) => c.text(ctx.addressOf(c)));
  const env = peer ? { remoteAddr: { transport: "tcp", hostname: peer, port: 40_000 } } : {};
  return await (await app.request("/", { headers }, env)).text();
}

Deno.test("context: addressOf groups the peer (IPv6 by /64) and trusts X-Forwarded-For only behind TRUST_PROXY", async () => {
  const spoof = { "x-forwarded-for": "6.6.6.6" };
  await withContext({}, {}, async ({ ctx }) => {
    assert.equal(await groupOf(ctx, "192.0.2.7", spoof), "192.0.2.7", "the header is ignored");
    assert.equal(await groupOf(ctx, "2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(await groupOf(ctx, null), "unknown");
  });
  await withContext({ TRUST_PROXY: "1" }, {}, async ({ ctx }) => {
    const headers = { "x-forwarded-for": "6.6.6.6, 2001:db8:5:6:7::9" };
    assert.equal(await groupOf(ctx, "10.0.0.1", headers), "2001:db8:5:6::/64");
    assert.equal(await groupOf(ctx, "10.0.0.1"), "10.0.0.1", "no header: the proxy itself");
  });
});

Deno.test("redirectBack: a 302 to the client's URI with the parameters and the issuer; null values left out", async () => {
  await withContext({}, { log: silentLogger }, ({ ctx }) => {
    const response = redirectBack(ctx, "https://app.example/cb?tenant=7", {
      error: "access_denied",
      state: null,
      iss: "https://forged.example",
    });
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get("location")!);
    assert.equal(location.origin + location.pathname, "https://app.example/cb");
    assert.deepEqual([...location.searchParams], [
      ["tenant", "7"],
      ["error", "access_denied"],
      ["iss", "http://127.0.0.1:9999"],
    ]);
  });
});

Deno.test("issueCode: stores a redeemable code, redirects back with it and the state, and logs it", async () => {
  await withContext({}, {}, async ({ ctx, logs }) => {
    const response = await issueCode(ctx, REQUEST, "dcr");
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get("location")!);
    assert.equal(location.searchParams.get("tenant"), "7");
    assert.equal(location.searchParams.get("state"), "st&te");
    assert.equal(location.searchParams.get("iss"), "http://127.0.0.1:9999");
    const code = location.searchParams.get("code")!;
    const redeemed = await ctx.store.redeemCode(code);
    assert.ok(typeof redeemed === "object", "the code in the redirect is the stored one");
    assert.equal(redeemed.clientId, REQUEST.clientId);
    assert.equal(redeemed.challenge, REQUEST.challenge);
    assert.deepEqual(
      logs.map((l) => [l.event, l.client, l.kind]),
      [["oauth_code_issued", REQUEST.clientId, "dcr"]],
    );
    assert.ok(!JSON.stringify(logs).includes(code), "the code itself is not logged");

    const stateless = await issueCode(ctx, { ...REQUEST, state: null }, "static");
    const back = new URL(stateless.headers.get("location")!);
    assert.equal(back.searchParams.has("state"), false);
    assert.ok(back.searchParams.get("code"));
  });
});
