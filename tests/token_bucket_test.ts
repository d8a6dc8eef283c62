/** `TokenBuckets` with a controlled clock: burst, even refill, all-or-none takes, per-key buckets. */
import assert from "node:assert/strict";
import { TokenBuckets } from "../src/token_bucket.ts";

Deno.test("token buckets: a burst of perMinute, then a wait that says how long", () => {
  const clock = { t: 0 };
  const buckets = new TokenBuckets(6, () => clock.t);
  for (let i = 0; i < 6; i++) assert.deepEqual(buckets.take("a"), { ok: true });
  assert.deepEqual(buckets.take("a"), { ok: false, retryAfterSeconds: 10 });
  clock.t = 9_999;
  assert.equal(buckets.take("a").ok, false);
  clock.t = 10_000;
  assert.deepEqual(buckets.take("a"), { ok: true }, "one token every 10 s");
});

Deno.test("token buckets: each key has its own bucket; refill never exceeds capacity", () => {
  const clock = { t: 0 };
  const buckets = new TokenBuckets(2, () => clock.t);
  buckets.take("a", 2);
  assert.equal(buckets.take("a").ok, false);
  assert.equal(buckets.take("b").ok, true, "b is untouched");
  clock.t = 10 * 60_000;
  assert.equal(buckets.take("a", 2).ok, true);
  assert.equal(buckets.take("a").ok, false, "ten minutes idle still refill only to 2");
});

Deno.test("token buckets: takes are all or none; more than the capacity never succeeds", () => {
  const clock = { t: 0 };
  const buckets = new TokenBuckets(4, () => clock.t);
  buckets.take("a", 3);
  assert.deepEqual(buckets.take("a", 2), { ok: false, retryAfterSeconds: 15 });
  assert.equal(buckets.take("a", 1).ok, true, "the refused take cost nothing");
  assert.equal(buckets.take("z", 5).ok, false, "even from a full bucket");
  buckets.take("y", 4);
  assert.deepEqual(buckets.take("y", 5), { ok: false, retryAfterSeconds: 60 }, "a full refill");
});

Deno.test("token buckets: give returns tokens, up to the capacity", () => {
  const buckets = new TokenBuckets(3, () => 0);
  buckets.take("a", 3);
  buckets.give("a", 2);
  assert.equal(buckets.take("a", 2).ok, true);
  assert.equal(buckets.take("a").ok, false);
  buckets.give("a", 100);
  assert.equal(buckets.take("a", 3).ok, true);
  assert.equal(buckets.take("a").ok, false, "capped at 3");
  buckets.give("unknown");
  assert.equal(buckets.take("unknown", 3).ok, true, "giving to an unseen key adds nothing");
});
