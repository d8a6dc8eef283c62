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
  assert.deepEqual(
    buckets.take("y", 5),
    { ok: false, retryAfterSeconds: 60, never: true },
    "a full refill",
  );
});

Deno.test("token buckets: more than the capacity from a full bucket says it can never succeed", () => {
  const clock = { t: 0 };
  const buckets = new TokenBuckets(4, () => clock.t);
  // A full bucket used to answer "retry in 1 s" here, though no wait helps.
  assert.deepEqual(buckets.take("a", 5), { ok: false, retryAfterSeconds: 60, never: true });
  clock.t = 60 * 60_000;
  assert.deepEqual(buckets.take("a", 5), { ok: false, retryAfterSeconds: 60, never: true });
  assert.deepEqual(buckets.take("a", 4), { ok: true }, "the refusals took nothing");
  const slow = new TokenBuckets(1, () => 0);
  assert.deepEqual(slow.take("a", 2), { ok: false, retryAfterSeconds: 60, never: true });
  // A take that fits the capacity is never marked, however long its wait.
  const empty = buckets.take("a", 4);
  assert.equal(empty.ok, false);
  assert.equal("never" in empty, false, "waiting will make room for 4");
  assert.deepEqual(empty, { ok: false, retryAfterSeconds: 60 });
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
