/**
 * The owner-password lockout, shared by every address, consent page and
 * replica: one KV record counts password attempts; past a threshold each
 * further attempt locks the password for twice as long as the one before.
 * While locked, attempts are refused without looking at the password,
 * except from the owner's recognised browser ({@linkcode OwnerDevices}),
 * which has a small budget of its own.
 *
 * ```
 * ["oauth_owner_failures"]               -> OwnerAttempts
 * ["oauth_owner_device", sha256(cookie)] -> OwnerDevice: the owner's recognised browser
 * ```
 *
 * Attempts are counted before the password is checked (a versionstamp check
 * orders concurrent ones), so a burst cannot slip more checks through than
 * the record allows; a correct password deletes the record.
 *
 * @module
 */
import { randomToken, sha256Hex } from "./crypto.ts";

/** Attempts allowed before the back-off starts. */
export const OWNER_FREE_ATTEMPTS = 10;
/** The first lock; each further attempt doubles it. */
export const OWNER_LOCK_BASE_MS = 1_000;
/** The cap on the doubling: however many failures, a lock lasts at most 15 minutes. */
export const OWNER_LOCK_MAX_MS = 15 * 60_000;
/** Attempts are forgotten after this long without one. */
export const OWNER_WINDOW_MS = 60 * 60_000;

const KEY = ["oauth_owner_failures"];

/** One record for the owner's password, whichever consent page or address tried it. */
interface OwnerAttempts {
  /** Attempts since the last correct password (within the window). */
  attempts: number;
  /** Epoch ms until which every attempt is refused. */
  lockedUntil: number;
  /** Epoch ms after which the record is forgotten. */
  expiresAt: number;
}

/** Outcome of {@linkcode OwnerLockout.reserve}. */
export type OwnerTurn = { ok: true } | { ok: false; retryAt: number };

/** Options for {@linkcode OwnerLockout}. */
export interface OwnerLockoutOptions {
  /** Epoch ms clock that locks and the window are measured on; default `Date.now`. */
  now?: () => number;
  /** Attempts before the back-off; default {@linkcode OWNER_FREE_ATTEMPTS}. */
  freeAttempts?: number;
}

/** How long the lock after `attempts` lasts (0 before the threshold). */
export function ownerLockMs(attempts: number, freeAttempts: number = OWNER_FREE_ATTEMPTS): number {
  if (attempts < freeAttempts) return 0;
  return Math.min(
    OWNER_LOCK_MAX_MS,
    OWNER_LOCK_BASE_MS * 2 ** Math.min(30, attempts - freeAttempts),
  );
}

/** The owner-password lockout on KV. */
export class OwnerLockout {
  #kv: Deno.Kv;
  #now: () => number;
  #free: number;

  /** Keeps its one record in `kv`, so that every replica sharing it counts the same attempts. */
  constructor(kv: Deno.Kv, options: OwnerLockoutOptions = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
    this.#free = options.freeAttempts ?? OWNER_FREE_ATTEMPTS;
  }

  /** Epoch ms until which the password is locked, or null. Reads only. */
  async lockedUntil(): Promise<number | null> {
    const record = (await this.#kv.get<OwnerAttempts>(KEY)).value;
    const now = this.#now();
    return record && record.expiresAt > now && record.lockedUntil > now ? record.lockedUntil : null;
  }

  /**
   * Takes a turn to check the password: refused while locked; otherwise the
   * attempt is counted, and from the `freeAttempts`-th on it locks the
   * following ones for {@linkcode ownerLockMs} (lifted early by a correct
   * password through {@linkcode reset}).
   */
  async reserve(): Promise<OwnerTurn> {
    for (;;) {
      const now = this.#now();
      const entry = await this.#kv.get<OwnerAttempts>(KEY);
      const live = entry.value && entry.value.expiresAt > now ? entry.value : null;
      if (live && live.lockedUntil > now) return { ok: false, retryAt: live.lockedUntil };
      const attempts = (live?.attempts ?? 0) + 1;
      const lock = ownerLockMs(attempts, this.#free);
      const record: OwnerAttempts = {
        attempts,
        lockedUntil: lock ? now + lock : 0,
        expiresAt: now + lock + OWNER_WINDOW_MS,
      };
      const result = await this.#kv.atomic().check(entry)
        .set(KEY, record, { expireIn: lock + OWNER_WINDOW_MS })
        .commit();
      // A conflict means another attempt was counted first: read again.
      if (result.ok) return { ok: true };
    }
  }

  /** A correct password: the count starts again. */
  async reset(): Promise<void> {
    await this.#kv.delete(KEY);
  }
}

/** How long the owner's browser is recognised after an approval from it: 90 days. */
export const OWNER_DEVICE_TTL_MS = 90 * 86_400_000;
/** Password attempts a recognised browser may make while the owner lock is on, per window. */
export const OWNER_DEVICE_ATTEMPTS = 5;
/** The window {@linkcode OWNER_DEVICE_ATTEMPTS} counts over. */
export const OWNER_DEVICE_WINDOW_MS = 60 * 60_000;

/** The shape of a device token this server issues (32 random bytes, base64url). */
const DEVICE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A browser the owner approved from, keyed by the SHA-256 of its cookie. */
interface OwnerDevice {
  /** Epoch ms after which the browser is no longer recognised. */
  expiresAt: number;
  /** Attempts made through it while the owner lock was on, in the current window. */
  attempts: number;
  /** Epoch ms when the current window of attempts ends. */
  windowEndsAt: number;
}

/**
 * The owner's recognised browsers: after an approval with the owner
 * password, the browser gets a random token whose SHA-256 alone is kept in
 * KV (`["oauth_owner_device", sha256]`, 90 days). While the owner lock is on,
 * such a browser may still try the password, within its own small budget.
 */
export class OwnerDevices {
  #kv: Deno.Kv;
  #now: () => number;

  /** Keeps the records in `kv`, shared by every replica. */
  constructor(kv: Deno.Kv, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /** Recognises a new browser: returns its token (for the cookie only, never stored). */
  async issue(): Promise<string> {
    const token = randomToken(32);
    const record: OwnerDevice = {
      expiresAt: this.#now() + OWNER_DEVICE_TTL_MS,
      attempts: 0,
      windowEndsAt: 0,
    };
    await this.#kv.set(await deviceKey(token), record, { expireIn: OWNER_DEVICE_TTL_MS });
    return token;
  }

  /** The KV key of a live device for the cookie's `token`, or null (missing, forged, expired). */
  async recognise(token: string | undefined): Promise<Deno.KvKey | null> {
    if (!token || !DEVICE_TOKEN.test(token)) return null;
    const key = await deviceKey(token);
    const record = (await this.#kv.get<OwnerDevice>(key)).value;
    return record && record.expiresAt > this.#now() ? key : null;
  }

  /**
   * Takes one of the device's attempts, before the password is checked:
   * refused once {@linkcode OWNER_DEVICE_ATTEMPTS} were made in the window.
   */
  async reserve(key: Deno.KvKey): Promise<OwnerTurn> {
    for (;;) {
      const now = this.#now();
      const entry = await this.#kv.get<OwnerDevice>(key);
      const device = entry.value;
      if (!device || device.expiresAt <= now) return { ok: false, retryAt: now };
      const fresh = device.windowEndsAt <= now;
      const attempts = fresh ? 0 : device.attempts;
      if (attempts >= OWNER_DEVICE_ATTEMPTS) return { ok: false, retryAt: device.windowEndsAt };
      const record: OwnerDevice = {
        ...device,
        attempts: attempts + 1,
        windowEndsAt: fresh ? now + OWNER_DEVICE_WINDOW_MS : device.windowEndsAt,
      };
      const result = await this.#kv.atomic().check(entry)
        .set(key, record, { expireIn: Math.max(1, device.expiresAt - now) })
        .commit();
      if (result.ok) return { ok: true };
    }
  }

  /** Forgets a device (its token is replaced by a fresh one after each approval). */
  async forget(key: Deno.KvKey): Promise<void> {
    await this.#kv.delete(key);
  }
}

async function deviceKey(token: string): Promise<Deno.KvKey> {
  return ["oauth_owner_device", await sha256Hex(token)];
}
