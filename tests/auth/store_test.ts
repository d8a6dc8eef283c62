/**
 * `OAuthStore` on a real in-memory KV with a controllable clock: the DCR
 * pool (registration, per-address cap, eviction, approval, idle expiry),
 * the authorization window, consents, single-use codes, token issue,
 * lookup, rotation and revocation, and the id-shape check that keeps
 * caller-chosen strings out of KV keys. The HTTP flows over these are in
 * `oauth_limits_test.ts`; here each rule is pinned at its boundary.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../../src/auth/crypto.ts";
import {
  type AuthorizationRequest,
  type ClientLimits,
  CODE_TTL_MS,
  CONSENT_TTL_MS,
  type IssuedTokens,
  type OAuthClient,
  OAuthStore,
  type TokenTtls,
} from "../../src/auth/store.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.parse("2030-01-01T00:00:00Z");

const LIMITS: ClientLimits = {
  pendingTtlMs: HOUR,
  maxPending: 50,
  maxPendingPerAddress: 50,
  maxApproved: 10,
  approvedIdleMs: 90 * DAY,
};
const TTLS: TokenTtls = { accessMs: HOUR, refreshMs: 30 * DAY };
const REQUEST: AuthorizationRequest = {
  clientId: "dcr_AAAAAAAAAAAAAAAAAAAAAA",
  redirectUri: "http://127.0.0.1:9/callback",
  challenge: "c".repeat(43),
  resource: "http://127.0.0.1:9999/mcp",
  scope: "mcp:tools",
  state: "xyz",
};

interface Harness {
  kv: Deno.Kv;
  store: OAuthStore;
  /** KV methods called since the last reset. */
  calls: string[];
  /**
   * Holds the next `n` KV reads of keys under `table` until all `n` have
   * arrived, so that `n` concurrent changes all read the same version.
   */
  raceReads(table: string, n: number): void;
  advance(ms: number): void;
  now(): number;
  keys(prefix: Deno.KvKey): Promise<Deno.KvKey[]>;
}

/** A store over a KV that records every method called on it. */
async function withStore(fn: (h: Harness) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const calls: string[] = [];
  let race: { table: string; left: number; all: PromiseWithResolvers<void> } | null = null;
  const spied = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        const key = args[0] as Deno.KvKey;
        if (prop === "get" && race && race.left > 0 && key[0] === race.table) {
          const { all } = race;
          if (--race.left === 0) all.resolve();
          return all.promise.then(() => value.apply(target, args));
        }
        return value.apply(target, args);
      };
    },
  });
  let time = START;
  const now = () => time;
  try {
    await fn({
      kv,
      store: new OAuthStore(spied, { now }),
      calls,
      raceReads: (table, n) => {
        race = { table, left: n, all: Promise.withResolvers() };
      },
      advance: (ms) => {
        time += ms;
      },
      now,
      keys: async (prefix) => {
        const keys: Deno.KvKey[] = [];
        for await (const e of kv.list({ prefix })) keys.push(e.key);
        return keys;
      },
    });
  } finally {
    kv.close();
  }
}

/** Registers a public client from `group`; fails the test on a refusal. */
async function registered(
  store: OAuthStore,
  group: string,
  limits: ClientLimits = LIMITS,
): Promise<OAuthClient> {
  const outcome = await store.registerClient(
    { redirectUris: [REQUEST.redirectUri], name: "App", authMethod: "none", registeredBy: group },
    limits,
  );
  assert.ok(typeof outcome === "object", `registration refused: ${outcome}`);
  return outcome.client;
}

/** Issues tokens in a fresh family for `clientId`. */
function tokens(store: OAuthStore, family: string, clientId = "client-a"): Promise<IssuedTokens> {
  return store.issueTokens(
    { clientId, family, resource: REQUEST.resource, scope: REQUEST.scope },
    TTLS,
  );
}

Deno.test("store: ids not shaped like ours are unknown without a KV read (however long)", async () => {
  await withStore(async ({ store, calls }) => {
    const huge = "dcr_" + "a".repeat(5_000); // far past KV's 2 KiB key limit
    for (const id of [huge, "dcr_short", "has spaces in it ok", "../../etc/passwd-ish", ""]) {
      assert.equal(await store.getClient(id), null, id.slice(0, 20));
      assert.equal(await store.approveClient(id, LIMITS), "gone");
      assert.equal(await store.getConsent(id), null);
      assert.deepEqual(await store.reserveConsentAttempt(id, 5), { ok: false, reason: "gone" });
      await store.endConsent(id);
    }
    assert.deepEqual(calls, [], "nothing reached KV");
    // A well-shaped unknown id is looked up (and is unknown).
    assert.equal(await store.getClient("dcr_" + "a".repeat(22)), null);
    assert.deepEqual(calls, ["get"]);
  });
});

Deno.test("store: a registration is a dcr client, unapproved, living pendingTtlMs; secrets only as hashes", async () => {
  await withStore(async ({ store, advance, now, kv }) => {
    const confidential = await store.registerClient(
      {
        redirectUris: ["https://app.example/cb"],
        name: "Conf",
        authMethod: "client_secret_post",
        registeredBy: "192.0.2.1",
      },
      LIMITS,
    );
    assert.ok(typeof confidential === "object");
    const { client, secret } = confidential;
    assert.match(client.clientId, /^dcr_[A-Za-z0-9_-]{16,}$/);
    assert.ok(secret && secret.length >= 32);
    assert.equal(client.secretHash, await sha256Hex(secret!));
    assert.deepEqual(
      { ...client, clientId: "", secretHash: "" },
      {
        clientId: "",
        secretHash: "",
        redirectUris: ["https://app.example/cb"],
        name: "Conf",
        authMethod: "client_secret_post",
        kind: "dcr",
        createdAt: START,
        expiresAt: START + HOUR,
        approved: false,
        registeredBy: "192.0.2.1",
      },
    );
    const stored = (await kv.get<OAuthClient>(["oauth_client", client.clientId])).value!;
    assert.ok(!JSON.stringify(stored).includes(secret!), "the plaintext secret is not stored");
    assert.deepEqual(await store.getClient(client.clientId), client);

    const pub = await registered(store, "192.0.2.1");
    assert.equal(pub.secretHash, null);
    assert.notEqual(pub.clientId, client.clientId);
    assert.deepEqual(await store.clientCounts(), { pending: 2, approved: 0 });

    advance(HOUR - 1);
    assert.ok(await store.getClient(client.clientId), "alive 1 ms before its hour");
    advance(1);
    assert.equal(await store.getClient(client.clientId), null, "gone at its expiry");
    assert.equal(await store.approveClient(client.clientId, LIMITS), "gone");
    assert.deepEqual(await store.clientCounts(), { pending: 0, approved: 0 });
    assert.equal(now(), START + HOUR);
  });
});

Deno.test("store: the per-address cap counts live registrations only; the next registration sweeps expired ones", async () => {
  await withStore(async ({ store, advance, keys }) => {
    const limits = { ...LIMITS, maxPendingPerAddress: 2 };
    const first = await registered(store, "g1", limits);
    await registered(store, "g1", limits);
    const full = await store.registerClient(
      { redirectUris: [], name: "x", authMethod: "none", registeredBy: "g1" },
      limits,
    );
    assert.equal(full, "address_full");
    await registered(store, "g2", limits);
    assert.equal((await keys(["oauth_client"])).length, 3, "the refusal stored nothing");

    advance(HOUR);
    await registered(store, "g1", limits);
    assert.deepEqual(await store.clientCounts(), { pending: 1, approved: 0 });
    assert.equal((await keys(["oauth_dcr_pending"])).length, 1, "expired index entries swept");
    assert.equal((await keys(["oauth_client"])).length, 1, "and their clients");
    assert.equal(await store.getClient(first.clientId), null);
  });
});

Deno.test("store: a full pool evicts the oldest of the biggest group (the registering one counted)", async () => {
  await withStore(async ({ store, advance, keys }) => {
    const limits = { ...LIMITS, maxPending: 2 };
    const a1 = await registered(store, "gA", limits);
    advance(1);
    const b1 = await registered(store, "gB", limits);
    advance(1);
    // gB would hold two: its own older one goes, not gA's older one.
    const b2 = await registered(store, "gB", limits);
    assert.ok(await store.getClient(a1.clientId), "the oldest overall survives");
    assert.equal(await store.getClient(b1.clientId), null, "the flooder's own went");
    assert.deepEqual(
      (await keys(["oauth_client"])).map((k) => k[1]).sort(),
      [
        a1.clientId,
        b2.clientId,
      ].sort(),
    );
    advance(1);
    // A new group, one each in gA and gB: the tie goes to the older entry (a1).
    const c1 = await registered(store, "gC", limits);
    assert.equal(await store.getClient(a1.clientId), null);
    assert.ok(await store.getClient(b2.clientId));
    assert.ok(await store.getClient(c1.clientId));
    assert.deepEqual(await store.clientCounts(), { pending: 2, approved: 0 });
  });
});

Deno.test("store: a cap lowered below the pool evicts several at once, each by the same rule", async () => {
  await withStore(async ({ store, advance }) => {
    const made: OAuthClient[] = [];
    for (const group of ["gA", "gB", "gB", "gA"]) {
      made.push(await registered(store, group));
      advance(1);
    }
    const [a0, b1, b2, a3] = made;
    // Three go for one new: a0 (tie, older), b1 (gB bigger), b2 (tie, older than a3).
    const c = await registered(store, "gC", { ...LIMITS, maxPending: 2 });
    for (const gone of [a0, b1, b2]) assert.equal(await store.getClient(gone.clientId), null);
    assert.ok(await store.getClient(a3.clientId), "a3 is newer than b2");
    assert.ok(await store.getClient(c.clientId));
    assert.deepEqual(await store.clientCounts(), { pending: 2, approved: 0 });
  });
});

Deno.test("store: approval leaves the pool, is capped, idempotent, and lapses after approvedIdleMs", async () => {
  await withStore(async ({ store, advance, keys }) => {
    const limits = { ...LIMITS, maxApproved: 1 };
    const a = await registered(store, "g1", limits);
    const b = await registered(store, "g1", limits);
    assert.equal(await store.approveClient(a.clientId, limits), "approved");
    const approved = (await store.getClient(a.clientId))!;
    assert.equal(approved.approved, true);
    assert.equal(approved.expiresAt, START + limits.approvedIdleMs);
    assert.deepEqual(await store.clientCounts(), { pending: 1, approved: 1 });
    assert.equal((await keys(["oauth_dcr_pending"])).length, 1, "a left the unapproved index");
    assert.equal(await store.approveClient(a.clientId, limits), "approved", "again: still fine");
    assert.equal(await store.approveClient(b.clientId, limits), "full");
    assert.equal((await store.getClient(b.clientId))!.approved, false);

    advance(HOUR);
    assert.ok(await store.getClient(a.clientId), "the unapproved hour no longer applies");
    assert.equal(await store.getClient(b.clientId), null);

    advance(limits.approvedIdleMs - HOUR);
    assert.equal(await store.getClient(a.clientId), null, "unused for approvedIdleMs");
    assert.deepEqual(await store.clientCounts(), { pending: 0, approved: 0 });
    const c = await registered(store, "g1", limits);
    assert.equal(await store.approveClient(c.clientId, limits), "approved", "a's place is free");
  });
});

Deno.test("store: touchClient extends an approved client at most hourly; unapproved ones stay put", async () => {
  await withStore(async ({ store, advance }) => {
    const a = await registered(store, "g1");
    await store.touchClient(a.clientId, LIMITS);
    assert.equal((await store.getClient(a.clientId))!.expiresAt, START + HOUR, "unapproved");
    assert.equal((await store.getClient(a.clientId))!.approved, false);

    await store.approveClient(a.clientId, LIMITS);
    advance(HOUR - 1);
    await store.touchClient(a.clientId, LIMITS);
    assert.equal((await store.getClient(a.clientId))!.expiresAt, START + 90 * DAY, "< 1 h: kept");
    advance(2);
    await store.touchClient(a.clientId, LIMITS);
    assert.equal((await store.getClient(a.clientId))!.expiresAt, START + HOUR + 1 + 90 * DAY);
    advance(89 * DAY);
    await store.touchClient(a.clientId, LIMITS);
    advance(2 * DAY);
    assert.ok(await store.getClient(a.clientId), "91 days after approval, 2 after its last use");
  });
});

Deno.test("store: caps hold for concurrent registrations and approvals that all read the same state", async () => {
  await withStore(async ({ store, raceReads }) => {
    const limits = { ...LIMITS, maxPendingPerAddress: 2, maxApproved: 1 };
    const meta = {
      redirectUris: [REQUEST.redirectUri],
      name: "App",
      authMethod: "none" as const,
      registeredBy: "g1",
    };
    raceReads("oauth_dcr_guard", 3); // three replicas each see an empty pool
    const outcomes = await Promise.all(
      Array.from({ length: 3 }, () => store.registerClient(meta, limits)),
    );
    const clients = outcomes.flatMap((o) => typeof o === "object" ? [o.client] : []);
    assert.equal(clients.length, 2);
    assert.ok(outcomes.includes("address_full"));
    assert.deepEqual(await store.clientCounts(), { pending: 2, approved: 0 });

    raceReads("oauth_dcr_guard", 2); // two approvals each see no approved client
    const approvals = await Promise.all(
      clients.map((c) => store.approveClient(c.clientId, limits)),
    );
    assert.deepEqual(approvals.sort(), ["approved", "full"]);
    assert.deepEqual(await store.clientCounts(), { pending: 1, approved: 1 });
  });
});

Deno.test("store: a client record without expiresAt (written before expiry existed) counts as approved and live", async () => {
  await withStore(async ({ store, kv, advance }) => {
    const id = "dcr_" + "L".repeat(22);
    const legacy: OAuthClient = {
      clientId: id,
      secretHash: null,
      redirectUris: [REQUEST.redirectUri],
      name: "Old",
      authMethod: "none",
      kind: "dcr",
    };
    await kv.set(["oauth_client", id], legacy);
    advance(365 * DAY);
    assert.deepEqual(await store.getClient(id), legacy);
    assert.equal(await store.approveClient(id, { ...LIMITS, maxApproved: 0 }), "approved");
    const touched = (await store.getClient(id))!;
    assert.equal(touched.expiresAt, START + 365 * DAY + LIMITS.approvedIdleMs, "now it idles out");
    assert.equal(touched.approved, true);
  });
});

Deno.test("store: admitAuthorization allows max per 10 minutes across slots, refused ones counted; old slots are deleted", async () => {
  await withStore(async ({ store, advance, kv, now }) => {
    for (let i = 0; i < 3; i++) assert.equal(await store.admitAuthorization(3), true);
    assert.equal(await store.admitAuthorization(3), false);
    advance(9 * MINUTE);
    assert.equal(await store.admitAuthorization(3), false, "minute 0 is still in the window");
    advance(MINUTE);
    // Minute 0 (4 counted) left; minute 9 holds the one refused above.
    assert.equal(await store.admitAuthorization(3), true);
    assert.equal(await store.admitAuthorization(3), true);
    assert.equal(await store.admitAuthorization(3), false);
    const slot = Math.floor(now() / MINUTE);
    assert.equal((await kv.get(["oauth_authorize_window", slot - 10])).value, null, "swept");
    assert.ok((await kv.get(["oauth_authorize_window", slot - 1])).value, "kept");
  });
});

Deno.test("store: a consent is bound to its cookie's hash, expires, and ends", async () => {
  await withStore(async ({ store, advance }) => {
    const { id, cookie } = await store.createConsent(REQUEST);
    assert.match(id, /^[A-Za-z0-9_-]{16,64}$/, "an id the shape check accepts");
    assert.notEqual(cookie, id);
    assert.deepEqual(await store.getConsent(id), {
      request: REQUEST,
      cookieHash: await sha256Hex(cookie),
      attempts: 0,
      expiresAt: START + CONSENT_TTL_MS,
    });
    advance(CONSENT_TTL_MS - 1);
    assert.ok(await store.getConsent(id));
    advance(1);
    assert.equal(await store.getConsent(id), null, "expired, though KV still holds it");
    assert.deepEqual(await store.reserveConsentAttempt(id, 5), { ok: false, reason: "gone" });

    const other = await store.createConsent(REQUEST);
    await store.endConsent(other.id);
    assert.equal(await store.getConsent(other.id), null);
    assert.deepEqual(await store.reserveConsentAttempt(other.id, 5), { ok: false, reason: "gone" });
  });
});

Deno.test("store: consent attempts are numbered 1..max, concurrent ones included, then exhausted", async () => {
  await withStore(async ({ store, raceReads }) => {
    const { id } = await store.createConsent(REQUEST);
    raceReads("oauth_consent", 8); // all eight read "no attempts yet"
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => store.reserveConsentAttempt(id, 5)),
    );
    const numbers = outcomes.flatMap((o) => o.ok ? [o.attempt] : []).sort();
    assert.deepEqual(numbers, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      outcomes.filter((o) => !o.ok),
      Array(3).fill({ ok: false, reason: "exhausted" }),
    );
    assert.equal((await store.getConsent(id))!.attempts, 5);
    assert.deepEqual(await store.reserveConsentAttempt(id, 6), { ok: true, attempt: 6 });
  });
});

Deno.test("store: a code redeems once, with its request and a family of its own; it is stored hashed and expires", async () => {
  await withStore(async ({ store, advance, keys }) => {
    const code = await store.issueCode(REQUEST);
    const other = await store.issueCode(REQUEST);
    assert.deepEqual(
      (await keys(["oauth_code"])).map((k) => k[1]).sort(),
      [await sha256Hex(code), await sha256Hex(other)].sort(),
    );
    const record = await store.redeemCode(code);
    assert.ok(typeof record === "object");
    const { family, ...rest } = record;
    assert.deepEqual(rest, { ...REQUEST, expiresAt: START + CODE_TTL_MS, used: false });
    const second = await store.redeemCode(other);
    assert.ok(typeof second === "object");
    assert.notEqual(second.family, family, "each code starts its own family");
    assert.equal(await store.redeemCode("no-such-code"), "invalid");

    const late = await store.issueCode(REQUEST);
    advance(CODE_TTL_MS);
    assert.equal(await store.redeemCode(late), "invalid", "expired");
  });
});

Deno.test("store: a replayed code revokes the tokens its first redemption issued", async () => {
  await withStore(async ({ store }) => {
    const code = await store.issueCode(REQUEST);
    const record = await store.redeemCode(code);
    assert.ok(typeof record === "object");
    const issued = await tokens(store, record.family);
    const bystander = await tokens(store, "another-family");
    assert.ok(await store.lookup(issued.accessToken, "access"));
    assert.equal(await store.redeemCode(code), "replayed");
    assert.equal(await store.lookup(issued.accessToken, "access"), null);
    assert.equal(await store.lookup(issued.refreshToken, "refresh"), null);
    assert.equal(await store.rotateRefresh(issued.refreshToken, "client-a", TTLS), "invalid");
    assert.ok(await store.lookup(bystander.accessToken, "access"), "other families stay");
  });
});

Deno.test("store: two concurrent redemptions of one code: one wins, the other is a replay", async () => {
  await withStore(async ({ store, raceReads }) => {
    const code = await store.issueCode(REQUEST);
    raceReads("oauth_code", 2); // both read the code unused
    const outcomes = await Promise.all([store.redeemCode(code), store.redeemCode(code)]);
    const wins = outcomes.filter((o) => typeof o === "object");
    assert.equal(wins.length, 1);
    assert.ok(outcomes.includes("replayed"));
    const family = (wins[0] as { family: string }).family;
    const issued = await tokens(store, family);
    assert.equal(await store.lookup(issued.accessToken, "access"), null, "the family is revoked");
  });
});

Deno.test("store: issued tokens are looked up by kind, stored hashed, and expire on the clock", async () => {
  await withStore(async ({ store, advance, kv, keys }) => {
    const issued = await tokens(store, "fam-1");
    assert.equal(issued.expiresIn, 3_600);
    assert.notEqual(issued.accessToken, issued.refreshToken);
    const base = {
      clientId: "client-a",
      family: "fam-1",
      resource: REQUEST.resource,
      scope: REQUEST.scope,
      used: false,
    };
    assert.deepEqual(await store.lookup(issued.accessToken, "access"), {
      ...base,
      kind: "access",
      expiresAt: START + HOUR,
    });
    assert.deepEqual(await store.lookup(issued.refreshToken, "refresh"), {
      ...base,
      kind: "refresh",
      expiresAt: START + 30 * DAY,
    });
    assert.equal(await store.lookup(issued.accessToken, "refresh"), null, "kinds do not mix");
    assert.equal(await store.lookup(issued.refreshToken, "access"), null);
    assert.equal(await store.lookup("unknown", "access"), null);
    const stored = await keys(["oauth_token"]);
    assert.deepEqual(
      stored.map((k) => k[1]).sort(),
      [await sha256Hex(issued.accessToken), await sha256Hex(issued.refreshToken)].sort(),
    );
    for (const key of stored) {
      const value = JSON.stringify((await kv.get(key)).value);
      assert.ok(!value.includes(issued.accessToken) && !value.includes(issued.refreshToken));
    }
    advance(HOUR - 1);
    assert.ok(await store.lookup(issued.accessToken, "access"));
    advance(1);
    assert.equal(await store.lookup(issued.accessToken, "access"), null);
    assert.ok(await store.lookup(issued.refreshToken, "refresh"), "refresh lives on");
  });
});

Deno.test("store: rotation spends the refresh token and keeps the family; reuse revokes the family", async () => {
  await withStore(async ({ store, advance }) => {
    const first = await tokens(store, "fam-r");
    advance(MINUTE);
    const second = await store.rotateRefresh(first.refreshToken, "client-a", TTLS);
    assert.ok(typeof second === "object");
    const access = await store.lookup(second.accessToken, "access");
    assert.equal(access?.family, "fam-r");
    assert.equal(access?.expiresAt, START + MINUTE + HOUR, "a fresh lifetime");
    assert.ok(await store.lookup(first.accessToken, "access"), "rotation leaves old access alone");
    assert.equal((await store.lookup(first.refreshToken, "refresh"))?.used, true, "spent");

    assert.equal(await store.rotateRefresh(first.refreshToken, "client-a", TTLS), "reused");
    assert.equal(await store.lookup(second.accessToken, "access"), null, "family revoked");
    assert.equal(await store.lookup(first.accessToken, "access"), null);
    assert.equal(await store.rotateRefresh(second.refreshToken, "client-a", TTLS), "invalid");
  });
});

Deno.test("store: rotation refuses another client's, an access, an expired or unknown token, spending nothing", async () => {
  await withStore(async ({ store, advance }) => {
    const issued = await tokens(store, "fam-x");
    assert.equal(await store.rotateRefresh(issued.refreshToken, "client-b", TTLS), "invalid");
    assert.equal(await store.rotateRefresh(issued.accessToken, "client-a", TTLS), "invalid");
    assert.equal(await store.rotateRefresh("unknown", "client-a", TTLS), "invalid");
    assert.ok(await store.lookup(issued.refreshToken, "refresh"), "not spent by the refusals");
    advance(30 * DAY);
    assert.equal(await store.rotateRefresh(issued.refreshToken, "client-a", TTLS), "invalid");

    const fresh = await tokens(store, "fam-y");
    assert.equal(typeof await store.rotateRefresh(fresh.refreshToken, "client-a", TTLS), "object");
  });
});

Deno.test("store: two concurrent rotations of one refresh token: one pair, one reuse, family revoked", async () => {
  await withStore(async ({ store, raceReads }) => {
    const issued = await tokens(store, "fam-c");
    raceReads("oauth_token", 2); // both read the refresh token unspent
    const outcomes = await Promise.all([
      store.rotateRefresh(issued.refreshToken, "client-a", TTLS),
      store.rotateRefresh(issued.refreshToken, "client-a", TTLS),
    ]);
    const pairs = outcomes.filter((o): o is IssuedTokens => typeof o === "object");
    assert.equal(pairs.length, 1);
    assert.ok(outcomes.includes("reused"));
    assert.equal(await store.lookup(pairs[0].accessToken, "access"), null);
  });
});

Deno.test("store: revoke is the issuing client's: an access token alone, a refresh token with its family", async () => {
  await withStore(async ({ store, kv }) => {
    const issued = await tokens(store, "fam-v");
    await store.revoke(issued.accessToken, "client-b");
    assert.ok(await store.lookup(issued.accessToken, "access"), "not client-b's to revoke");
    await store.revoke("unknown", "client-a");
    await store.revoke(issued.accessToken, "client-a");
    assert.equal(await store.lookup(issued.accessToken, "access"), null);
    assert.ok(await store.lookup(issued.refreshToken, "refresh"), "the family lives on");
    assert.equal(await kv.get(["oauth_family_revoked", "fam-v"]).then((e) => e.value), null);

    const rotated = await store.rotateRefresh(issued.refreshToken, "client-a", TTLS);
    assert.ok(typeof rotated === "object");
    await store.revoke(rotated.refreshToken, "client-b");
    assert.ok(await store.lookup(rotated.accessToken, "access"));
    await store.revoke(rotated.refreshToken, "client-a");
    assert.equal(await store.lookup(rotated.refreshToken, "refresh"), null);
    assert.equal(await store.lookup(rotated.accessToken, "access"), null, "its family went too");
    assert.equal((await kv.get(["oauth_family_revoked", "fam-v"])).value, START);
  });
});
