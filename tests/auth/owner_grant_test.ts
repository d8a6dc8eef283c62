/**
 * Owner grants: the consent page's "Owner access" box, ticked by whoever
 * types the owner password, makes the login (its token family) an owner;
 * refresh keeps it, revocation ends it; nothing else sets it (a forged field
 * without the password, a replayed form, anything sent to `/token`). Over
 * the in-process authorization server and the store; who the bridge then
 * treats as the owner is `ownerAccess` (at the end), and the tools over HTTP
 * are in tests/http/owner_test.ts.
 */
import assert from "node:assert/strict";
import { oauthGrantOf, oauthPrincipal, tokenId } from "../../src/auth/bearer.ts";
import { type AuthorizationRequest, OAuthStore, type TokenRecord } from "../../src/auth/store.ts";
import { sha256Hex } from "../../src/auth/crypto.ts";
import { ownerAccess } from "../../src/bridge.ts";
import { loadConfig } from "../../src/config.ts";
import {
  authorizeUrl,
  consentForm,
  type InProcessOAuth,
  inProcessOAuth,
  pkce,
} from "../helpers/oauth.ts";

const PASSWORD = "correct horse battery staple";
const CALLBACK = "http://127.0.0.1:9/callback";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A consent page for a fresh public DCR client, with what `/token` will need. */
async function consentPage(server: InProcessOAuth) {
  const send = server.fetchFrom("192.0.2.8");
  const registered = await send(`${server.base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [CALLBACK], token_endpoint_auth_method: "none" }),
  });
  const { client_id: clientId } = await registered.json();
  const { verifier, challenge } = await pkce();
  const page = await send(authorizeUrl(server.base, {
    response_type: "code",
    client_id: clientId,
    redirect_uri: CALLBACK,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }));
  return { clientId, verifier, ...await consentForm(page) };
}

type Page = Awaited<ReturnType<typeof consentPage>>;

/** Posts the consent form of `page` with `fields` (over its consent id and cookie). */
async function submit(server: InProcessOAuth, page: Page, fields: Record<string, string>) {
  return await server.fetchFrom("192.0.2.8")(`${server.base}/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: page.cookie },
    body: new URLSearchParams({ consent_id: page.consentId, action: "approve", ...fields }),
  });
}

/** POSTs form fields to `path` (/token, /revoke); the JSON answer. */
async function post(server: InProcessOAuth, path: string, fields: Record<string, string>) {
  const response = await server.fetchFrom("192.0.2.8")(`${server.base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** Redeems the code a consent answer redirected with; `extra` fields go to `/token` too. */
async function redeem(
  server: InProcessOAuth,
  page: Page,
  answer: Response,
  extra: Record<string, string> = {},
) {
  assert.equal(answer.status, 302, "approved");
  const code = new URL(answer.headers.get("location")!).searchParams.get("code");
  assert.ok(code, "a code");
  const tokens = await post(server, "/token", {
    grant_type: "authorization_code",
    code,
    redirect_uri: CALLBACK,
    code_verifier: page.verifier,
    client_id: page.clientId,
    ...extra,
  });
  assert.equal(tokens.status, 200);
  return tokens.body as { access_token: string; refresh_token: string };
}

/** The stored record of `token`. */
async function record(server: InProcessOAuth, token: string): Promise<TokenRecord> {
  return (await server.kv.get<TokenRecord>(["oauth_token", await sha256Hex(token)])).value!;
}

/** Whether the login holding `token` (or that login itself) is an owner grant, as the bridge asks. */
async function isOwner(
  server: InProcessOAuth,
  token: string | { clientId: string; family: string },
): Promise<boolean> {
  const { clientId, family } = typeof token === "string" ? await record(server, token) : token;
  return await new OAuthStore(server.kv, { now: server.now, ownerSecret: PASSWORD })
    .isOwnerGrant(clientId, family);
}

Deno.test("owner grant: the consent page offers the Owner access box, unticked", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const { html } = await consentPage(server);
    const box = /<input type="checkbox" name="owner_access" value="yes"[^>]*>/.exec(html)?.[0];
    assert.ok(box, "a checkbox named owner_access");
    assert.ok(!box.includes("checked"), "unticked");
    assert.match(html, /read every conversation of the claw and answer its approvals/);
  } finally {
    await server.close();
  }
});

Deno.test("owner grant: granted with the box ticked and the right password; not without the box", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const page = await consentPage(server);
    const owner = await redeem(
      server,
      page,
      await submit(server, page, { password: PASSWORD, owner_access: "yes" }),
    );
    assert.equal((await record(server, owner.access_token)).owner, true);
    assert.equal((await record(server, owner.refresh_token)).owner, true);
    assert.equal(await isOwner(server, owner.access_token), true);
    assert.ok(
      server.logs.some((l) => l.event === "oauth_code_issued" && l.owner === true),
      "the owner grant is logged",
    );

    const plainPage = await consentPage(server);
    const plain = await redeem(
      server,
      plainPage,
      await submit(server, plainPage, { password: PASSWORD }),
    );
    assert.equal((await record(server, plain.access_token)).owner, undefined);
    assert.equal(await isOwner(server, plain.access_token), false);
  } finally {
    await server.close();
  }
});

Deno.test("owner grant: the box without the right password grants nothing; a forged value is refused", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const page = await consentPage(server);
    for (const password of ["", "wrong password"]) {
      const refused = await submit(server, page, { password, owner_access: "yes" });
      assert.equal(refused.status, 401, "the page again, no code");
      const html = await refused.text();
      assert.match(html, /name="owner_access" value="yes" checked/, "shown again as sent");
    }
    assert.equal(
      (await submit(server, page, { password: PASSWORD, owner_access: "true" })).status,
      403,
      "a value the page never sends is refused",
    );
    // The same page, the right password, the box left unticked: not an owner.
    const tokens = await redeem(server, page, await submit(server, page, { password: PASSWORD }));
    assert.equal(await isOwner(server, tokens.access_token), false);
    assert.equal(await server.count(["oauth_owner_grant"]), 0);
  } finally {
    await server.close();
  }
});

Deno.test("owner grant: a replayed form, or another page's cookie, gets no code at all", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const page = await consentPage(server);
    const first = await submit(server, page, { password: PASSWORD });
    assert.equal(first.status, 302);
    // Replayed with the box ticked: the consent ended with the approval.
    const replay = await submit(server, page, { password: PASSWORD, owner_access: "yes" });
    assert.equal(replay.status, 400);
    // Another client's page with this page's cookie: the CSRF binding refuses it.
    const other = await consentPage(server);
    const moved = await submit(server, { ...other, cookie: page.cookie }, {
      password: PASSWORD,
      owner_access: "yes",
    });
    assert.equal(moved.status, 403);
    await redeem(server, page, first);
    assert.equal(await server.count(["oauth_owner_grant"]), 0);
  } finally {
    await server.close();
  }
});

Deno.test("owner grant: nothing sent to /token makes a login an owner", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const page = await consentPage(server);
    const tokens = await redeem(
      server,
      page,
      await submit(server, page, { password: PASSWORD }),
      { owner: "true", owner_access: "yes", scope: "mcp:tools owner" },
    );
    const refreshed = await post(server, "/token", {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: page.clientId,
      owner: "true",
      owner_access: "yes",
    });
    assert.equal(refreshed.status, 200);
    assert.equal(await isOwner(server, refreshed.body.access_token), false);
    assert.equal(await server.count(["oauth_owner_grant"]), 0);
  } finally {
    await server.close();
  }
});

Deno.test("owner grant: refresh keeps it; revoking the refresh token ends it; so does reusing one", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const page = await consentPage(server);
    const first = await redeem(
      server,
      page,
      await submit(server, page, { password: PASSWORD, owner_access: "yes" }),
    );
    server.advance(HOUR);
    const refresh = (token: string, clientId = page.clientId) =>
      post(server, "/token", {
        grant_type: "refresh_token",
        refresh_token: token,
        client_id: clientId,
      });
    const second = await refresh(first.refresh_token);
    assert.equal(second.status, 200);
    assert.equal((await record(server, second.body.access_token)).owner, true);
    assert.equal(await isOwner(server, second.body.access_token), true, "rotation keeps it");

    // Revoking the access token alone leaves the login, and its grant.
    const login = await record(server, second.body.refresh_token);
    await post(server, "/revoke", { token: second.body.access_token, client_id: page.clientId });
    assert.equal(await isOwner(server, login), true);
    await post(server, "/revoke", { token: second.body.refresh_token, client_id: page.clientId });
    assert.equal(await isOwner(server, login), false, "revoked");
    assert.equal(await server.count(["oauth_owner_grant"]), 0, "its mark is gone");

    // Another owner login, whose spent refresh token is used again: the family goes.
    const again = await consentPage(server);
    const stolen = await redeem(
      server,
      again,
      await submit(server, again, { password: PASSWORD, owner_access: "yes" }),
    );
    const rotated = await refresh(stolen.refresh_token, again.clientId);
    assert.equal(rotated.status, 200);
    assert.equal(await isOwner(server, rotated.body.access_token), true);
    assert.equal((await refresh(stolen.refresh_token, again.clientId)).status, 400, "reuse");
    assert.equal(await isOwner(server, rotated.body.access_token), false);
  } finally {
    await server.close();
  }
});

const REQUEST: AuthorizationRequest = {
  clientId: "dcr_AAAAAAAAAAAAAAAAAAAAAA",
  redirectUri: CALLBACK,
  challenge: "c".repeat(43),
  resource: "http://127.0.0.1:9999/mcp",
  scope: "mcp:tools",
  state: null,
};

Deno.test("store: an owner grant lives as long as its family's newest token, for its own client only", async () => {
  const kv = await Deno.openKv(":memory:");
  let time = Date.parse("2030-01-01T00:00:00Z");
  const store = new OAuthStore(kv, { now: () => time });
  const ttls = { accessMs: HOUR, refreshMs: 30 * DAY };
  try {
    const code = await store.issueCode(REQUEST, true);
    const redeemed = await store.redeemCode(code);
    assert.ok(typeof redeemed === "object" && redeemed.owner === true);
    const plain = await store.redeemCode(await store.issueCode(REQUEST));
    assert.ok(typeof plain === "object" && plain.owner === undefined);

    const { family, clientId } = redeemed;
    const issued = await store.issueTokens({ ...redeemed, owner: true }, ttls);
    assert.equal(await store.isOwnerGrant(clientId, family), true);
    assert.equal(await store.isOwnerGrant("dcr_BBBBBBBBBBBBBBBBBBBBBB", family), false);
    assert.equal(await store.isOwnerGrant(clientId, plain.family), false);
    assert.equal(await store.isOwnerGrant(clientId, "not-a-family"), false);

    time += 29 * DAY;
    const rotated = await store.rotateRefresh(issued.refreshToken, clientId, ttls);
    assert.ok(typeof rotated === "object");
    time += 29 * DAY;
    assert.equal(await store.isOwnerGrant(clientId, family), true, "renewed by the rotation");
    time += DAY;
    assert.equal(await store.isOwnerGrant(clientId, family), false, "its last token expired");
  } finally {
    kv.close();
  }
});

Deno.test("store: a rotation that lands after its family's revocation writes no owner grant", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = new OAuthStore(kv);
  try {
    const family = "AAAAAAAAAAAAAAAA";
    const base = { clientId: REQUEST.clientId, family, resource: REQUEST.resource, scope: "s" };
    await store.issueTokens({ ...base, owner: true }, { accessMs: HOUR, refreshMs: DAY });
    assert.equal(await store.isOwnerGrant(REQUEST.clientId, family), true);
    await store.revokeFamily(family);
    assert.equal((await kv.get(["oauth_owner_grant", family])).value, null);
    // A rotation that checked the family before the revocation, writing after it.
    await store.issueTokens({ ...base, owner: true }, { accessMs: HOUR, refreshMs: DAY });
    assert.equal((await kv.get(["oauth_owner_grant", family])).value, null);
    assert.equal(await store.isOwnerGrant(REQUEST.clientId, family), false);
  } finally {
    kv.close();
  }
});

Deno.test("store: an owner grant is bound to the owner password: a new one ends it, and no rotation under it renews it", async () => {
  const kv = await Deno.openKv(":memory:");
  const before = new OAuthStore(kv, { ownerSecret: "the old owner password" });
  const after = new OAuthStore(kv, { ownerSecret: "the new owner password" });
  const ttls = { accessMs: HOUR, refreshMs: DAY };
  try {
    const family = "EEEEEEEEEEEEEEEE";
    const base = { clientId: REQUEST.clientId, family, resource: REQUEST.resource, scope: "s" };
    const issued = await before.issueTokens({ ...base, owner: true }, ttls);
    assert.equal(await before.isOwnerGrant(REQUEST.clientId, family), true);
    assert.equal(await after.isOwnerGrant(REQUEST.clientId, family), false, "a new password");
    // The login goes on, as an ordinary one: its rotation is no owner grant.
    const rotated = await after.rotateRefresh(issued.refreshToken, REQUEST.clientId, ttls);
    assert.ok(typeof rotated === "object");
    assert.equal(await after.isOwnerGrant(REQUEST.clientId, family), false, "not renewed");
    const token = await after.lookup(rotated.accessToken, "access");
    assert.equal(token?.owner, undefined, "its tokens no longer carry it");
  } finally {
    kv.close();
  }
});

Deno.test("oauth principals: client and family back out of the principal, CIMD URLs included", () => {
  const cimd = { clientId: "https://claude.ai/oauth/client.json", family: "AAAAAAAAAAAAAAAA" };
  assert.deepEqual(oauthGrantOf(oauthPrincipal(cimd)), cimd);
  const dcr = { clientId: "dcr_x", family: "BBBBBBBBBBBBBBBB" };
  assert.deepEqual(oauthGrantOf(oauthPrincipal(dcr)), dcr);
  for (const other of ["local", "anonymous", "token:0123456789abcdef", "oauth:", "oauth:x"]) {
    assert.equal(oauthGrantOf(other), null, other);
  }
});

Deno.test("ownerAccess: stdio's user; MCP_OWNER_TOKENS; OAuth owner grants while live; no one else", async () => {
  const run = (args: string[], env: Record<string, string>) => {
    const command = loadConfig({ args, env });
    assert.equal(command.kind, "run");
    return command.config;
  };
  const kv = await Deno.openKv(":memory:");
  try {
    assert.equal(await ownerAccess(run([], {}), kv).isOwner("local"), true);
    const store = new OAuthStore(kv, { ownerSecret: PASSWORD });
    const family = "CCCCCCCCCCCCCCCC";
    const clientId = "https://claude.ai/oauth/client.json";
    const base = { clientId, family, resource: REQUEST.resource, scope: "s" };
    await store.issueTokens({ ...base, owner: true }, { accessMs: HOUR, refreshMs: DAY });
    const plainFamily = "DDDDDDDDDDDDDDDD";
    await store.issueTokens({ ...base, family: plainFamily }, { accessMs: HOUR, refreshMs: DAY });
    const ownerToken = "owner-token-0123456789abcdef0123456789";
    const env = {
      MCP_AUTH_TOKENS: "other-token-0123456789abcdef0123456789",
      MCP_OWNER_TOKENS: ownerToken,
    };
    const http = ownerAccess(
      run(["--transport", "http"], {
        ...env,
        AUTH_ENABLED: "true",
        MCP_ALLOW_DCR: "true",
        MCP_OWNER_PASSWORD: PASSWORD,
      }),
      kv,
    );
    const owner = oauthPrincipal({ clientId, family });
    assert.equal(await http.isOwner(await tokenId(ownerToken)), true);
    assert.equal(await http.isOwner(owner), true);
    assert.equal(await http.isOwner(oauthPrincipal({ clientId, family: plainFamily })), false);
    assert.equal(await http.isOwner(oauthPrincipal({ clientId: "dcr_other", family })), false);
    assert.equal(await http.isOwner(await tokenId(env.MCP_AUTH_TOKENS)), false);
    assert.equal(await http.isOwner("anonymous"), false);
    assert.equal(await http.isOwner("local"), false);
    // Without OAuth on, no OAuth principal is an owner (none can exist).
    assert.equal(await ownerAccess(run(["--transport", "http"], env), kv).isOwner(owner), false);
    const newPassword = ownerAccess(
      run(["--transport", "http"], {
        ...env,
        AUTH_ENABLED: "true",
        MCP_ALLOW_DCR: "true",
        MCP_OWNER_PASSWORD: "a new owner password",
      }),
      kv,
    );
    assert.equal(await newPassword.isOwner(owner), false, "a new owner password ends it");
    assert.equal(await newPassword.isOwner(await tokenId(ownerToken)), true);
    await store.revokeFamily(family);
    assert.equal(await http.isOwner(owner), false, "revocation counts from the next call");
  } finally {
    kv.close();
  }
});
