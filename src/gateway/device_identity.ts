/**
 * The bridge's device identity on the gateway's WebSocket: an Ed25519 key
 * pair whose public key's SHA-256 (hex) is the device id. The gateway asks
 * every operator connection to sign its challenge with it, and pairs (trusts)
 * a device once: automatically for a direct loopback connection, by the
 * gateway's owner (`openclaw devices approve <id>`) otherwise.
 *
 * The key lives in the task store's KV, so every replica that shares the
 * KV is one device (one pairing) and a restart keeps it. It is a secret: it
 * is never logged or shown; only the device id is.
 *
 * @module
 */

import { base64url, fromBase64url, hex } from "../auth/crypto.ts";

/** KV key of the stored identity. */
export const DEVICE_KEY: Deno.KvKey = ["gateway_device", "v1"];

/** What the WebSocket handshake needs of a device. */
export interface DeviceIdentity {
  /** SHA-256 of the raw public key, lowercase hex. */
  id: string;
  /** The raw 32-byte public key, base64url without padding. */
  publicKey: string;
  /** Signs UTF-8 `payload`; the signature as base64url without padding. */
  sign(payload: string): Promise<string>;
}

interface StoredIdentity {
  /** PKCS #8 private key, base64url. */
  privateKey: string;
  /** Raw public key, base64url. */
  publicKey: string;
  /** Epoch ms. */
  createdAt: number;
}

/** SHA-256 of `bytes`, lowercase hex. */
async function sha256HexOf(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

async function generate(now: number): Promise<StoredIdentity> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const privateKey = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: base64url(privateKey), publicKey: base64url(publicKey), createdAt: now };
}

async function fromStored(stored: StoredIdentity): Promise<DeviceIdentity> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    fromBase64url(stored.privateKey),
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  return {
    id: await sha256HexOf(fromBase64url(stored.publicKey)),
    publicKey: stored.publicKey,
    sign: async (payload) =>
      base64url(
        new Uint8Array(
          await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(payload)),
        ),
      ),
  };
}

function isStored(value: unknown): value is StoredIdentity {
  const v = value as Partial<StoredIdentity> | null;
  return typeof v?.privateKey === "string" && typeof v.publicKey === "string";
}

/**
 * The identity stored in `kv`, created on first use. Two replicas starting
 * at once agree: the first write wins and the other reads it back.
 */
export async function loadDeviceIdentity(
  kv: Deno.Kv,
  now: () => number = Date.now,
): Promise<DeviceIdentity> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await kv.get<StoredIdentity>(DEVICE_KEY);
    if (isStored(found.value)) return await fromStored(found.value);
    const fresh = await generate(now());
    const commit = await kv.atomic().check(found).set(DEVICE_KEY, fresh).commit();
    if (commit.ok) return await fromStored(fresh);
  }
  throw new Error("could not store the gateway device identity");
}

/** A fresh identity kept in memory only (tests, or a bridge without a store). */
export async function ephemeralDeviceIdentity(): Promise<DeviceIdentity> {
  return await fromStored(await generate(Date.now()));
}

/**
 * The string a device signs in `connect` (OpenClaw's "v3" device-auth
 * payload): fields joined by `|`, platform and device family lowercased.
 */
export function deviceAuthPayload(fields: {
  deviceId: string;
  clientId: string;
  clientMode: string;
  role: string;
  scopes: readonly string[];
  signedAtMs: number;
  token: string | undefined;
  nonce: string;
  platform: string;
  deviceFamily: string;
}): string {
  const lower = (text: string) => text.trim().replace(/[A-Z]/g, (c) => c.toLowerCase());
  return [
    "v3",
    fields.deviceId,
    fields.clientId,
    fields.clientMode,
    fields.role,
    fields.scopes.join(","),
    String(fields.signedAtMs),
    fields.token ?? "",
    fields.nonce,
    lower(fields.platform),
    lower(fields.deviceFamily),
  ].join("|");
}

/** Verifies a signature made by {@linkcode DeviceIdentity.sign} (the test gateway uses it). */
export async function verifyDeviceSignature(
  publicKey: string,
  payload: string,
  signature: string,
): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      fromBase64url(publicKey),
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    return await crypto.subtle.verify(
      { name: "Ed25519" },
      key,
      fromBase64url(signature),
      new TextEncoder().encode(payload),
    );
  } catch {
    return false;
  }
}

/** The device id of a raw base64url public key. */
export async function deviceIdOf(publicKey: string): Promise<string> {
  return await sha256HexOf(fromBase64url(publicKey));
}
