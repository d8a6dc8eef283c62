import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  hostName,
  hostOriginGuard,
  isLoopback,
  limitAuthAttempts,
  originMatches,
  rateLimit,
} from "../../src/http/guards.ts";
import { MAX_BUCKETS, TokenBuckets } from "../../src/token_bucket.ts";
import { tokenId } from "../../src/auth/bearer.ts";
import { BoundedEventStore } from "../../src/http/event_store.ts";

Deno.test("guards: host names, loopback and origin patterns", () => {
  assert.equal(hostName("Example.COM:8080"), "example.com");
  assert.equal(hostName("[::1]:3000"), "[::1]");
  assert.equal(hostName("localhost"), "localhost");
  for (const h of ["localhost", "127.0.0.1", "127.9.8.7", "::1", "[::1]", "app.localhost"]) {
    assert.ok(isLoopback(h), h);
  }
  for (const h of ["0.0.0.0", "10.0.0.1", "example.com", "localhost.evil.com"]) {
    assert.ok(!isLoopback(h), h);
  }
  assert.ok(originMatches("https://claude.ai", "https://claude.ai/"));
  assert.ok(originMatches("https://a.example.com", "*.example.com"));
  assert.ok(!originMatches("https://example.com", "*.example.com"));
  assert.ok(!originMatches("https://evilexample.com", "*.example.com"));
  assert.ok(originMatches("https://anything", "*"));
  assert.ok(!originMatches("https://claude.ai.evil", "https://claude.ai"));
});

Deno.test("guards: a refused Host or Origin is JSON-RPC on /mcp and the error body elsewhere", async () => {
  const app = new Hono();
  app.use("*", hostOriginGuard({ bindHost: "127.0.0.1", allowedHosts: [], allowedOrigins: [] }));
  app.all("*", (c) => c.text("ok"));
  const hit = (path: string, headers: Record<string, string>) =>
    app.request(`http://127.0.0.1${path}`, { headers: { host: "127.0.0.1", ...headers } });
  assert.equal((await hit("/health", {})).status, 200);

  const host = await hit("/health", { host: "evil.example" });
  assert.equal(host.status, 403);
  assert.deepEqual(await host.json(), {
    error: "forbidden",
    message: "Invalid Host header.",
    hint: "Add the name to MCP_ALLOWED_HOSTS to accept it.",
  });
  const origin = await hit("/ready", { origin: "https://evil.example" });
  assert.equal(origin.status, 403);
  assert.equal((await origin.json()).error, "forbidden");

  const mcp = await hit("/mcp", { origin: "https://evil.example" });
  assert.equal(mcp.status, 403);
  assert.deepEqual(await mcp.json(), {
    jsonrpc: "2.0",
    id: null,
    error: {
      code: -32000,
      message: "Invalid Origin header: add it to MCP_ALLOWED_ORIGINS or CORS_ORIGINS",
    },
  });
});

Deno.test("guards: rate limit refills over time and keys clients apart", async () => {
  const clock = { now: 0 };
  const app = new Hono();
  app.use(
    "*",
    rateLimit({ perMinute: 2, key: (c) => c.req.header("x-client") ?? "?", now: () => clock.now }),
  );
  app.get("/", (c) => c.text("ok"));
  const hit = async (client: string) =>
    (await app.request("/", { headers: { "x-client": client } })).status;
  assert.deepEqual([await hit("a"), await hit("a"), await hit("a")], [200, 200, 429]);
  assert.equal(await hit("b"), 200, "another client has its own bucket");
  const limited = await app.request("/", { headers: { "x-client": "a" } });
  assert.equal(limited.headers.get("retry-after"), "30");
  clock.now += 30_000;
  assert.equal(await hit("a"), 200, "one token back after half a minute");
  assert.equal(await hit("a"), 429);
});

Deno.test("guards: token buckets take several tokens at once, all or none, and take refunds", () => {
  const clock = { now: 0 };
  const buckets = new TokenBuckets(10, () => clock.now);
  assert.deepEqual(buckets.take("k", 8), { ok: true });
  assert.deepEqual(buckets.take("k", 3), { ok: false, retryAfterSeconds: 6 }, "2 left, 1 short");
  assert.deepEqual(buckets.take("k", 2), { ok: true }, "the refusal took nothing");
  buckets.give("k", 5);
  assert.deepEqual(buckets.take("k", 5), { ok: true }, "the refund counts");
  assert.equal(buckets.take("k").ok, false);
  buckets.give("k", 100);
  assert.deepEqual(
    buckets.take("k", 11),
    { ok: false, retryAfterSeconds: 60, never: true },
    "over capacity: no wait helps",
  );
  assert.deepEqual(buckets.take("k", 10), { ok: true }, "refunds stop at capacity");
});

Deno.test("guards: token buckets stay bounded when many keys are busy at once (no full scan per take)", () => {
  // Keys whose buckets are not full yet (each took a token, the clock stands
  // still) cannot be dropped as idle: before, the map grew without bound and
  // every take past MAX_BUCKETS scanned all of it (40,000 keys: 8 s of CPU).
  const buckets = new TokenBuckets(10, () => 0);
  const started = performance.now();
  for (let i = 0; i < MAX_BUCKETS * 3; i++) assert.equal(buckets.take(`a${i}`).ok, true);
  assert.ok(buckets.size <= MAX_BUCKETS, `${buckets.size} buckets held`);
  assert.ok(performance.now() - started < 2_000, "amortised, not a scan per take");
  // The most recently used keys keep their state: a busy key is not reset by the flood.
  for (let i = 0; i < 10; i++) buckets.take("busy");
  assert.equal(buckets.take("busy").ok, false);
  for (let i = 0; i < MAX_BUCKETS / 2; i++) buckets.take(`b${i}`);
  assert.equal(buckets.take("busy").ok, false, "recently used: still empty");
});

Deno.test("guards: the rate limit charges a request's cost (a batch of n takes n)", async () => {
  const app = new Hono();
  app.use(
    "*",
    rateLimit({
      perMinute: 150,
      key: () => "one",
      cost: async (c) => {
        const body = await c.req.json();
        return Array.isArray(body) ? body.length : 1;
      },
      now: () => 0,
    }),
  );
  app.post("/", (c) => c.text("ok"));
  const send = async (n: number) => {
    const response = await app.request("/", {
      method: "POST",
      body: JSON.stringify(n === 1 ? {} : Array.from({ length: n }, () => ({}))),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
  assert.equal((await send(100)).status, 200);
  const refused = await send(100);
  assert.equal(refused.status, 429, "49 left: the batch is refused whole");
  assert.equal(refused.body.error.code, -32000);
  assert.equal((await send(49)).status, 200, "nothing was taken by the refusal");
  const huge = await send(151);
  assert.equal(huge.status, 429);
  assert.match(huge.body.error.message, /batch of 151 messages exceeds the limit of 150/);
});

Deno.test("guards: failed authentication attempts are limited per address; good ones give back", async () => {
  const app = new Hono();
  const auth = limitAuthAttempts(
    async function fakeAuth(c, next) {
      if (c.req.header("authorization") !== "Bearer good") return c.text("no", 401);
      await next();
    },
    { perMinute: 3, key: (c) => c.req.header("x-addr") ?? "?", now: () => 0 },
  );
  app.use("*", auth);
  app.get("/", (c) => c.text("ok"));
  const hit = async (token: string, addr = "1.1.1.1") =>
    (await app.request("/", { headers: { authorization: `Bearer ${token}`, "x-addr": addr } }))
      .status;
  for (let i = 0; i < 10; i++) assert.equal(await hit("good"), 200, "successes cost nothing");
  assert.deepEqual(
    [await hit("bad"), await hit("bad"), await hit("bad"), await hit("bad")],
    [401, 401, 401, 429],
  );
  assert.equal(await hit("good"), 429, "the address is throttled as a whole");
  assert.equal(await hit("bad", "2.2.2.2"), 401, "another address has its own budget");
});

Deno.test("guards: token ids are stable and reveal nothing of the token", async () => {
  const id = await tokenId("super-secret-token");
  assert.equal(id, await tokenId("super-secret-token"));
  assert.notEqual(id, await tokenId("super-secret-token2"));
  assert.match(id, /^token:[0-9a-f]{16}$/);
  assert.ok(!id.includes("secret"));
});

Deno.test("event store: replays after an id, bounded per stream", async () => {
  const store = new BoundedEventStore(3);
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push(await store.storeEvent("s1", { jsonrpc: "2.0", method: `m${i}` }));
  }
  await store.storeEvent("s2", { jsonrpc: "2.0", method: "other" });
  assert.equal(store.size, 4);
  assert.equal(await store.getStreamIdForEventId(ids[3]), "s1");
  const sent: string[] = [];
  const stream = await store.replayEventsAfter(ids[2], {
    send: (_id, message) => Promise.resolve(void sent.push((message as { method: string }).method)),
  });
  assert.equal(stream, "s1");
  assert.deepEqual(sent, ["m3", "m4"]);
});
