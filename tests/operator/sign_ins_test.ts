/**
 * `SignIns`: the owner's sign-ins in KV, hashed, expiring, bound to the
 * secret they were made with.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../../src/auth/crypto.ts";
import { type Secrets, SIGN_IN_TTL_MS, SignIns } from "../../src/operator/sign_ins.ts";

Deno.test("sign-ins: found by their token until they expire or end; KV keeps only a hash", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000 };
  const signIns = new SignIns(kv, {
    secrets: { password: "pw-123456", tokens: [] },
    now: () => clock.t,
  });
  const { token, signIn } = await signIns.start("password", "pw-123456");
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(signIn.expiresAt, 1_000 + SIGN_IN_TTL_MS);
  assert.deepEqual(await signIns.find(token), signIn);
  assert.match(signIn.id, /^sign_in:[0-9a-f]{16}$/);
  const stored = await kv.get(["operator_sign_in", await sha256Hex(token)]);
  assert.ok(stored.value, "keyed by the token's SHA-256");
  assert.ok(!JSON.stringify(stored.value).includes(token), "the token itself is not stored");
  assert.ok(!JSON.stringify(stored.value).includes("pw-123456"), "nor the password");
  for (const bad of [undefined, "", "short", token + "x", "A".repeat(43)]) {
    assert.equal(await signIns.find(bad), null, String(bad));
  }
  clock.t += SIGN_IN_TTL_MS - 1;
  assert.ok(await signIns.find(token));
  clock.t += 1;
  assert.equal(await signIns.find(token), null, "expired");

  const again = await signIns.start("password", "pw-123456");
  await signIns.end(again.token);
  assert.equal(await signIns.find(again.token), null, "ended");
  await signIns.end("not a token");
});

Deno.test("sign-ins: a new password or a removed token ends the sign-ins made with the old one", async () => {
  await using kv = await Deno.openKv(":memory:");
  const secrets: Secrets = {
    password: "first-password",
    tokens: ["token-a-0123456789", "token-b-0123456789"],
  };
  const before = new SignIns(kv, { secrets });
  const byPassword = await before.start("password", "first-password");
  const byA = await before.start("token", "token-a-0123456789");
  const byB = await before.start("token", "token-b-0123456789");
  assert.ok(await before.find(byPassword.token));
  assert.ok(await before.find(byA.token));

  // The next start of the server: another password, token a removed.
  const after = new SignIns(kv, {
    secrets: { password: "second-password", tokens: ["token-b-0123456789"] },
  });
  assert.equal(await after.find(byPassword.token), null);
  assert.equal(await after.find(byA.token), null);
  assert.ok(await after.find(byB.token));
  // A password sign-in is not kept by a token of the same text, nor the other way round.
  const none = new SignIns(kv, { secrets: { tokens: ["first-password"] } });
  assert.equal(await none.find(byPassword.token), null);
});
