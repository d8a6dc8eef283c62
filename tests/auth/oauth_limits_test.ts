/**
 * The authorization server's limits, in process with a controllable clock
 * and a chosen address per request: `/authorize` cannot fill KV, registered
 * clients expire and are capped without locking the owner out, and the owner
 * password locks across consent pages, addresses and concurrent attempts.
 */
import assert from "node:assert/strict";
import { OWNER_DEVICE_COOKIE, ownerDeviceCookie } from "../../src/auth/consent.ts";
import { sha256Hex } from "../../src/auth/crypto.ts";
import { OWNER_DEVICE_ATTEMPTS } from "../../src/auth/lockout.ts";
import { OAUTH_LIMITS } from "../../src/auth/oauth.ts";
import { OAuthStore } from "../../src/auth/store.ts";
import { authorizeUrl, type InProcessOAuth, inProcessOAuth, pkce } from "../helpers/oauth.ts";

const PASSWORD = "correct horse battery staple";
const CALLBACK = "http://127.0.0.1:9/callback";
const STATIC = { id: "static-client", secret: "s".repeat(40) };
const MINUTE = 60_000;
const DAY = 86_400_000;

async function withServer(
  options: Omit<Parameters<typeof inProcessOAuth>[0], "password">,
  fn: (server: InProcessOAuth) => Promise<void>,
) {
  const server = await inProcessOAuth({ password: PASSWORD, ...options });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** Registers a public DCR client from `address`; returns status and body. */
async function register(server: InProcessOAuth, address: string, name = "App") {
  const response = await server.fetchFrom(address)(`${server.base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      redirect_uris: [CALLBACK],
      client_name: name,
      token_endpoint_auth_method: "none",
    }),
  });
  return { status: response.status, body: await response.json() };
}

/** GET /authorize for `clientId` from `address`. */
async function authorize(
  server: InProcessOAuth,
  address: string,
  clientId: string,
  extra: Record<string, string> = {},
) {
  const { challenge, verifier } = await pkce();
  const response = await server.fetchFrom(address)(
    authorizeUrl(server.base, {
      response_type: "code",
      client_id: clientId,
      redirect_uri: CALLBACK,
      code_challenge: challenge,
      code_challenge_method: "S256",
      ...extra,
    }),
  );
  return { response, verifier };
}

/** Opens a consent page; returns its form token and cookie. */
async function consent(server: InProcessOAuth, address: string, clientId: string) {
  const { response, verifier } = await authorize(server, address, clientId);
  assert.equal(response.status, 200, "consent page");
  const html = await response.text();
  const consentId = /name="consent_id" value="([^"]+)"/.exec(html)![1];
  const cookie = response.headers.get("set-cookie")!.split(";")[0];
  return { consentId, cookie, verifier };
}

/** Posts the consent form with `password`. */
async function submit(
  server: InProcessOAuth,
  address: string,
  form: { consentId: string; cookie: string },
  password: string,
) {
  return await server.fetchFrom(address)(`${server.base}/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie },
    body: new URLSearchParams({ consent_id: form.consentId, password, action: "approve" }),
  });
}

/** Posts form fields to /token. */
async function token(server: InProcessOAuth, fields: Record<string, string>) {
  const response = await server.fetchFrom("127.0.0.1")(`${server.base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, body: await response.json() };
}

const checked = (server: InProcessOAuth) =>
  server.logs.filter((l) => l.event === "oauth_consent_bad_password").length;

const stored = async (server: InProcessOAuth) =>
  await server.count(["oauth_consent"]) + await server.count(["oauth_code"]);

Deno.test("authorize: a flood with a 60 KB state is refused, then throttled; nothing is stored", async () => {
  await withServer(
    {
      env: {
        MCP_CLIENT_ID: STATIC.id,
        MCP_CLIENT_SECRET: STATIC.secret,
        MCP_REDIRECT_URIS: CALLBACK,
      },
    },
    async (server) => {
      const client = (await register(server, "198.51.100.1")).body.client_id;
      const state = "x".repeat(60 * 1024);
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const { response } = await authorize(server, "203.0.113.5", i % 2 ? client : STATIC.id, {
          state,
        });
        statuses.push(response.status);
        if (response.status === 302) {
          const back = new URL(response.headers.get("location")!);
          assert.equal(back.searchParams.get("error"), "invalid_request");
          assert.match(back.searchParams.get("error_description")!, /state is longer than 1024/);
          assert.equal(back.searchParams.get("state"), null, "the oversized state is not echoed");
        } else {
          assert.equal(response.status, 429);
          assert.ok(Number(response.headers.get("retry-after")) >= 1);
          assert.match(await response.text(), /try again in \d+ second/);
        }
      }
      const limit = OAUTH_LIMITS.authorizePerMinute;
      assert.deepEqual(statuses, [...Array(limit).fill(302), ...Array(40 - limit).fill(429)]);
      assert.equal(await stored(server), 0, "no consent or code stored");

      // Ordinary states from one address: at most the per-minute budget is stored.
      server.advance(MINUTE);
      for (let i = 0; i < 40; i++) {
        const { response } = await authorize(server, "203.0.113.6", client, { state: "s" });
        await response.body?.cancel();
      }
      assert.equal(await stored(server), limit);
      // Longer fields are refused before anything is resolved or stored.
      server.advance(MINUTE);
      const { response: long } = await authorize(server, "203.0.113.7", client, {
        redirect_uri: `${CALLBACK}?${"p".repeat(3000)}`,
      });
      assert.equal(long.status, 400);
      assert.match(await long.text(), /redirect_uri is longer than 2048/);
    },
  );
});

Deno.test("authorize: consents and codes stored across addresses are capped per 10 minutes, then expire", async () => {
  const max = 20;
  await withServer({ limits: { maxPendingAuthorizations: max } }, async (server) => {
    const client = (await register(server, "198.51.100.1")).body.client_id;
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { response } = await authorize(server, `10.0.${i}.1`, client);
      if (response.status === 200) outcomes.push("page");
      else outcomes.push(new URL(response.headers.get("location")!).searchParams.get("error")!);
      await response.body?.cancel();
    }
    assert.deepEqual(outcomes, [
      ...Array(max).fill("page"),
      ...Array(30 - max).fill("temporarily_unavailable"),
    ]);
    assert.equal(await server.count(["oauth_consent"]), max);
    // An early consent is still usable; after 10 minutes it is not, and the window has room.
    server.advance(11 * MINUTE);
    const { response } = await authorize(server, "10.1.0.1", client);
    assert.equal(response.status, 200, "the window slid");
    await response.body?.cancel();
    assert.ok(await server.count(["oauth_authorize_window"]) <= 10, "old window slots deleted");
  });
});

Deno.test("authorize: a consent page past its expiry is refused even if KV still holds it", async () => {
  await withServer({}, async (server) => {
    const client = (await register(server, "198.51.100.1")).body.client_id;
    const form = await consent(server, "198.51.100.1", client);
    server.advance(11 * MINUTE);
    const late = await submit(server, "198.51.100.1", form, PASSWORD);
    assert.equal(late.status, 400);
    assert.match(await late.text(), /expired/);
  });
});

Deno.test("authorize, token: ids far beyond KV's key size are unknown, not server errors", async () => {
  await withServer({}, async (server) => {
    const huge = "a".repeat(5_000);
    const post = await server.fetchFrom("192.0.2.1")(`${server.base}/authorize`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: "openclaw_consent=x",
      },
      body: new URLSearchParams({ consent_id: huge, password: "p", action: "approve" }),
    });
    assert.equal(post.status, 400);
    assert.match(await post.text(), /expired/);
    const tokens = await token(server, {
      grant_type: "refresh_token",
      refresh_token: "r",
      client_id: huge,
    });
    assert.equal(tokens.status, 401);
    assert.equal(tokens.body.error, "invalid_client");
  });
});

Deno.test("register: unapproved registrations expire after an hour and stop counting", async () => {
  await withServer({}, async (server) => {
    const store = new OAuthStore(server.kv, { now: server.now });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await register(server, "198.51.100.1")).body.client_id);
    assert.deepEqual(await store.clientCounts(), { pending: 3, approved: 0 });
    server.advance(OAUTH_LIMITS.pendingTtlMs - 1);
    assert.ok(await store.getClient(ids[0]), "alive just before the hour");
    server.advance(2);
    assert.deepEqual(await store.clientCounts(), { pending: 0, approved: 0 });
    const { response } = await authorize(server, "198.51.100.1", ids[0]);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /unknown client_id/);
    // The address's budget is free again, and the expired index entries are swept.
    for (let i = 0; i < OAUTH_LIMITS.maxPendingPerAddress; i++) {
      assert.equal((await register(server, "198.51.100.1")).status, 201);
    }
    assert.equal(await server.count(["oauth_dcr_pending"]), OAUTH_LIMITS.maxPendingPerAddress);
  });
});

Deno.test("register: each address (IPv6: each /64) has its own cap on unapproved registrations", async () => {
  await withServer({}, async (server) => {
    const per = OAUTH_LIMITS.maxPendingPerAddress;
    for (let i = 0; i < per; i++) {
      assert.equal((await register(server, `2001:db8:1:2::${i + 1}`)).status, 201);
    }
    const refused = await register(server, "2001:db8:1:2:ffff::9");
    assert.equal(refused.status, 429, "same /64");
    assert.equal(refused.body.error, "too_many_requests");
    assert.match(refused.body.error_description, /awaiting approval/);
    assert.equal((await register(server, "2001:db8:1:3::1")).status, 201, "another /64");
    assert.equal((await register(server, "192.0.2.1")).status, 201);
  });
});

Deno.test("register: after an attacker fills the unapproved pool, a real client still registers and completes consent", async () => {
  const maxPending = 30;
  await withServer({ limits: { maxPending } }, async (server) => {
    const store = new OAuthStore(server.kv, { now: server.now });
    const per = OAUTH_LIMITS.maxPendingPerAddress;
    let accepted = 0;
    for (let a = 0; a < 6; a++) {
      for (let i = 0; i < per; i++) {
        if ((await register(server, `203.0.113.${a}`, `junk ${a}/${i}`)).status === 201) {
          accepted++;
        }
      }
    }
    assert.equal(accepted, 6 * per, "the pool evicts instead of refusing");
    assert.deepEqual(await store.clientCounts(), { pending: maxPending, approved: 0 });
    assert.equal(await server.count(["oauth_client"]), maxPending, "evicted clients are deleted");

    const real = await register(server, "192.0.2.10", "Real client");
    assert.equal(real.status, 201);
    const form = await consent(server, "192.0.2.10", real.body.client_id);
    const approved = await submit(server, "192.0.2.10", form, PASSWORD);
    assert.equal(approved.status, 302);
    const code = new URL(approved.headers.get("location")!).searchParams.get("code");
    assert.ok(code);
    const tokens = await token(server, {
      grant_type: "authorization_code",
      code: code!,
      redirect_uri: CALLBACK,
      code_verifier: form.verifier,
      client_id: real.body.client_id,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.deepEqual(await store.clientCounts(), { pending: maxPending - 1, approved: 1 });

    // Approved clients are out of the pool: more junk cannot evict them.
    for (let i = 0; i < per; i++) await register(server, "203.0.113.99", "more junk");
    assert.ok(await store.getClient(real.body.client_id));
  });
});

Deno.test("register: a flood while the owner approves evicts the flooders' registrations, not a real client's", async () => {
  const maxPending = 30;
  await withServer({ limits: { maxPending } }, async (server) => {
    const real = await register(server, "192.0.2.10", "Real client");
    assert.equal(real.status, 201);
    const form = await consent(server, "192.0.2.10", real.body.client_id);
    // While the owner types the password, 6 addresses register twice the pool.
    const per = OAUTH_LIMITS.maxPendingPerAddress;
    for (let a = 0; a < 6; a++) {
      for (let i = 0; i < per; i++) {
        server.advance(100);
        assert.equal((await register(server, `203.0.113.${a}`, `junk ${a}/${i}`)).status, 201);
      }
    }
    // Before: the oldest registration went first, the real one ("Registration expired").
    assert.ok(await new OAuthStore(server.kv, { now: server.now }).getClient(real.body.client_id));
    const approved = await submit(server, "192.0.2.10", form, PASSWORD);
    assert.equal(approved.status, 302, await approved.text());
  });
});

Deno.test("register: only owner-approved clients count against the approved cap", async () => {
  await withServer({ limits: { maxApproved: 2 } }, async (server) => {
    const store = new OAuthStore(server.kv, { now: server.now });
    const outcomes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const reg = await register(server, `192.0.2.${i}`);
      const form = await consent(server, `192.0.2.${i}`, reg.body.client_id);
      const response = await submit(server, `192.0.2.${i}`, form, PASSWORD);
      outcomes.push(response.status);
      if (response.status === 503) assert.match(await response.text(), /2 approved applications/);
    }
    assert.deepEqual(outcomes, [302, 302, 503]);
    assert.equal((await store.clientCounts()).approved, 2);
    assert.equal((await register(server, "192.0.2.50")).status, 201, "registration still works");
  });
});

Deno.test("register: approved clients expire after 90 days without use; each refresh extends that", async () => {
  await withServer({ env: { MCP_REFRESH_TOKEN_TTL_MS: String(200 * DAY) } }, async (server) => {
    const store = new OAuthStore(server.kv, { now: server.now });
    const reg = await register(server, "192.0.2.1");
    const id = reg.body.client_id;
    const form = await consent(server, "192.0.2.1", id);
    const code = new URL(
      (await submit(server, "192.0.2.1", form, PASSWORD)).headers.get("location")!,
    ).searchParams.get("code")!;
    let tokens = await token(server, {
      grant_type: "authorization_code",
      code,
      redirect_uri: CALLBACK,
      code_verifier: form.verifier,
      client_id: id,
    });
    assert.equal(tokens.status, 200);
    server.advance(OAUTH_LIMITS.pendingTtlMs * 2);
    assert.ok(await store.getClient(id), "approved: the unapproved hour does not apply");
    for (let i = 0; i < 2; i++) {
      server.advance(89 * DAY);
      tokens = await token(server, {
        grant_type: "refresh_token",
        refresh_token: tokens.body.refresh_token,
        client_id: id,
      });
      assert.equal(tokens.status, 200, `refresh ${i + 1} after 89 idle days`);
    }
    server.advance(91 * DAY);
    const late = await token(server, {
      grant_type: "refresh_token",
      refresh_token: tokens.body.refresh_token,
      client_id: id,
    });
    assert.equal(late.status, 401);
    assert.equal(late.body.error, "invalid_client");
    assert.deepEqual(await store.clientCounts(), { pending: 0, approved: 0 });
  });
});

Deno.test("consent: 10 concurrent wrong passwords on one page: at most 5 are checked", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const form = await consent(server, "192.0.2.1", reg.body.client_id);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => submit(server, "192.0.2.1", form, `guess ${i}`)),
    );
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    assert.equal(checked(server), OAUTH_LIMITS.consentAttempts);
    assert.equal(statuses.filter((s) => s === 401).length, OAUTH_LIMITS.consentAttempts - 1);
    // The rest: refused unchecked (429), or after the fifth ended the page (400).
    assert.ok(statuses.every((s) => [401, 429, 400].includes(s)), statuses.join());
    const after = await submit(server, "192.0.2.1", form, PASSWORD);
    assert.equal(after.status, 400, "the page ended");
    await after.body?.cancel();
  });
});

Deno.test("consent: wrong passwords over fresh pages and addresses lock the owner password, with back-off", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const id = reg.body.client_id;
    const free = OAUTH_LIMITS.ownerFreeAttempts;
    for (let i = 0; i < free; i++) {
      const address = `10.9.${i}.1`;
      const response = await submit(server, address, await consent(server, address, id), "guess");
      assert.equal(response.status, 401);
      await response.body?.cancel();
    }
    assert.equal(checked(server), free);

    // Locked: even the right password, from a new address on a new page, is not checked.
    const form = await consent(server, "10.9.200.1", id);
    const locked = await submit(server, "10.9.200.1", form, PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal(locked.headers.get("retry-after"), "1");
    assert.match(await locked.text(), /locked.*try again in 1 second \(after 00:00:01 UTC\)/s);

    // After the lock, one more wrong attempt locks twice as long.
    server.advance(1_000);
    const wrong = await submit(server, "10.9.201.1", await consent(server, "10.9.201.1", id), "x");
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const again = await submit(server, "10.9.200.1", form, PASSWORD);
    assert.equal(again.headers.get("retry-after"), "2");
    await again.body?.cancel();
    assert.equal(checked(server), free + 1);

    // After the back-off the right password works and resets the count.
    server.advance(2_000);
    const ok = await submit(server, "10.9.200.1", form, PASSWORD);
    assert.equal(ok.status, 302);
    assert.ok(new URL(ok.headers.get("location")!).searchParams.get("code"));
    const reg2 = await register(server, "192.0.2.2");
    const fresh = await submit(
      server,
      "10.9.202.1",
      await consent(server, "10.9.202.1", reg2.body.client_id),
      "wrong once",
    );
    assert.equal(fresh.status, 401, "the count started again");
    await fresh.body?.cancel();
  });
});

Deno.test("consent: concurrent wrong passwords on many pages cannot exceed the owner's free attempts", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const forms = await Promise.all(
      Array.from({ length: 25 }, (_, i) => consent(server, `10.8.${i}.1`, reg.body.client_id)),
    );
    const responses = await Promise.all(
      forms.map((form, i) => submit(server, `10.8.${i}.1`, form, `guess ${i}`)),
    );
    await Promise.all(responses.map((r) => r.body?.cancel()));
    assert.equal(checked(server), OAUTH_LIMITS.ownerFreeAttempts);
    assert.equal(responses.filter((r) => r.status === 429).length, 25 - checked(server));
  });
});

/** Approves a fresh consent with the right password from `address`; returns the owner-device cookie. */
async function approveOwner(
  server: InProcessOAuth,
  address: string,
  clientId: string,
  device?: string,
): Promise<{ cookie: string; header: string }> {
  const form = await consent(server, address, clientId);
  const response = await submit(server, address, withDevice(form, device), PASSWORD);
  assert.equal(response.status, 302, "approved");
  const header = response.headers.get("set-cookie") ?? "";
  const cookie = new RegExp(`${OWNER_DEVICE_COOKIE}=([^;]*)`).exec(header)?.[1];
  assert.ok(cookie, `owner-device cookie set: ${header}`);
  return { cookie, header };
}

/** The consent form with the owner-device cookie added (if any). */
function withDevice(form: { consentId: string; cookie: string }, device?: string) {
  return device === undefined
    ? form
    : { ...form, cookie: `${form.cookie}; ${OWNER_DEVICE_COOKIE}=${device}` };
}

/** Wrong passwords from fresh pages and addresses until the owner password is locked. */
async function lockOwner(server: InProcessOAuth, clientId: string, round = 0) {
  for (let i = 0; i < OAUTH_LIMITS.ownerFreeAttempts; i++) {
    const address = `10.7.${round}.${i + 1}`;
    const response = await submit(server, address, await consent(server, address, clientId), "g");
    assert.equal(response.status, 401);
    await response.body?.cancel();
  }
}

Deno.test("consent: an approval recognises the owner's browser by an HttpOnly, Strict cookie kept only as a hash", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const { cookie, header } = await approveOwner(server, "192.0.2.1", reg.body.client_id);
    assert.match(cookie, /^[A-Za-z0-9_-]{43}$/);
    assert.match(header, /; Max-Age=7776000/);
    assert.match(header, /; Path=\/authorize/);
    assert.match(header, /; HttpOnly/);
    assert.match(header, /; SameSite=Strict/);
    assert.doesNotMatch(header, /Secure/, "the issuer is http");
    assert.match(ownerDeviceCookie(cookie, true), /; Secure/);

    const entries = await Array.fromAsync(server.kv.list({ prefix: ["oauth_owner_device"] }));
    assert.equal(entries.length, 1);
    const hash = await sha256Hex(cookie);
    assert.deepEqual(entries[0].key, ["oauth_owner_device", hash]);
    const record = entries[0].value as { expiresAt: number };
    assert.equal(record.expiresAt, server.now() + 90 * DAY);
    const logged = JSON.stringify(server.logs);
    assert.ok(!logged.includes(cookie) && !logged.includes(hash), "neither cookie nor hash logged");
  });
});

Deno.test("consent: while an attacker keeps the owner locked, the owner's browser still approves; others are refused unchecked", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const id = reg.body.client_id;
    const { cookie } = await approveOwner(server, "192.0.2.1", id);
    await lockOwner(server, id);
    const before = checked(server);

    // Without the cookie: refused as today, the password not looked at.
    const attacker = await submit(server, "10.6.0.1", await consent(server, "10.6.0.1", id), "g");
    assert.equal(attacker.status, 429);
    assert.match(await attacker.text(), /Your password was not checked/);
    const plain = await submit(
      server,
      "192.0.2.1",
      await consent(server, "192.0.2.1", id),
      PASSWORD,
    );
    assert.equal(plain.status, 429, "the right password without the cookie is refused too");
    await plain.body?.cancel();
    assert.equal(checked(server), before);

    // The owner's browser: the right password approves a new client, and its cookie is renewed.
    const reg2 = await register(server, "192.0.2.2");
    const renewed = await approveOwner(server, "192.0.2.1", reg2.body.client_id, cookie);
    assert.notEqual(renewed.cookie, cookie);
    assert.equal(await server.count(["oauth_owner_device"]), 1, "the old token is forgotten");

    // The lock stays on for everyone else, and the old cookie no longer passes.
    const still = await submit(server, "10.6.0.2", await consent(server, "10.6.0.2", id), "g");
    assert.equal(still.status, 429);
    await still.body?.cancel();
    const old = await submit(
      server,
      "192.0.2.1",
      withDevice(await consent(server, "192.0.2.1", id), cookie),
      PASSWORD,
    );
    assert.equal(old.status, 429);
    await old.body?.cancel();
    assert.equal(checked(server), before);
  });
});

Deno.test("consent: during the lock, wrong passwords from the owner's browser spend its own budget, then it is refused", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const id = reg.body.client_id;
    const { cookie } = await approveOwner(server, "192.0.2.1", id);
    await lockOwner(server, id);
    const before = checked(server);

    // One page: the per-page limit still ends it at its fifth wrong password.
    const form = withDevice(await consent(server, "192.0.2.1", id), cookie);
    const statuses = [];
    for (let i = 0; i < OWNER_DEVICE_ATTEMPTS; i++) {
      const response = await submit(server, "192.0.2.1", form, `wrong ${i}`);
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
    assert.equal(checked(server), before + OWNER_DEVICE_ATTEMPTS);

    // The budget is spent: even the right password on a fresh page is not checked.
    const fresh = withDevice(await consent(server, "192.0.2.1", id), cookie);
    const spent = await submit(server, "192.0.2.1", fresh, PASSWORD);
    assert.equal(spent.status, 429);
    assert.match(await spent.text(), /this browser has used its 5 attempts.*not checked/s);
    assert.equal(checked(server), before + OWNER_DEVICE_ATTEMPTS);
  });
});

Deno.test("consent: an expired or forged owner-device cookie gives no way past the lock", async () => {
  await withServer({}, async (server) => {
    const reg = await register(server, "192.0.2.1");
    const { cookie } = await approveOwner(server, "192.0.2.1", reg.body.client_id);
    const hash = await sha256Hex(cookie);
    server.advance(90 * DAY);
    assert.equal(await server.count(["oauth_owner_device"]), 1, "still in KV, expired on read");
    const id = (await register(server, "192.0.2.3")).body.client_id;
    await lockOwner(server, id);
    const before = checked(server);
    const forged = [cookie, hash, "A".repeat(43), "", `${cookie}x`];
    for (const device of forged) {
      const form = withDevice(await consent(server, "192.0.2.1", id), device);
      const response = await submit(server, "192.0.2.1", form, PASSWORD);
      assert.equal(response.status, 429, `refused: ${device.slice(0, 8)}`);
      assert.match(await response.text(), /The owner password is locked after repeated/);
    }
    assert.equal(checked(server), before);
  });
});
