/** The OAuth crypto helpers, checked against node:crypto as an independent implementation. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  matchesAny,
  randomToken,
  s256,
  safeEqual,
  sha256Bytes,
  sha256Hex,
} from "../../src/auth/crypto.ts";

Deno.test("crypto: randomToken is URL-safe base64 of the requested entropy, never repeated", () => {
  const token = randomToken();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, "32 bytes, unpadded");
  assert.match(randomToken(16), /^[A-Za-z0-9_-]{22}$/);
  const seen = new Set(Array.from({ length: 200 }, () => randomToken(8)));
  assert.equal(seen.size, 200);
});

Deno.test("crypto: SHA-256 as bytes and hex", async () => {
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  const text = "héllo wörld";
  assert.equal(await sha256Hex(text), createHash("sha256").update(text).digest("hex"));
  assert.deepEqual(
    await sha256Bytes(text),
    new Uint8Array(createHash("sha256").update(text).digest()),
  );
});

Deno.test("crypto: s256 is the PKCE challenge, base64url(SHA-256(verifier)) without padding", async () => {
  for (const verifier of [randomToken(), "a".repeat(43), "-._~"]) {
    assert.equal(
      await s256(verifier),
      createHash("sha256").update(verifier).digest("base64url"),
      verifier,
    );
  }
});

Deno.test("crypto: safeEqual compares whole strings, whatever their lengths", async () => {
  assert.equal(await safeEqual("secret", "secret"), true);
  assert.equal(await safeEqual("secret", "secreT"), false);
  assert.equal(await safeEqual("secret", "secret-longer"), false);
  assert.equal(await safeEqual("", ""), true);
  assert.equal(await safeEqual("", "x"), false);
});

Deno.test("crypto: matchesAny finds a secret among digests, and nothing in none", async () => {
  const digests = await Promise.all(["alpha-token", "beta-token"].map(sha256Bytes));
  assert.equal(await matchesAny(digests, "beta-token"), true);
  assert.equal(await matchesAny(digests, "alpha-token"), true);
  assert.equal(await matchesAny(digests, "gamma-token"), false);
  assert.equal(await matchesAny(digests, ""), false);
  assert.equal(await matchesAny([], "alpha-token"), false);
});
