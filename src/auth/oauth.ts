/**
 * The OAuth 2.1 authorization server built into the bridge: metadata
 * (RFC 8414, RFC 9728), `/authorize` with PKCE S256 and a consent page,
 * `/token` (authorization_code, refresh_token with rotation), `/revoke`
 * (RFC 7009), dynamic registration (RFC 7591) and Client ID Metadata
 * Documents. State lives in Deno KV, so it survives restarts and is shared
 * by replicas.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import { isSafeRedirect } from "./redirect_policy.ts";
import type { Logger } from "../log.ts";
import { clientAddress } from "../client_address.ts";
import { TokenBuckets } from "../token_bucket.ts";
import { addressGroup } from "./address_group.ts";
import { CimdResolver, looksLikeCimd } from "./cimd.ts";
import { s256, safeEqual, sha256Hex } from "./crypto.ts";
import { OWNER_FREE_ATTEMPTS, OwnerLockout } from "./lockout.ts";
import { consentPage, displayText, errorPage } from "./pages.ts";
import {
  type AuthMethod,
  type AuthorizationRequest,
  type ClientLimits,
  MAX_STATE_LENGTH,
  MAX_URI_LENGTH,
  type OAuthClient,
  OAuthStore,
  type TokenRecord,
} from "./store.ts";

/** The one scope this server grants. */
export const SCOPE = "mcp:tools";
/** Most owner-approved dynamically registered clients. */
export const MAX_DCR_CLIENTS = 1_000;
/** Password attempts allowed per consent page. */
export const MAX_PASSWORD_FAILURES = 5;
/** Longest DCR `client_name` kept. */
export const MAX_CLIENT_NAME_LENGTH = 100;
const CONSENT_COOKIE = "openclaw_consent";

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
  /** Configuration. */
  config: Config;
  /** KV for all OAuth state. */
  kv: Deno.Kv;
  /** The issuer URL (no trailing slash); known once the server listens. */
  issuer: () => string;
  /** Logger. */
  log: Logger;
  /** For metadata documents. */
  fetch?: typeof fetch;
  /** Clock. */
  now?: () => number;
  /** Overrides of {@linkcode OAUTH_LIMITS} (tests). */
  limits?: Partial<OAuthLimits>;
}

/** The mounted authorization server. */
export interface OAuthServer {
  /** Adds the OAuth routes to `app`. */
  mount(app: Hono<{ Variables: { principal: string } }>): void;
  /** The live access token's record, if it is valid for this resource. */
  verify(token: string): Promise<TokenRecord | null>;
  /** This server's resource identifier: `<issuer>/mcp`. */
  resource(): string;
  /** URL of the protected-resource metadata for /mcp. */
  resourceMetadataUrl(): string;
}

type Form = Record<string, string>;

function html(c: Context, page: { html: string; headers: Record<string, string> }, status = 200) {
  return c.body(page.html, status as 200, page.headers);
}

function oauthError(
  c: Context,
  status: number,
  error: string,
  description: string,
  retryAfterSeconds?: number,
): Response {
  return c.json({ error, error_description: description }, status as 400, {
    "cache-control": "no-store",
    ...(retryAfterSeconds ? { "retry-after": String(retryAfterSeconds) } : {}),
  });
}

/** A refusal page with a `Retry-After`; the message says when to come back. */
function retryPage(
  c: Context,
  status: 429 | 503,
  page: { html: string; headers: Record<string, string> },
  retryAfterSeconds: number,
): Response {
  return c.body(page.html, status, { ...page.headers, "retry-after": String(retryAfterSeconds) });
}

/** "in 8 seconds (after 12:00:08 UTC)" */
function whenText(seconds: number, at: number): string {
  const time = new Date(at).toISOString().slice(11, 19);
  return `in ${seconds} second${seconds === 1 ? "" : "s"} (after ${time} UTC)`;
}

async function readForm(c: Context): Promise<Form> {
  const type = c.req.header("content-type") ?? "";
  if (type.includes("application/json")) {
    const json = await c.req.json().catch(() => ({}));
    return Object.fromEntries(
      Object.entries(json as Record<string, unknown>).filter(([, v]) => typeof v === "string"),
    ) as Form;
  }
  return Object.fromEntries(new URLSearchParams(await c.req.text()));
}

/** Creates the authorization server. */
export function createOAuth(deps: OAuthDeps): OAuthServer {
  const { config, log } = deps;
  const auth = config.auth;
  const now = deps.now ?? Date.now;
  const limits: OAuthLimits = { ...OAUTH_LIMITS, ...deps.limits };
  const store = new OAuthStore(deps.kv, { now, familyTtlMs: auth.refreshTokenTtlMs });
  const owner = new OwnerLockout(deps.kv, { now, freeAttempts: limits.ownerFreeAttempts });
  const cimd = new CimdResolver({ hosts: auth.cimdHosts, fetch: deps.fetch, now });
  const ttls = { accessMs: auth.accessTokenTtlMs, refreshMs: auth.refreshTokenTtlMs };
  const passwordLimit = new TokenBuckets(limits.passwordPerMinute, now);
  const registerLimit = new TokenBuckets(limits.registerPerMinute, now);
  const authorizeLimit = new TokenBuckets(limits.authorizePerMinute, now);
  const addressOf = (c: Context) => addressGroup(clientAddress(c, config.trustProxy));
  const resource = () => `${deps.issuer()}/mcp`;
  const staticSecretHash = auth.clientSecret ? sha256Hex(auth.clientSecret) : null;
  if ((auth.allowDcr || auth.allowCimd) && !auth.ownerPassword) {
    // The Node server approved such clients silently; here the owner must, with a password.
    log.warn("oauth_no_owner_password", {
      message:
        "MCP_ALLOW_DCR/MCP_ALLOW_CIMD is on but MCP_OWNER_PASSWORD is not set: new clients cannot be approved until it is",
    });
  }

  async function resolveClient(id: string | undefined): Promise<OAuthClient | { error: string }> {
    if (!id) return { error: "client_id is missing" };
    if (auth.clientId && id === auth.clientId) {
      return {
        clientId: id,
        secretHash: await staticSecretHash,
        redirectUris: auth.redirectUris,
        name: "Pre-registered client",
        authMethod: "client_secret_basic",
        kind: "static",
      };
    }
    if (looksLikeCimd(id)) {
      if (!auth.allowCimd) {
        return { error: "client metadata documents are not accepted here (MCP_ALLOW_CIMD is off)" };
      }
      return await cimd.resolve(id);
    }
    return (await store.getClient(id)) ?? { error: "unknown client_id" };
  }

  /** RFC 6749 §2.3 client authentication; public clients send only their id. */
  async function authenticate(c: Context, form: Form): Promise<OAuthClient | Response> {
    let id = form.client_id;
    let secret = form.client_secret;
    const header = c.req.header("authorization");
    if (header?.toLowerCase().startsWith("basic ")) {
      try {
        const decoded = atob(header.slice(6).trim());
        const colon = decoded.indexOf(":");
        id = decodeURIComponent(decoded.slice(0, colon));
        secret = decodeURIComponent(decoded.slice(colon + 1));
      } catch {
        return oauthError(c, 401, "invalid_client", "Malformed Basic authorization header.");
      }
    }
    const client = await resolveClient(id);
    if ("error" in client) return oauthError(c, 401, "invalid_client", "Unknown client.");
    if (client.secretHash) {
      if (!secret || !(await safeEqual(await sha256Hex(secret), client.secretHash))) {
        return oauthError(c, 401, "invalid_client", "Client authentication failed.");
      }
    } else if (secret) {
      return oauthError(c, 401, "invalid_client", "This public client has no secret.");
    }
    return client;
  }

  function redirectWith(c: Context, uri: string, params: Record<string, string | null>) {
    const url = new URL(uri);
    for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
    url.searchParams.set("iss", deps.issuer());
    return c.redirect(url.toString(), 302);
  }

  async function approve(c: Context, request: AuthorizationRequest, clientKind: string) {
    const code = await store.issueCode(request);
    log.info("oauth_code_issued", { client: request.clientId, kind: clientKind });
    return redirectWith(c, request.redirectUri, { code, state: request.state });
  }

  function mount(app: Hono<{ Variables: { principal: string } }>): void {
    const protectedResource = (c: Context) =>
      c.json({
        resource: resource(),
        authorization_servers: [deps.issuer()],
        scopes_supported: [SCOPE],
        bearer_methods_supported: ["header"],
        resource_name: "OpenClaw MCP",
      });
    app.get("/.well-known/oauth-protected-resource", protectedResource);
    app.get("/.well-known/oauth-protected-resource/mcp", protectedResource);
    app.get("/.well-known/oauth-authorization-server", (c) => {
      const issuer = deps.issuer();
      const methods = ["client_secret_post", "client_secret_basic", "none"];
      return c.json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        revocation_endpoint: `${issuer}/revoke`,
        ...(auth.allowDcr ? { registration_endpoint: `${issuer}/register` } : {}),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: methods,
        revocation_endpoint_auth_methods_supported: methods,
        scopes_supported: [SCOPE],
        authorization_response_iss_parameter_supported: true,
        // True only when such client ids are accepted, so clients fall back to DCR otherwise.
        client_id_metadata_document_supported: auth.allowCimd,
      });
    });

    for (const path of ["/authorize", "/token", "/revoke", "/register"]) {
      app.use(path, bodyLimit({ maxSize: 64 * 1024 }));
    }

    app.get("/authorize", async (c) => {
      // Each request may store a consent or a code, and a CIMD id costs a fetch: throttle first.
      const rate = authorizeLimit.take(addressOf(c));
      if (!rate.ok) {
        return retryPage(
          c,
          429,
          errorPage(
            "Too many requests",
            `Too many sign-in requests from your address; try again ${
              whenText(rate.retryAfterSeconds, now() + rate.retryAfterSeconds * 1000)
            }.`,
          ),
          rate.retryAfterSeconds,
        );
      }
      const q = c.req.query();
      for (const field of ["client_id", "redirect_uri"] as const) {
        if ((q[field]?.length ?? 0) > MAX_URI_LENGTH) {
          return html(
            c,
            errorPage(
              "Request refused",
              `${field} is longer than ${MAX_URI_LENGTH} characters, so this sign-in link is not valid.`,
            ),
            400,
          );
        }
      }
      const client = await resolveClient(q.client_id);
      if ("error" in client) {
        return html(
          c,
          errorPage("Unknown application", `This sign-in link is not valid: ${client.error}.`),
          400,
        );
      }
      const redirectUri = q.redirect_uri ??
        (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
      if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
        return html(
          c,
          errorPage(
            "Redirect not allowed",
            "The redirect_uri is not registered for this application, so you will not be sent there.",
          ),
          400,
        );
      }
      // An oversized state is not echoed back: it is what an attacker would store.
      const state = q.state !== undefined && q.state.length <= MAX_STATE_LENGTH ? q.state : null;
      const fail = (error: string, description: string) =>
        redirectWith(c, redirectUri, { error, error_description: description, state });
      if (q.state !== undefined && q.state.length > MAX_STATE_LENGTH) {
        return fail("invalid_request", `state is longer than ${MAX_STATE_LENGTH} characters`);
      }
      if (q.response_type !== "code") {
        return fail("unsupported_response_type", "response_type must be code");
      }
      if (!q.code_challenge) return fail("invalid_request", "code_challenge (PKCE) is required");
      if (q.code_challenge_method !== "S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
      }
      if (!/^[A-Za-z0-9_-]{43,128}$/.test(q.code_challenge)) {
        return fail("invalid_request", "code_challenge is not a base64url SHA-256 value");
      }
      if (q.resource && q.resource.replace(/\/+$/, "") !== resource()) {
        return fail("invalid_target", `resource must be ${resource()}`);
      }
      const scopes = (q.scope ?? SCOPE).split(" ").filter(Boolean);
      if (scopes.some((s) => s !== SCOPE)) {
        return fail("invalid_scope", `the only scope is ${SCOPE}`);
      }
      const request: AuthorizationRequest = {
        clientId: client.clientId,
        redirectUri,
        challenge: q.code_challenge,
        resource: resource(),
        scope: SCOPE,
        state,
      };
      if (!(await store.admitAuthorization(limits.maxPendingAuthorizations))) {
        log.warn("oauth_authorize_window_full", { max: limits.maxPendingAuthorizations });
        return redirectWith(c, redirectUri, {
          error: "temporarily_unavailable",
          error_description: "too many sign-ins are pending on this server; try again in a minute",
          state,
        });
      }
      if (client.kind === "static") return await approve(c, request, client.kind);
      const consent = await store.createConsent(request);
      setCookie(c, CONSENT_COOKIE, consent.cookie, {
        httpOnly: true,
        sameSite: "Strict",
        secure: deps.issuer().startsWith("https:"),
        path: "/authorize",
        maxAge: 600,
      });
      return html(
        c,
        consentPage({
          consentId: consent.id,
          clientName: client.name,
          clientId: client.clientId,
          redirectUri,
        }),
      );
    });

    app.post("/authorize", async (c) => {
      const form = await readForm(c);
      const id = form.consent_id;
      const cookie = getCookie(c, CONSENT_COOKIE);
      if (!id || !cookie) {
        return html(
          c,
          errorPage(
            "Request refused",
            "The form's CSRF token is missing; start again from your application.",
          ),
          403,
        );
      }
      const consent = await store.getConsent(id);
      if (!consent) {
        return html(
          c,
          errorPage(
            "Approval expired",
            "This approval page expired; start again from your application.",
          ),
          400,
        );
      }
      if (!(await safeEqual(await sha256Hex(cookie), consent.cookieHash))) {
        return html(
          c,
          errorPage(
            "Request refused",
            "The form's CSRF token does not match; start again from your application.",
          ),
          403,
        );
      }
      const request = consent.request;
      if (form.action === "deny") {
        await store.endConsent(id);
        return redirectWith(c, request.redirectUri, {
          error: "access_denied",
          error_description: "the owner denied access",
          state: request.state,
        });
      }
      if (!auth.ownerPassword) {
        return html(
          c,
          errorPage(
            "Approval unavailable",
            "No owner password is set: set MCP_OWNER_PASSWORD on the server to approve applications.",
          ),
          503,
        );
      }
      if (!passwordLimit.take(addressOf(c)).ok) {
        return html(
          c,
          errorPage(
            "Too many attempts",
            "Too many password attempts; wait a minute and try again.",
          ),
          429,
        );
      }
      const ownerLocked = (retryAt: number) => {
        const seconds = Math.max(1, Math.ceil((retryAt - now()) / 1000));
        return retryPage(
          c,
          429,
          errorPage(
            "Password locked",
            `The owner password is locked after repeated wrong attempts; try again ${
              whenText(seconds, retryAt)
            }. Your password was not checked.`,
          ),
          seconds,
        );
      };
      // Refuse while locked before spending one of this page's attempts.
      const lockedUntil = await owner.lockedUntil();
      if (lockedUntil) return ownerLocked(lockedUntil);
      const attempt = await store.reserveConsentAttempt(id, limits.consentAttempts);
      if (!attempt.ok) {
        if (attempt.reason === "gone") {
          return html(
            c,
            errorPage(
              "Approval expired",
              "This approval page expired; start again from your application.",
            ),
            400,
          );
        }
        await store.endConsent(id);
        return html(
          c,
          errorPage(
            "Too many attempts",
            "Too many password attempts on this page; start again from your application.",
          ),
          429,
        );
      }
      const turn = await owner.reserve();
      if (!turn.ok) return ownerLocked(turn.retryAt);
      if (!(await safeEqual(form.password ?? "", auth.ownerPassword))) {
        log.warn("oauth_consent_bad_password", {
          client: request.clientId,
          failures: attempt.attempt,
        });
        if (attempt.attempt >= limits.consentAttempts) {
          await store.endConsent(id);
          return html(
            c,
            errorPage(
              "Too many attempts",
              "Too many wrong passwords; start again from your application.",
            ),
            429,
          );
        }
        const client = await resolveClient(request.clientId);
        return html(
          c,
          consentPage({
            consentId: id,
            clientName: "error" in client ? request.clientId : client.name,
            clientId: request.clientId,
            redirectUri: request.redirectUri,
            error: "Wrong password.",
          }),
          401,
        );
      }
      await owner.reset();
      await store.endConsent(id);
      // Consent is only shown to DCR and CIMD clients; a DCR client leaves the unapproved pool.
      if (!looksLikeCimd(request.clientId)) {
        const approval = await store.approveClient(request.clientId, limits);
        if (approval !== "approved") {
          log.warn("oauth_client_not_approved", { client: request.clientId, reason: approval });
          return html(
            c,
            approval === "full"
              ? errorPage(
                "Approval unavailable",
                `The server already has ${limits.maxApproved} approved applications; unused ones expire after ${
                  Math.round(limits.approvedIdleMs / 86_400_000)
                } days.`,
              )
              : errorPage(
                "Registration expired",
                "This application's registration expired before it was approved; start again from your application.",
              ),
            approval === "full" ? 503 : 400,
          );
        }
      }
      return await approve(c, request, "consent");
    });

    app.post("/token", async (c) => {
      const form = await readForm(c);
      const client = await authenticate(c, form);
      if (client instanceof Response) return client;
      const headers = { "cache-control": "no-store", pragma: "no-cache" };
      const issue = (t: { accessToken: string; refreshToken: string; expiresIn: number }) =>
        c.json(
          {
            access_token: t.accessToken,
            token_type: "Bearer",
            expires_in: t.expiresIn,
            refresh_token: t.refreshToken,
            scope: SCOPE,
          },
          200,
          headers,
        );
      if (form.grant_type === "authorization_code") {
        if (!form.code || !form.code_verifier || !form.redirect_uri) {
          return oauthError(
            c,
            400,
            "invalid_request",
            "code, redirect_uri and code_verifier are required",
          );
        }
        const record = await store.redeemCode(form.code);
        if (record === "replayed") {
          log.warn("oauth_code_replayed", { client: client.clientId });
          return oauthError(
            c,
            400,
            "invalid_grant",
            "The code was already used; tokens issued with it are revoked.",
          );
        }
        if (record === "invalid" || record.clientId !== client.clientId) {
          return oauthError(c, 400, "invalid_grant", "The code is invalid or expired.");
        }
        if (record.redirectUri !== form.redirect_uri) {
          return oauthError(
            c,
            400,
            "invalid_grant",
            "redirect_uri does not match the authorization request.",
          );
        }
        if (!(await safeEqual(await s256(form.code_verifier), record.challenge))) {
          return oauthError(
            c,
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge.",
          );
        }
        if (form.resource && form.resource.replace(/\/+$/, "") !== record.resource) {
          return oauthError(c, 400, "invalid_target", `resource must be ${record.resource}`);
        }
        const tokens = await store.issueTokens(
          {
            clientId: client.clientId,
            family: record.family,
            resource: record.resource,
            scope: record.scope,
          },
          ttls,
        );
        if (client.kind === "dcr") await store.touchClient(client.clientId, limits);
        log.info("oauth_tokens_issued", { client: client.clientId, grant: "authorization_code" });
        return issue(tokens);
      }
      if (form.grant_type === "refresh_token") {
        if (!form.refresh_token) {
          return oauthError(c, 400, "invalid_request", "refresh_token is required");
        }
        const result = await store.rotateRefresh(form.refresh_token, client.clientId, ttls);
        if (result === "reused") {
          log.warn("oauth_refresh_reused", { client: client.clientId });
          return oauthError(
            c,
            400,
            "invalid_grant",
            "The refresh token was already used; its family is revoked.",
          );
        }
        if (result === "invalid") {
          return oauthError(
            c,
            400,
            "invalid_grant",
            "The refresh token is invalid, expired or revoked.",
          );
        }
        if (client.kind === "dcr") await store.touchClient(client.clientId, limits);
        return issue(result);
      }
      return oauthError(
        c,
        400,
        "unsupported_grant_type",
        "grant_type must be authorization_code or refresh_token",
      );
    });

    app.post("/revoke", async (c) => {
      const form = await readForm(c);
      const client = await authenticate(c, form);
      if (client instanceof Response) return client;
      if (!form.token) return oauthError(c, 400, "invalid_request", "token is required");
      await store.revoke(form.token, client.clientId);
      return c.body(null, 200);
    });

    app.post("/register", async (c) => {
      if (!auth.allowDcr) {
        return oauthError(
          c,
          404,
          "registration_disabled",
          "Dynamic client registration is off; the server owner can set MCP_ALLOW_DCR=true.",
        );
      }
      const address = addressOf(c);
      if (!registerLimit.take(address).ok) {
        return oauthError(
          c,
          429,
          "too_many_requests",
          "Too many registrations; retry in a minute.",
        );
      }
      let meta: Record<string, unknown>;
      try {
        meta = await c.req.json();
      } catch {
        return oauthError(
          c,
          400,
          "invalid_client_metadata",
          "The body must be JSON client metadata.",
        );
      }
      const uris = meta.redirect_uris;
      if (
        !Array.isArray(uris) || uris.length === 0 || uris.length > 10 ||
        !uris.every((u) => typeof u === "string" && u.length <= MAX_URI_LENGTH && isSafeRedirect(u))
      ) {
        return oauthError(
          c,
          400,
          "invalid_redirect_uri",
          `redirect_uris must list 1-10 https (or loopback http) URLs of at most ${MAX_URI_LENGTH} characters.`,
        );
      }
      const method = (meta.token_endpoint_auth_method ?? "client_secret_basic") as AuthMethod;
      if (!["none", "client_secret_post", "client_secret_basic"].includes(method)) {
        return oauthError(
          c,
          400,
          "invalid_client_metadata",
          "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic.",
        );
      }
      const grants = (meta.grant_types ?? ["authorization_code", "refresh_token"]) as unknown[];
      if (
        !Array.isArray(grants) ||
        grants.some((g) => g !== "authorization_code" && g !== "refresh_token")
      ) {
        return oauthError(
          c,
          400,
          "invalid_client_metadata",
          "grant_types may be authorization_code and refresh_token.",
        );
      }
      // Stored already neutralised, so logs and pages never see hidden controls.
      const name = (typeof meta.client_name === "string"
        ? displayText(meta.client_name).slice(0, MAX_CLIENT_NAME_LENGTH).trim()
        : "") || "Unnamed application";
      const registered = await store.registerClient(
        {
          redirectUris: uris as string[],
          name,
          authMethod: method,
          registeredBy: await sha256Hex(address),
        },
        limits,
      );
      if (registered === "address_full") {
        return oauthError(
          c,
          429,
          "too_many_requests",
          `Your address has ${limits.maxPendingPerAddress} registrations awaiting approval; approve one or wait until they expire (${
            Math.round(limits.pendingTtlMs / 60_000)
          } min).`,
          60,
        );
      }
      if (registered === "busy") {
        return oauthError(
          c,
          503,
          "temporarily_unavailable",
          "Registration is busy; retry in a few seconds.",
          5,
        );
      }
      log.info("oauth_client_registered", { client: registered.client.clientId, method });
      return c.json(
        {
          client_id: registered.client.clientId,
          ...(registered.secret
            ? { client_secret: registered.secret, client_secret_expires_at: 0 }
            : {}),
          client_id_issued_at: Math.floor(now() / 1000),
          client_name: name,
          redirect_uris: uris,
          token_endpoint_auth_method: method,
          grant_types: grants,
          response_types: ["code"],
        },
        201,
        { "cache-control": "no-store" },
      );
    });
  }

  return {
    mount,
    resource,
    resourceMetadataUrl: () => `${deps.issuer()}/.well-known/oauth-protected-resource/mcp`,
    verify: (token) => store.lookup(token, "access"),
  };
}
