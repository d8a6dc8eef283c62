/**
 * OAuth state in Deno KV: registered clients, consent requests, single-use
 * authorization codes, access and refresh tokens, token families. Tokens,
 * codes and secrets are stored only as SHA-256 hashes; every record carries
 * its expiry and is checked on read (KV's expireIn only tidies up).
 *
 * ```
 * ["oauth_client", clientId]                  -> OAuthClient (DCR), expires
 * ["oauth_dcr_pending", createdAt, clientId]  -> PendingEntry: registered, not yet approved
 * ["oauth_dcr_approved", clientId]            -> epoch ms expiry: approved by the owner
 * ["oauth_dcr_guard"]                         -> epoch ms; every change to the two
 *                                                indexes checks and bumps it
 * ["oauth_consent", id]                       -> ConsentRecord
 * ["oauth_authorize_window", minute]          -> KvU64: requests that stored a consent
 *                                                or code in that minute
 * ["oauth_code", sha256(code)]                -> CodeRecord
 * ["oauth_token", sha256(token)]              -> TokenRecord (access or refresh)
 * ["oauth_family_revoked", family]            -> epoch ms
 * ["oauth_owner_grant", family]               -> OwnerGrant: the family is an owner
 *                                                grant (written with its tokens)
 * ```
 *
 * Client counts are never kept as counters: they are the live entries of
 * the two indexes, listed under the guard's versionstamp, so an expired
 * record stops counting the moment it expires and nothing drifts.
 *
 * @module
 */
import { randomToken, sha256Hex } from "./crypto.ts";

/** How a client authenticates at the token endpoint. */
export type AuthMethod = "none" | "client_secret_post" | "client_secret_basic";

/** A known OAuth client. */
export interface OAuthClient {
  /** `client_id`: configured (static), `dcr_…` issued here (DCR) or the document's URL (CIMD). */
  clientId: string;
  /** SHA-256 of the secret; null for public clients. */
  secretHash: string | null;
  /** The only redirect URIs `/authorize` accepts, compared as exact strings (no prefix match). */
  redirectUris: string[];
  /** Shown on the consent page; from `client_name`, cleaned for display. */
  name: string;
  /** How `/token` authenticates it: `none` for public clients, which rely on PKCE alone. */
  authMethod: AuthMethod;
  /** Where it came from: configuration, dynamic registration or a metadata document. */
  kind: "static" | "dcr" | "cimd";
  /** DCR: epoch ms of registration. */
  createdAt?: number;
  /** DCR: epoch ms after which the registration is gone (unused). Absent on old records. */
  expiresAt?: number;
  /** DCR: the owner approved it on a consent page. */
  approved?: boolean;
  /** DCR: hash of the address (group) that registered it, for the per-address cap. */
  registeredBy?: string;
}

/** An index entry of a registered client that is not approved yet. */
interface PendingEntry {
  /** Hash of the registering address group. */
  registeredBy: string;
  /** Epoch ms at which the unapproved registration is dropped from the pool. */
  expiresAt: number;
}

/** Limits on dynamically registered clients. */
export interface ClientLimits {
  /** Unapproved registrations live this long. */
  pendingTtlMs: number;
  /** Most live unapproved registrations; the oldest is evicted for a new one. */
  maxPending: number;
  /** Most live unapproved registrations from one address group. */
  maxPendingPerAddress: number;
  /** Most live approved clients; the owner's approval of one more is refused, not evicted. */
  maxApproved: number;
  /** An approved client unused (no token issued or refreshed) this long is gone. */
  approvedIdleMs: number;
}

/** Why {@linkcode OAuthStore.registerClient} refused. */
export type RegisterRefusal = "address_full" | "busy";

/** An authorization request awaiting the owner's consent. */
export interface ConsentRecord {
  /** The request as `GET /authorize` validated it; the code repeats it on approval. */
  request: AuthorizationRequest;
  /** SHA-256 of the CSRF cookie value bound to this consent. */
  cookieHash: string;
  /** Password attempts reserved so far (each is counted before it is checked). */
  attempts: number;
  /** Epoch ms after which the page is refused: issue time + {@linkcode CONSENT_TTL_MS}. */
  expiresAt: number;
}

/** A validated authorization request. */
export interface AuthorizationRequest {
  /** The client that asked; `/token` refuses the code to any other. */
  clientId: string;
  /** One of the client's registered URIs; `/token` must be sent the same one. */
  redirectUri: string;
  /** PKCE `code_challenge` (S256, base64url); `/token` checks the verifier against it. */
  challenge: string;
  /** RFC 8707 resource the tokens will be for (their audience): this server's `<issuer>/mcp`. */
  resource: string;
  /** Granted scope: always `mcp:tools`, the only one offered. */
  scope: string;
  /** The client's `state`, returned unchanged on the redirect; null when it sent none. */
  state: string | null;
}

/** A stored authorization code. */
export interface CodeRecord extends AuthorizationRequest {
  /** Token family the code starts. */
  family: string;
  /**
   * The owner ticked "Owner access" on the consent page (with the owner
   * password): the family is an owner grant. Never set from anything the
   * client sends; absent on codes issued without consent.
   */
  owner?: boolean;
  /** Epoch ms after which it is refused: issue time + {@linkcode CODE_TTL_MS}. */
  expiresAt: number;
  /** Set by its first redemption; a second one revokes the whole family (a replay). */
  used: boolean;
}

/** A stored token. */
export interface TokenRecord {
  /** Access tokens open `/mcp`; refresh tokens only buy new pairs at `/token`. */
  kind: "access" | "refresh";
  /** Client it was issued to: part of the task owner, and checked on refresh. */
  clientId: string;
  /** Family: one authorization and its refreshes. */
  family: string;
  /** Audience: `/mcp` accepts the token only when it is this server's resource. */
  resource: string;
  /** The code's granted scope, carried over on refresh. */
  scope: string;
  /** The family is an owner grant (from its code), carried over on refresh. */
  owner?: boolean;
  /** Epoch ms after which it is refused: issue time + the kind's lifetime in {@linkcode TokenTtls}. */
  expiresAt: number;
  /** For refresh tokens: rotated already. */
  used: boolean;
}

/**
 * The mark of a token family that is an owner grant: `oauth:<clientId>:<family>`
 * is an owner while it is live, unexpired and the family is not revoked.
 */
export interface OwnerGrant {
  /** The client the family belongs to (checked against the principal). */
  clientId: string;
  /**
   * SHA-256 of the family and the owner password it was granted under: a
   * new `MCP_OWNER_PASSWORD` ends every owner grant (the logins stay, as
   * ordinary ones). Absent on grants from before it existed: not owners.
   */
  binding?: string;
  /** Epoch ms when the family's newest token expires; renewed by each rotation. */
  expiresAt: number;
}

/** Token lifetimes, from `MCP_ACCESS_TOKEN_TTL_MS` and `MCP_REFRESH_TOKEN_TTL_MS`. */
export interface TokenTtls {
  /** Milliseconds an access token is accepted after issue. */
  accessMs: number;
  /** Milliseconds a refresh token may be used after issue (each use rotates it). */
  refreshMs: number;
}

/** An issued token pair. */
export interface IssuedTokens {
  /** Bearer token for /mcp. */
  accessToken: string;
  /** Single use: spending it again revokes the family. */
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
}

/** Longest `state` accepted at `/authorize` (it is stored and echoed). */
export const MAX_STATE_LENGTH = 1_024;
/** Longest redirect URI or URL-shaped client id accepted, registered or stored. */
export const MAX_URI_LENGTH = 2_048;
/** The shape of token family ids (`randomToken(12)`): anything else is no family. */
const FAMILY_ID = /^[A-Za-z0-9_-]{16}$/;
/** The shape of ids this store issues (clients `dcr_…`, consents): anything else is unknown. */
const ISSUED_ID = /^(?:dcr_)?[A-Za-z0-9_-]{16,64}$/;
/** Milliseconds an authorization code may wait for its redemption at `/token`. */
export const CODE_TTL_MS = 5 * 60_000;
/** Consent pages stay valid this long. */
export const CONSENT_TTL_MS = 10 * 60_000;
/** Width of one slot of the authorization window. */
const WINDOW_SLOT_MS = 60_000;
/** Slots summed: everything `/authorize` stores expires within them. */
const WINDOW_SLOTS = Math.ceil(CONSENT_TTL_MS / WINDOW_SLOT_MS);
/** Optimistic retries before a contended change gives up. */
const MAX_RETRIES = 50;
/** Expired index entries removed per change (a bound on the atomic's size). */
const SWEEP_BATCH = 50;

/**
 * The `count` unapproved registrations to evict from a full pool: each the
 * oldest of the address group holding the most (the registering group
 * counted with its new one; ties go to the group with the older entry). A
 * flood evicts its own registrations first; one real client's pending
 * registration goes only once every group holds no more than it does, so
 * pushing it out before the owner approves takes as many addresses as the
 * pool has places, not a few addresses registering fast. `live` is in key
 * order, oldest first.
 */
function evictionVictims(
  live: Deno.KvEntry<PendingEntry>[],
  registeringGroup: string,
  count: number,
): Deno.KvEntry<PendingEntry>[] {
  // Positions in `live` per group, oldest first.
  const groups = new Map<string, number[]>();
  live.forEach((entry, i) => {
    const list = groups.get(entry.value.registeredBy);
    if (list) list.push(i);
    else groups.set(entry.value.registeredBy, [i]);
  });
  const size = (group: string, list: number[]) =>
    list.length + (group === registeringGroup ? 1 : 0);
  const victims: Deno.KvEntry<PendingEntry>[] = [];
  while (victims.length < count) {
    let pick: [string, number[]] | undefined;
    for (const group of groups) {
      if (!group[1].length) continue;
      const bigger = pick ? size(...group) - size(...pick) : 1;
      if (bigger > 0 || (bigger === 0 && group[1][0] < pick![1][0])) pick = group;
    }
    if (!pick) break;
    victims.push(live[pick[1].shift()!]);
  }
  return victims;
}

/** Options for {@linkcode OAuthStore}. */
export interface OAuthStoreOptions {
  /** Epoch ms clock every expiry is measured on; default `Date.now`. */
  now?: () => number;
  /**
   * How long a revoked family must stay marked: the longest refresh token
   * lifetime. Default 30 days.
   */
  familyTtlMs?: number;
  /**
   * The owner password (`MCP_OWNER_PASSWORD`) owner grants are bound to:
   * written under it, honoured and renewed only while it is the same.
   */
  ownerSecret?: string;
}

/** Outcome of {@linkcode OAuthStore.reserveConsentAttempt}. */
export type ConsentAttempt =
  | { ok: true; attempt: number }
  | { ok: false; reason: "gone" | "exhausted" };

/** Outcome of {@linkcode OAuthStore.approveClient}. */
export type Approval = "approved" | "gone" | "full";

/**
 * Clients, consents, codes and tokens in KV, changed only by checked atomics,
 * so that replicas sharing the KV agree (the key layout is at the top).
 */
export class OAuthStore {
  #kv: Deno.Kv;
  #now: () => number;
  #familyTtlMs: number;
  #ownerSecret: string;

  /** Uses `kv` as it is: the caller opens it and closes it. */
  constructor(kv: Deno.Kv, options: OAuthStoreOptions = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
    this.#familyTtlMs = options.familyTtlMs ?? 30 * 86_400_000;
    this.#ownerSecret = options.ownerSecret ?? "";
  }

  /** The binding of `family`'s owner grant to the owner password of this store. */
  async #ownerBinding(family: string): Promise<string> {
    return await sha256Hex(`owner-grant\n${family}\n${this.#ownerSecret}`);
  }

  /** A dynamically registered client, unless it expired. */
  async getClient(clientId: string): Promise<OAuthClient | null> {
    // Never let a caller-chosen string become a KV key: it may exceed KV's key size.
    if (!ISSUED_ID.test(clientId)) return null;
    const client = (await this.#kv.get<OAuthClient>(["oauth_client", clientId])).value;
    // Records from before expiry existed have no expiresAt: they count as approved and live.
    return client && (client.expiresAt ?? Infinity) > this.#now() ? client : null;
  }

  /**
   * Registers a client (DCR) as unapproved; returns it with its plaintext
   * secret (shown once). It lives `pendingTtlMs` unless the owner approves
   * it. Refused when the address group has `maxPendingPerAddress` live
   * registrations; when `maxPending` live ones exist, the oldest of the
   * address group holding the most is evicted, so a flood evicts its own
   * registrations first and can delay but never lock out a real client.
   */
  async registerClient(
    meta: { redirectUris: string[]; name: string; authMethod: AuthMethod; registeredBy: string },
    limits: ClientLimits,
  ): Promise<{ client: OAuthClient; secret: string | null } | RegisterRefusal> {
    const secret = meta.authMethod === "none" ? null : randomToken(32);
    const secretHash = secret ? await sha256Hex(secret) : null;
    for (let i = 0; i < MAX_RETRIES; i++) {
      const now = this.#now();
      const guard = await this.#kv.get(["oauth_dcr_guard"]);
      const live: Deno.KvEntry<PendingEntry>[] = [];
      const expired: Deno.KvEntry<PendingEntry>[] = [];
      for await (const entry of this.#kv.list<PendingEntry>({ prefix: ["oauth_dcr_pending"] })) {
        (entry.value.expiresAt > now ? live : expired).push(entry);
      }
      const mine = live.filter((e) => e.value.registeredBy === meta.registeredBy).length;
      if (mine >= limits.maxPendingPerAddress) return "address_full";
      const client: OAuthClient = {
        clientId: `dcr_${randomToken(16)}`,
        secretHash,
        redirectUris: meta.redirectUris,
        name: meta.name,
        authMethod: meta.authMethod,
        kind: "dcr",
        createdAt: now,
        expiresAt: now + limits.pendingTtlMs,
        approved: false,
        registeredBy: meta.registeredBy,
      };
      const op = this.#kv.atomic().check(guard).set(["oauth_dcr_guard"], now)
        .set(["oauth_client", client.clientId], client, { expireIn: limits.pendingTtlMs })
        .set(
          ["oauth_dcr_pending", now, client.clientId],
          { registeredBy: meta.registeredBy, expiresAt: client.expiresAt! } satisfies PendingEntry,
          { expireIn: limits.pendingTtlMs },
        );
      // Bounded per call, for the atomic's size, should the cap ever be lowered below what KV holds.
      const evict = live.length >= limits.maxPending
        ? evictionVictims(
          live,
          meta.registeredBy,
          Math.min(SWEEP_BATCH, live.length - limits.maxPending + 1),
        )
        : [];
      for (const entry of [...evict, ...expired.slice(0, SWEEP_BATCH)]) {
        op.delete(entry.key).delete(["oauth_client", entry.key[2] as string]);
      }
      if ((await op.commit()).ok) return { client, secret };
    }
    return "busy";
  }

  /**
   * Marks a registered client approved by the owner: it leaves the
   * unapproved pool and counts against `maxApproved` until it goes unused
   * for `approvedIdleMs`. `gone` when it expired or was evicted first;
   * `full` when `maxApproved` live approved clients exist.
   */
  async approveClient(clientId: string, limits: ClientLimits): Promise<Approval> {
    if (!ISSUED_ID.test(clientId)) return "gone";
    for (let i = 0; i < MAX_RETRIES; i++) {
      const now = this.#now();
      const guard = await this.#kv.get(["oauth_dcr_guard"]);
      const entry = await this.#kv.get<OAuthClient>(["oauth_client", clientId]);
      const client = entry.value;
      if (!client || (client.expiresAt ?? Infinity) <= now) return "gone";
      if (client.approved || client.expiresAt === undefined) {
        await this.touchClient(clientId, limits);
        return "approved";
      }
      let approved = 0;
      const expired: Deno.KvKey[] = [];
      for await (const e of this.#kv.list<number>({ prefix: ["oauth_dcr_approved"] })) {
        if (e.value > now) approved++;
        else expired.push(e.key);
      }
      if (approved >= limits.maxApproved) return "full";
      const expiresAt = now + limits.approvedIdleMs;
      const op = this.#kv.atomic().check(guard, entry).set(["oauth_dcr_guard"], now)
        .set(["oauth_client", clientId], { ...client, approved: true, expiresAt }, {
          expireIn: limits.approvedIdleMs,
        })
        .set(["oauth_dcr_approved", clientId], expiresAt, { expireIn: limits.approvedIdleMs })
        .delete(["oauth_dcr_pending", client.createdAt ?? 0, clientId]);
      for (const key of expired.slice(0, SWEEP_BATCH)) op.delete(key);
      if ((await op.commit()).ok) return "approved";
    }
    return "gone";
  }

  /**
   * An approved client was used (a token issued or refreshed): it now lives
   * `approvedIdleMs` from now. Written at most once an hour per client.
   */
  async touchClient(clientId: string, limits: ClientLimits): Promise<void> {
    for (let i = 0; i < MAX_RETRIES; i++) {
      const now = this.#now();
      const entry = await this.#kv.get<OAuthClient>(["oauth_client", clientId]);
      const client = entry.value;
      if (!client || client.kind !== "dcr" || (client.expiresAt ?? Infinity) <= now) return;
      if (client.expiresAt !== undefined && !client.approved) return;
      const expiresAt = now + limits.approvedIdleMs;
      if (client.expiresAt !== undefined && client.expiresAt > expiresAt - 3_600_000) return;
      const result = await this.#kv.atomic().check(entry)
        .set(["oauth_client", clientId], { ...client, approved: true, expiresAt }, {
          expireIn: limits.approvedIdleMs,
        })
        .set(["oauth_dcr_approved", clientId], expiresAt, { expireIn: limits.approvedIdleMs })
        .commit();
      if (result.ok) return;
    }
  }

  /** Live registered clients: unapproved and approved (for tests and status). */
  async clientCounts(): Promise<{ pending: number; approved: number }> {
    const now = this.#now();
    let pending = 0;
    let approved = 0;
    for await (const e of this.#kv.list<PendingEntry>({ prefix: ["oauth_dcr_pending"] })) {
      if (e.value.expiresAt > now) pending++;
    }
    for await (const e of this.#kv.list<number>({ prefix: ["oauth_dcr_approved"] })) {
      if (e.value > now) approved++;
    }
    return { pending, approved };
  }

  /**
   * Counts one request that is about to store a consent or a code, and
   * says whether it fits: at most `max` in any {@linkcode CONSENT_TTL_MS}
   * (the longest any of them lives), across all replicas. The count is
   * taken first (an atomic sum) and read after, so concurrent requests can
   * only be refused too eagerly, never let through beyond `max`.
   */
  async admitAuthorization(max: number): Promise<boolean> {
    const slot = Math.floor(this.#now() / WINDOW_SLOT_MS);
    await this.#kv.atomic().sum(["oauth_authorize_window", slot], 1n).commit();
    const keys = Array.from(
      { length: WINDOW_SLOTS },
      (_, i) => ["oauth_authorize_window", slot - i],
    );
    const entries = await this.#kv.getMany<Deno.KvU64[]>(keys);
    const total = entries.reduce((sum, e) => sum + Number(e.value?.value ?? 0n), 0);
    // Sums cannot carry expireIn: slots that left the window are deleted here.
    for await (
      const old of this.#kv.list({
        start: ["oauth_authorize_window"],
        end: ["oauth_authorize_window", slot - WINDOW_SLOTS + 1],
      }, { limit: SWEEP_BATCH })
    ) await this.#kv.delete(old.key);
    return total <= max;
  }
  /** Stores a consent request; returns its id and the CSRF cookie value. */
  async createConsent(request: AuthorizationRequest): Promise<{ id: string; cookie: string }> {
    const id = randomToken(24);
    const cookie = randomToken(24);
    const record: ConsentRecord = {
      request,
      cookieHash: await sha256Hex(cookie),
      attempts: 0,
      expiresAt: this.#now() + CONSENT_TTL_MS,
    };
    await this.#kv.set(["oauth_consent", id], record, { expireIn: CONSENT_TTL_MS });
    return { id, cookie };
  }

  /** The consent request, if still valid. */
  async getConsent(id: string): Promise<ConsentRecord | null> {
    if (!ISSUED_ID.test(id)) return null;
    const record = (await this.#kv.get<ConsentRecord>(["oauth_consent", id])).value;
    return record && record.expiresAt > this.#now() ? record : null;
  }

  /**
   * Reserves one password attempt on a consent page, before the password is
   * checked: at most `max` attempts are ever checked per page, however many
   * arrive at once (a versionstamp check orders them). `exhausted` once
   * `max` were reserved; `gone` when the page expired or ended.
   */
  async reserveConsentAttempt(id: string, max: number): Promise<ConsentAttempt> {
    if (!ISSUED_ID.test(id)) return { ok: false, reason: "gone" };
    const key = ["oauth_consent", id];
    for (;;) {
      const entry = await this.#kv.get<ConsentRecord>(key);
      const record = entry.value;
      if (!record || record.expiresAt <= this.#now()) return { ok: false, reason: "gone" };
      const attempts = record.attempts ?? 0;
      if (attempts >= max) return { ok: false, reason: "exhausted" };
      const result = await this.#kv.atomic().check(entry)
        .set(key, { ...record, attempts: attempts + 1 }, {
          expireIn: Math.max(1, record.expiresAt - this.#now()),
        })
        .commit();
      // A conflict means another attempt was counted first: read again.
      if (result.ok) return { ok: true, attempt: attempts + 1 };
    }
  }

  /** Ends a consent request (approved, denied or abandoned). */
  async endConsent(id: string): Promise<void> {
    if (!ISSUED_ID.test(id)) return;
    await this.#kv.delete(["oauth_consent", id]);
  }

  /**
   * Issues a single-use authorization code starting a new token family; an
   * owner grant when `owner` (the consent page's box, ticked with the password).
   */
  async issueCode(request: AuthorizationRequest, owner = false): Promise<string> {
    const code = randomToken(32);
    const record: CodeRecord = {
      ...request,
      family: randomToken(12),
      ...(owner ? { owner: true } : {}),
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

  /**
   * Issues an access and a refresh token in `family`. An owner grant's
   * family mark is written with them, living as long as the newer of the two,
   * and only while the family is not revoked (checked in the same atomic).
   * A rotation (`rotation`) renews the mark only while it is bound to this
   * store's owner password; else the family goes on as an ordinary login.
   */
  async issueTokens(
    base: { clientId: string; family: string; resource: string; scope: string; owner?: boolean },
    ttls: TokenTtls,
    rotation = false,
  ): Promise<IssuedTokens> {
    const now = this.#now();
    const binding = base.owner === true ? await this.#ownerBinding(base.family) : undefined;
    if (binding && rotation) {
      const held = (await this.#kv.get<OwnerGrant>(["oauth_owner_grant", base.family])).value;
      if (held?.binding !== binding) base = { ...base, owner: false };
    }
    const accessToken = randomToken(32);
    const refreshToken = randomToken(32);
    // Only these fields: a rotated refresh token's record is passed as `base`.
    const fields = {
      clientId: base.clientId,
      family: base.family,
      resource: base.resource,
      scope: base.scope,
      ...(base.owner === true ? { owner: true } : {}),
    };
    const access: TokenRecord = {
      ...fields,
      kind: "access",
      expiresAt: now + ttls.accessMs,
      used: false,
    };
    const refresh: TokenRecord = {
      ...fields,
      kind: "refresh",
      expiresAt: now + ttls.refreshMs,
      used: false,
    };
    const op = this.#kv.atomic()
      .set(["oauth_token", await sha256Hex(accessToken)], access, { expireIn: ttls.accessMs })
      .set(["oauth_token", await sha256Hex(refreshToken)], refresh, { expireIn: ttls.refreshMs });
    if (fields.owner) {
      const lifeMs = Math.max(ttls.accessMs, ttls.refreshMs);
      const grant: OwnerGrant = { clientId: fields.clientId, binding, expiresAt: now + lifeMs };
      // A revocation that landed since the caller checked wins: nothing is written.
      op.check({ key: ["oauth_family_revoked", fields.family], versionstamp: null })
        .set(["oauth_owner_grant", fields.family], grant, { expireIn: lifeMs });
    }
    await op.commit();
    return { accessToken, refreshToken, expiresIn: Math.floor(ttls.accessMs / 1000) };
  }

  /**
   * Whether `oauth:<clientId>:<family>` is an owner: the family is an owner
   * grant of that client, its newest token has not expired, and the family
   * is not revoked. Read from KV on every call (no cache), so a revocation
   * counts from the next call, on every replica.
   */
  async isOwnerGrant(clientId: string, family: string): Promise<boolean> {
    if (!FAMILY_ID.test(family)) return false;
    const [grant, revoked] = await this.#kv.getMany<[OwnerGrant, unknown]>([
      ["oauth_owner_grant", family],
      ["oauth_family_revoked", family],
    ]);
    return grant.value !== null && revoked.value === null &&
      grant.value.clientId === clientId && grant.value.expiresAt > this.#now() &&
      grant.value.binding === await this.#ownerBinding(family);
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
    return await this.issueTokens(record, ttls, true);
  }

  async #familyRevoked(family: string): Promise<boolean> {
    return (await this.#kv.get(["oauth_family_revoked", family])).value !== null;
  }

  /**
   * Revokes every token of a family, and its owner grant. The mark outlives
   * every token the family can hold (the longest refresh lifetime), then goes.
   */
  async revokeFamily(family: string): Promise<void> {
    await this.#kv.atomic()
      .set(["oauth_family_revoked", family], this.#now(), { expireIn: this.#familyTtlMs })
      .delete(["oauth_owner_grant", family])
      .commit();
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
