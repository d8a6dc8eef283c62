/**
 * The operator login form's CSRF token and its attempt count. The form
 * carries an id (`<issued-at>.<random>`); its cookie carries
 * `HMAC-SHA256(key, id)`, the key a random one kept in KV (created once, so
 * every replica accepts the forms of the others). A POST must bring both,
 * within {@linkcode FORM_TTL_MS}: a page elsewhere can neither read the
 * cookie nor mint a pair. Showing the form writes nothing to KV; only a
 * password attempt does, by counting itself against the form
 * ({@linkcode FORM_ATTEMPTS}, like the consent page's 5).
 *
 * ```
 * ["operator_form_key"]              -> base64url of 32 random bytes
 * ["operator_login_form", formId]    -> { attempts } (until the form expires)
 * ```
 *
 * @module
 */
import { fromBase64url, randomToken, safeEqual } from "../auth/crypto.ts";
import { retryBusy } from "../tasks/kv_retry.ts";

/** How long a login form may be answered: 10 minutes. */
export const FORM_TTL_MS = 10 * 60_000;
/** Password attempts per form; then the page must be loaded again. */
export const FORM_ATTEMPTS = 5;

const FORM_ID = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/;
const KEY: Deno.KvKey = ["operator_form_key"];
const encoder = new TextEncoder();

/** Outcome of {@linkcode LoginForms.reserve}. */
export type FormAttempt = { ok: true; attempt: number } | { ok: false };

/** Issues and checks login forms. */
export class LoginForms {
  #kv: Deno.Kv;
  #now: () => number;
  #key: Promise<CryptoKey> | null = null;

  /** Keeps the HMAC key and the attempt counts in `kv`. */
  constructor(kv: Deno.Kv, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /** A new form: its id (for the page) and the cookie value that goes with it. */
  async issue(): Promise<{ formId: string; cookie: string }> {
    const formId = `${this.#now().toString(36)}.${randomToken(16)}`;
    return { formId, cookie: await this.#sign(formId) };
  }

  /** True when `formId` is one of ours, unexpired, and `cookie` is its HMAC. */
  async verify(formId: string | undefined, cookie: string | undefined): Promise<boolean> {
    if (!formId || !cookie) return false;
    const match = FORM_ID.exec(formId);
    if (!match) return false;
    const issued = parseInt(match[1], 36);
    const age = this.#now() - issued;
    if (!(age >= 0 && age < FORM_TTL_MS)) return false;
    return await safeEqual(await this.#sign(formId), cookie);
  }

  /**
   * Counts an attempt on the form before its password is checked (a
   * versionstamp check orders concurrent ones); refused once
   * {@linkcode FORM_ATTEMPTS} were made. Call after {@linkcode verify}.
   */
  async reserve(formId: string): Promise<FormAttempt> {
    const key = ["operator_login_form", formId];
    const issued = parseInt(FORM_ID.exec(formId)?.[1] ?? "0", 36);
    for (;;) {
      const entry = await this.#kv.get<{ attempts: number }>(key);
      const attempts = entry.value?.attempts ?? 0;
      if (attempts >= FORM_ATTEMPTS) return { ok: false };
      const expireIn = Math.max(1, issued + FORM_TTL_MS - this.#now());
      const op = this.#kv.atomic().check(entry).set(key, { attempts: attempts + 1 }, { expireIn });
      const result = await retryBusy(() => op.commit());
      if (result.ok) return { ok: true, attempt: attempts + 1 };
    }
  }

  async #sign(formId: string): Promise<string> {
    const key = await (this.#key ??= this.#loadKey().catch((error) => {
      this.#key = null;
      throw error;
    }));
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(formId)));
    let binary = "";
    for (const b of mac) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** The shared HMAC key: the one in KV, or a new one stored if there is none yet. */
  async #loadKey(): Promise<CryptoKey> {
    for (;;) {
      const entry = await retryBusy(() => this.#kv.get<string>(KEY));
      let secret = entry.value;
      if (!secret) {
        secret = randomToken(32);
        const op = this.#kv.atomic().check(entry).set(KEY, secret);
        // Replicas on one KV file may start at once: they take turns at its lock.
        const result = await retryBusy(() => op.commit());
        // Another replica stored its key first: use that one.
        if (!result.ok) continue;
      }
      const bytes = fromBase64url(secret);
      return await crypto.subtle.importKey(
        "raw",
        bytes,
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
    }
  }
}
