/**
 * Small cryptographic helpers (OAuth, the operator page, session keys, the
 * gateway device identity): encodings, random tokens, hashes for storage,
 * PKCE S256, and constant-time comparison.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

/** Bytes as base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of base64url (or base64) text, padded or not. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(
    atob(text.replace(/-/g, "+").replace(/_/g, "/")),
    (ch) => ch.charCodeAt(0),
  );
}

/** Bytes as lowercase hex. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A random, URL-safe token with `bytes` of entropy. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** SHA-256 of `text`, as bytes. */
export async function sha256Bytes(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** SHA-256 of `text`, hex: how tokens and secrets are stored. */
export async function sha256Hex(text: string): Promise<string> {
  return hex(await sha256Bytes(text));
}

/** The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)). */
export async function s256(verifier: string): Promise<string> {
  return base64url(await sha256Bytes(verifier));
}

/** Compares two strings in time independent of where they differ (and of their lengths). */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sha256Bytes(a), sha256Bytes(b)]);
  return timingSafeEqual(x, y);
}

/**
 * Whether `secret` hashes to one of `digests` (SHA-256, see
 * {@linkcode sha256Bytes}): every digest is compared in constant time,
 * match or not, so the time says nothing of which one or whether.
 */
export async function matchesAny(digests: readonly Uint8Array[], secret: string): Promise<boolean> {
  const mine = await sha256Bytes(secret);
  let found = false;
  for (const digest of digests) found = timingSafeEqual(digest, mine) || found;
  return found;
}
