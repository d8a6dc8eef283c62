/** The owner-password lockout on KV: counted before checking, doubling locks, a cap, a reset. */
import assert from "node:assert/strict";
import {
  OWNER_LOCK_MAX_MS,
  OWNER_WINDOW_MS,
  ownerLockMs,
  OwnerLockout,
} from "../../src/auth/lockout.ts";

Deno.test("ownerLockMs doubles from 1 s after the free attempts and stops at 15 minutes", () => {
  assert.equal(ownerLockMs(9, 10), 0);
  assert.deepEqual([10, 11, 12, 13].map((n) => ownerLockMs(n, 10)), [1_000, 2_000, 4_000, 8_000]);
  assert.equal(ownerLockMs(20, 10), OWNER_LOCK_MAX_MS);
  assert.equal(ownerLockMs(10_000, 10), OWNER_LOCK_MAX_MS);
});

Deno.test("OwnerLockout: concurrent turns never exceed the free attempts; reset and quiet time clear it", async () => {
  const kv = await Deno.openKv(":memory:");
  let time = 0;
  const lockout = new OwnerLockout(kv, { now: () => time, freeAttempts: 3 });
  try {
    const turns = await Promise.all(Array.from({ length: 10 }, () => lockout.reserve()));
    assert.equal(turns.filter((t) => t.ok).length, 3);
    assert.ok(turns.every((t) => t.ok || t.retryAt === 1_000));
    assert.equal(await lockout.lockedUntil(), 1_000);
    time = 1_000;
    assert.equal(await lockout.lockedUntil(), null);
    assert.ok((await lockout.reserve()).ok);
    assert.equal(await lockout.lockedUntil(), 3_000, "the next lock is twice as long");
    await lockout.reset();
    assert.equal(await lockout.lockedUntil(), null);
    for (let i = 0; i < 2; i++) assert.ok((await lockout.reserve()).ok);
    time += OWNER_WINDOW_MS + 1;
    for (let i = 0; i < 2; i++) assert.ok((await lockout.reserve()).ok);
    assert.equal(await lockout.lockedUntil(), null, "attempts an hour apart do not add up");
  } finally {
    kv.close();
  }
});
