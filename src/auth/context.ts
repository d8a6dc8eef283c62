/**
 * What every OAuth endpoint shares: the limits, the dependencies passed in
 * (KV, clock, logger, issuer), the stores built on them, and the redirect
 * back to the client. Built once per server by {@linkcode oauthContext}.
 *
 * @module
 */
import type { Context } from "hono";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { clientAddress } from "../client_address.ts";
import { addressGroup } from "./address_group.ts";
import { CimdResolver } from "./cimd.ts";
import { sha256Hex } from "./crypto.ts";
import { OWNER_FREE_ATTEMPTS, OwnerDevices, OwnerLockout } from "./lockout.ts";
import {
  type AuthorizationRequest,
  type ClientLimits,
  OAuthStore,
  type TokenTtls,
} from "./store.ts";

/** The one scope this server grants. */
export const SCOPE = "mcp:tools";
/** Most owner-approved dynamically registered clients. */
export const MAX_DCR_CLIENTS = 1_000;
/** Password attempts allowed per consent page. */
export const MAX_PASSWORD_FAILURES = 5;
/** Longest DCR `client_name` kept. */
export const MAX_CLIENT_NAME_LENGTH = 100;
/** Largest body any OAuth endpoint reads. */
export const MAX_OAUTH_BODY_BYTES = 64 * 1024;

/**
 * The OAuth limits. Rates (`...PerMinute`) are token buckets per address
 * group (IPv4 address or IPv6 /64) in each process; everything else is
 * counted in KV and holds across replicas.
 */
export interface OAuthLimits extends ClientLimits {
  /** `GET /authorize` requests per address per minute. */
  authorizePerMinute: number;
  /** Consents and codes `GET /authorize` may store in any 10 minutes, in total. */
  maxPendingAuthorizations: number;
  /** Registrations per address per minute. */
  registerPerMinute: number;
  /** Password attempts per address per minute. */
  passwordPerMinute: number;
  /** Password attempts per consent page. */
  consentAttempts: number;
  /** Owner password attempts (all addresses) before the back-off locks it. */
  ownerFreeAttempts: number;
}

/** The limits used unless a test passes others. */
export const OAUTH_LIMITS: Readonly<OAuthLimits> = {
  authorizePerMinute: 30,
  maxPendingAuthorizations: 2_000,
  registerPerMinute: 20,
  passwordPerMinute: 10,
  consentAttempts: MAX_PASSWORD_FAILURES,
  ownerFreeAttempts: OWNER_FREE_ATTEMPTS,
  pendingTtlMs: 60 * 60_000,
  maxPending: 200,
  maxPendingPerAddress: 10,
  maxApproved: MAX_DCR_CLIENTS,
  approvedIdleMs: 90 * 86_400_000,
};

/** What the authorization server needs. */
export interface OAuthDeps {
  /** Configuration (`auth` and `trustProxy` are read). */
  config: Config;
  /** KV for all OAuth state. */
  kv: Deno.Kv;
  /** The issuer URL (no trailing slash); known once the server listens. */
  issuer: () => string;
  /** Where consents, codes and refusals are logged. */
  log: Logger;
  /** Fetches Client ID Metadata Documents (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Clock in epoch ms (default `Date.now`). */
  now?: () => number;
  /** Overrides of {@linkcode OAUTH_LIMITS} (tests). */
  limits?: Partial<OAuthLimits>;
}

/** The state and helpers the endpoint modules share. */
export interface OAuthContext {
  /** The `auth` part of the configuration. */
  auth: Config["auth"];
  /** Clients, consents, codes and tokens in KV. */
  store: OAuthStore;
  /** The owner password's lock across all consent pages. */
  owner: OwnerLockout;
  /** The owner's recognised browsers, which the owner lock does not shut out. */
  devices: OwnerDevices;
  /** Resolves Client ID Metadata Documents. */
  cimd: CimdResolver;
  /** {@linkcode OAUTH_LIMITS} with the deps' overrides applied. */
  limits: OAuthLimits;
  /** Access and refresh token lifetimes. */
  ttls: TokenTtls;
  /** Where consents, codes and refusals are logged (the deps' logger). */
  log: Logger;
  /** The deps' clock (epoch ms), or `Date.now`; every expiry is measured on it. */
  now: () => number;
  /** The issuer URL, no trailing slash; asked per request, as it is known only once the server listens. */
  issuer: () => string;
  /** This server's resource identifier: `<issuer>/mcp`. */
  resource: () => string;
  /** The address group a request counts against (IPv4 address or IPv6 /64). */
  addressOf: (c: Context) => string;
  /** SHA-256 of the pre-registered client's secret, if one is configured. */
  staticSecretHash: Promise<string> | null;
}

/** Builds the shared context from the dependencies. */
export function oauthContext(deps: OAuthDeps): OAuthContext {
  const { config } = deps;
  const auth = config.auth;
  const now = deps.now ?? Date.now;
  const limits: OAuthLimits = { ...OAUTH_LIMITS, ...deps.limits };
  return {
    auth,
    store: new OAuthStore(deps.kv, {
      now,
      familyTtlMs: auth.refreshTokenTtlMs,
      ownerSecret: auth.ownerPassword,
    }),
    owner: new OwnerLockout(deps.kv, { now, freeAttempts: limits.ownerFreeAttempts }),
    devices: new OwnerDevices(deps.kv, { now }),
    cimd: new CimdResolver({ hosts: auth.cimdHosts, fetch: deps.fetch, now }),
    limits,
    ttls: { accessMs: auth.accessTokenTtlMs, refreshMs: auth.refreshTokenTtlMs },
    log: deps.log,
    now,
    issuer: deps.issuer,
    resource: () => `${deps.issuer()}/mcp`,
    addressOf: (c) => addressGroup(clientAddress(c, config.trustProxy)),
    staticSecretHash: auth.clientSecret ? sha256Hex(auth.clientSecret) : null,
  };
}

/**
 * A 302 back to the client's (verified) redirect URI with `params` and the
 * issuer (RFC 9207); null values are left out.
 */
export function redirectBack(
  ctx: OAuthContext,
  uri: string,
  params: Record<string, string | null>,
): Response {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
  url.searchParams.set("iss", ctx.issuer());
  return new Response(null, { status: 302, headers: { location: url.toString() } });
}

/**
 * Stores a code for an approved request and redirects back with it; an
 * owner grant only when `owner` (the consent page's box, with the password).
 */
export async function issueCode(
  ctx: OAuthContext,
  request: AuthorizationRequest,
  clientKind: string,
  owner = false,
): Promise<Response> {
  const code = await ctx.store.issueCode(request, owner);
  ctx.log.info("oauth_code_issued", {
    client: request.clientId,
    kind: clientKind,
    ...(owner ? { owner: true } : {}),
  });
  return redirectBack(ctx, request.redirectUri, { code, state: request.state });
}
