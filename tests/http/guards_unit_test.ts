import assert from "node:assert/strict";
import { Hono } from "hono";
import { hostName, isLoopback, originMatches, rateLimit } from "../../src/http/guards.ts";
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
