/**
 * The owner's sign-ins to the operator page, in KV so every replica knows
 * them: the browser holds a random token in an `HttpOnly` cookie, KV only
 * its SHA-256, with an expiry checked on read.
 *
 * ```
 * ["operator_sign_in", sha256(token)] -> SignInRecord
 * ```
 *
 * A sign-in is bound to the secret it was made with (the owner password or
 * one static token) by `SHA-256(token, secret)`: changing the password or
 * removing the token ends every sign-in made with it, without KV holding
 * anything from which the secret could be guessed (the token is not stored).
 *
 * @module
 */
import { randomToken, safeEqual, sha256Hex } from "../auth/crypto.ts";

/** How long a sign-in lasts: 12 hours, whatever is done with it. */
export const SIGN_IN_TTL_MS = 12 * 60 * 60_000;

/** The shape of the tokens this module issues (32 random bytes, base64url). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** What the owner signed in with. */
export type Credential = "password" | "token";

/** A sign-in as KV keeps it. */
interface SignInRecord {
  /** What it was made with. */
  credential: Credential;
  /** SHA-256 of the token and the secret it was made with. */
  binding: string;
  /** The page's CSRF token for signing out. */
  csrf: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms after which it is gone. */
  expiresAt: number;
}

/** A live sign-in. */
export interface SignIn {
  /** A short, non-secret id (the start of the token's SHA-256): the feeds' principal. */
  id: string;
  /** What it was made with. */
  credential: Credential;
  /** The page's CSRF token for signing out. */
  csrf: string;
  /**
   * Made with the owner password or a token of `MCP_OWNER_TOKENS`: may
   * answer approvals. A sign-in with any other static token may only look.
   */
  owner: boolean;
  /** Epoch ms after which it is gone. */
  expiresAt: number;
}

/** The secrets a sign-in may be bound to, asked at each check (never stored). */
export interface Secrets {
  /** The owner password, if set. */
  password?: string;
  /** The static bearer tokens. */
  tokens: readonly string[];
  /** Those of them that are the owner's (`MCP_OWNER_TOKENS`). */
  ownerTokens?: readonly string[];
}

/** Options for {@linkcode SignIns}. */
export interface SignInsOptions {
  /** The secrets as configured now. */
  secrets: Secrets;
  /** Epoch ms clock; default `Date.now`. */
  now?: () => number;
  /** Lifetime of a sign-in; default {@linkcode SIGN_IN_TTL_MS}. */
  ttlMs?: number;
}

async function binding(token: string, secret: string): Promise<string> {
  return await sha256Hex(`operator-sign-in\n${token}\n${secret}`);
}

/** The owner's sign-ins in KV. */
export class SignIns {
  #kv: Deno.Kv;
  #secrets: Secrets;
  #now: () => number;
  #ttlMs: number;

  /** Keeps the records in `kv`, shared by every replica. */
  constructor(kv: Deno.Kv, options: SignInsOptions) {
    this.#kv = kv;
    this.#secrets = options.secrets;
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? SIGN_IN_TTL_MS;
  }

  /** The lifetime of a sign-in, in ms (the cookie's `Max-Age`). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Records a sign-in made with `secret`; returns its token (for the cookie only). */
  async start(credential: Credential, secret: string): Promise<{ token: string; signIn: SignIn }> {
    const token = randomToken(32);
    const now = this.#now();
    const record: SignInRecord = {
      credential,
      binding: await binding(token, secret),
      csrf: randomToken(16),
      createdAt: now,
      expiresAt: now + this.#ttlMs,
    };
    const hash = await sha256Hex(token);
    await this.#kv.set(["operator_sign_in", hash], record, { expireIn: this.#ttlMs });
    return { token, signIn: toSignIn(hash, record, this.#isOwner(credential, secret)) };
  }

  /**
   * The live sign-in of the cookie's `token`, or null: missing, forged,
   * expired, ended, or made with a secret no longer configured.
   */
  async find(token: string | undefined): Promise<SignIn | null> {
    if (!token || !TOKEN.test(token)) return null;
    const hash = await sha256Hex(token);
    const record = (await this.#kv.get<SignInRecord>(["operator_sign_in", hash])).value;
    if (!record || record.expiresAt <= this.#now()) return null;
    const { password, tokens } = this.#secrets;
    const candidates = record.credential === "password" ? (password ? [password] : []) : tokens;
    let bound: string | null = null;
    // Every candidate is compared, whether or not one matched.
    for (const secret of candidates) {
      if (await safeEqual(await binding(token, secret), record.binding)) bound = secret;
    }
    return bound === null ? null : toSignIn(hash, record, this.#isOwner(record.credential, bound));
  }

  /** Whether a sign-in made with `secret` is the owner's: the password, or an owner token. */
  #isOwner(credential: Credential, secret: string): boolean {
    return credential === "password" || (this.#secrets.ownerTokens ?? []).includes(secret);
  }

  /** Ends the sign-in of `token` (signing out); nothing if there is none. */
  async end(token: string | undefined): Promise<void> {
    if (!token || !TOKEN.test(token)) return;
    await this.#kv.delete(["operator_sign_in", await sha256Hex(token)]);
  }
}

function toSignIn(hash: string, record: SignInRecord, owner: boolean): SignIn {
  return {
    id: `sign_in:${hash.slice(0, 16)}`,
    credential: record.credential,
    csrf: record.csrf,
    owner,
    expiresAt: record.expiresAt,
  };
}
