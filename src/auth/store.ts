/**
 * OAuth state in Deno KV: registered clients, consent requests, single-use
 * authorization codes, access and refresh tokens, token families. Tokens,
 * codes and secrets are stored only as SHA-256 hashes; every record carries
 * its expiry and is checked on read (KV's expireIn only tidies up).
 *
 * ```
 * ["oauth_client", clientId]        -> OAuthClient (DCR)
 * ["oauth_clients_count"]           -> KvU64
 * ["oauth_consent", id]             -> ConsentRecord
 * ["oauth_code", sha256(code)]      -> CodeRecord
 * ["oauth_token", sha256(token)]    -> TokenRecord (access or refresh)
 * ["oauth_family_revoked", family]  -> epoch ms
 * ```
 *
 * @module
 */
import { randomToken, sha256Hex } from "./crypto.ts";

/** How a client authenticates at the token endpoint. */
export type AuthMethod = "none" | "client_secret_post" | "client_secret_basic";

/** A known OAuth client. */
export interface OAuthClient {
  /** The id. */
  clientId: string;
  /** SHA-256 of the secret; null for public clients. */
  secretHash: string | null;
  /** Exact redirect URIs. */
  redirectUris: string[];
  /** Shown on the consent page. */
  name: string;
  /** Token endpoint authentication. */
  authMethod: AuthMethod;
  /** Where it came from: configuration, dynamic registration or a metadata document. */
  kind: "static" | "dcr" | "cimd";
}

/** An authorization request awaiting the owner's consent. */
export interface ConsentRecord {
  /** The validated request. */
  request: AuthorizationRequest;
  /** SHA-256 of the CSRF cookie value bound to this consent. */
  cookieHash: string;
  /** Wrong passwords so far. */
  failures: number;
  /** Epoch ms. */
  expiresAt: number;
}

/** A validated authorization request. */
export interface AuthorizationRequest {
  /** Client. */
  clientId: string;
  /** Exact redirect URI. */
  redirectUri: string;
  /** PKCE S256 challenge. */
  challenge: string;
  /** The resource the token is for. */
  resource: string;
  /** Granted scope. */
  scope: string;
  /** Echoed to the client. */
  state: string | null;
}

/** A stored authorization code. */
export interface CodeRecord extends AuthorizationRequest {
  /** Token family the code starts. */
  family: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Redeemed already. */
  used: boolean;
}

/** A stored token. */
export interface TokenRecord {
  /** Access or refresh. */
  kind: "access" | "refresh";
  /** Client it was issued to. */
  clientId: string;
  /** Family: one authorization and its refreshes. */
  family: string;
  /** Audience. */
  resource: string;
  /** Scope. */
  scope: string;
  /** Epoch ms. */
  expiresAt: number;
  /** For refresh tokens: rotated already. */
  used: boolean;
}

/** Lifetimes. */
export interface TokenTtls {
  /** Access token lifetime. */
  accessMs: number;
  /** Refresh token lifetime. */
  refreshMs: number;
}

/** An issued token pair. */
export interface IssuedTokens {
  /** Bearer token for /mcp. */
  accessToken: string;
  /** Refresh token. */
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
}

/** Codes live this long. */
export const CODE_TTL_MS = 5 * 60_000;
/** Consent pages stay valid this long. */
export const CONSENT_TTL_MS = 10 * 60_000;

/** OAuth state on KV. */
export class OAuthStore {
  #kv: Deno.Kv;
  #now: () => number;

  /** Wraps an open KV. */
  constructor(kv: Deno.Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** A dynamically registered client. */
  async getClient(clientId: string): Promise<OAuthClient | null> {
    return (await this.#kv.get<OAuthClient>(["oauth_client", clientId])).value;
  }

  /**
   * Registers a client (DCR); returns it with its plaintext secret (shown once).
   * Returns null when `max` clients exist already.
   */
  async registerClient(
    meta: { redirectUris: string[]; name: string; authMethod: AuthMethod },
    max: number,
  ): Promise<{ client: OAuthClient; secret: string | null } | null> {
    const count = await this.#kv.get<Deno.KvU64>(["oauth_clients_count"]);
    if (Number(count.value?.value ?? 0n) >= max) return null;
    const secret = meta.authMethod === "none" ? null : randomToken(32);
    const client: OAuthClient = {
      clientId: `dcr_${randomToken(16)}`,
      secretHash: secret ? await sha256Hex(secret) : null,
      redirectUris: meta.redirectUris,
      name: meta.name,
      authMethod: meta.authMethod,
      kind: "dcr",
    };
    const result = await this.#kv.atomic()
      .check(count)
      .set(["oauth_client", client.clientId], client)
      .sum(["oauth_clients_count"], 1n)
      .commit();
    if (!result.ok) return await this.registerClient(meta, max);
    return { client, secret };
  }

  /** Stores a consent request; returns its id and the CSRF cookie value. */
  async createConsent(request: AuthorizationRequest): Promise<{ id: string; cookie: string }> {
    const id = randomToken(24);
    const cookie = randomToken(24);
    const record: ConsentRecord = {
      request,
      cookieHash: await sha256Hex(cookie),
      failures: 0,
      expiresAt: this.#now() + CONSENT_TTL_MS,
    };
    await this.#kv.set(["oauth_consent", id], record, { expireIn: CONSENT_TTL_MS });
    return { id, cookie };
  }

  /** The consent request, if still valid. */
  async getConsent(id: string): Promise<ConsentRecord | null> {
    const record = (await this.#kv.get<ConsentRecord>(["oauth_consent", id])).value;
    return record && record.expiresAt > this.#now() ? record : null;
  }

  /** Counts a wrong password; returns the failures so far. */
  async failConsent(id: string, record: ConsentRecord): Promise<number> {
    const failures = record.failures + 1;
    await this.#kv.set(["oauth_consent", id], { ...record, failures }, {
      expireIn: CONSENT_TTL_MS,
    });
    return failures;
  }

  /** Ends a consent request (approved, denied or abandoned). */
  async endConsent(id: string): Promise<void> {
    await this.#kv.delete(["oauth_consent", id]);
  }

  /** Issues a single-use authorization code starting a new token family. */
  async issueCode(request: AuthorizationRequest): Promise<string> {
    const code = randomToken(32);
    const record: CodeRecord = {
      ...request,
      family: randomToken(12),
      expiresAt: this.#now() + CODE_TTL_MS,
      used: false,
    };
    await this.#kv.set(["oauth_code", await sha256Hex(code)], record, {
      expireIn: CODE_TTL_MS * 2,
    });
    return code;
  }

  /**
   * Redeems a code once. A second redemption revokes every token the first
   * one issued and returns `replayed`.
   */
  async redeemCode(code: string): Promise<CodeRecord | "invalid" | "replayed"> {
    const key = ["oauth_code", await sha256Hex(code)];
    const entry = await this.#kv.get<CodeRecord>(key);
    const record = entry.value;
    if (!record || record.expiresAt <= this.#now()) return "invalid";
    if (record.used) {
      await this.revokeFamily(record.family);
      return "replayed";
    }
    const result = await this.#kv.atomic().check(entry).set(key, { ...record, used: true }, {
      expireIn: CODE_TTL_MS * 2,
    }).commit();
    if (!result.ok) {
      await this.revokeFamily(record.family);
      return "replayed";
    }
    return record;
  }

  /** Issues an access and a refresh token in `family`. */
  async issueTokens(
    base: { clientId: string; family: string; resource: string; scope: string },
    ttls: TokenTtls,
  ): Promise<IssuedTokens> {
    const now = this.#now();
    const accessToken = randomToken(32);
    const refreshToken = randomToken(32);
    const access: TokenRecord = {
      ...base,
      kind: "access",
      expiresAt: now + ttls.accessMs,
      used: false,
    };
    const refresh: TokenRecord = {
      ...base,
      kind: "refresh",
      expiresAt: now + ttls.refreshMs,
      used: false,
    };
    await this.#kv.atomic()
      .set(["oauth_token", await sha256Hex(accessToken)], access, { expireIn: ttls.accessMs })
      .set(["oauth_token", await sha256Hex(refreshToken)], refresh, { expireIn: ttls.refreshMs })
      .commit();
    return { accessToken, refreshToken, expiresIn: Math.floor(ttls.accessMs / 1000) };
  }

  /** A live token of `kind`: known, unexpired, family not revoked. */
  async lookup(token: string, kind: TokenRecord["kind"]): Promise<TokenRecord | null> {
    const record = (await this.#kv.get<TokenRecord>(["oauth_token", await sha256Hex(token)]))
      .value;
    if (!record || record.kind !== kind || record.expiresAt <= this.#now()) return null;
    if (await this.#familyRevoked(record.family)) return null;
    return record;
  }

  /**
   * Rotates a refresh token: the old one is spent, a new pair is issued in
   * the same family. Reusing a spent refresh token revokes the family.
   */
  async rotateRefresh(
    token: string,
    clientId: string,
    ttls: TokenTtls,
  ): Promise<IssuedTokens | "invalid" | "reused"> {
    const key = ["oauth_token", await sha256Hex(token)];
    const entry = await this.#kv.get<TokenRecord>(key);
    const record = entry.value;
    if (!record || record.kind !== "refresh" || record.clientId !== clientId) return "invalid";
    if (record.expiresAt <= this.#now()) return "invalid";
    if (await this.#familyRevoked(record.family)) return "invalid";
    if (record.used) {
      await this.revokeFamily(record.family);
      return "reused";
    }
    const spent = await this.#kv.atomic().check(entry).set(key, { ...record, used: true }, {
      expireIn: Math.max(1, record.expiresAt - this.#now()),
    }).commit();
    if (!spent.ok) {
      await this.revokeFamily(record.family);
      return "reused";
    }
    return await this.issueTokens(record, ttls);
  }

  async #familyRevoked(family: string): Promise<boolean> {
    return (await this.#kv.get(["oauth_family_revoked", family])).value !== null;
  }

  /** Revokes every token of a family, now and for good. */
  async revokeFamily(family: string): Promise<void> {
    await this.#kv.set(["oauth_family_revoked", family], this.#now());
  }

  /**
   * RFC 7009 revocation: an access token is deleted; a refresh token takes
   * its whole family with it. Only the client it was issued to may revoke it.
   */
  async revoke(token: string, clientId: string): Promise<void> {
    const key = ["oauth_token", await sha256Hex(token)];
    const record = (await this.#kv.get<TokenRecord>(key)).value;
    if (!record || record.clientId !== clientId) return;
    if (record.kind === "refresh") await this.revokeFamily(record.family);
    await this.#kv.delete(key);
  }
}
