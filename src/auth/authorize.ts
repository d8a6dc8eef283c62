/**
 * `GET /authorize` (RFC 6749 §4.1.1 with PKCE S256): checks the client and
 * its redirect URI, then either redirects back with a code (the
 * pre-registered client) or shows the owner a consent page, answered by
 * `POST /authorize` (`consent.ts`).
 *
 * Until the redirect URI is verified, refusals are error pages that never
 * redirect; after it, they go back to the client as OAuth errors.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { setCookie } from "hono/cookie";
import { z } from "zod";
import { TokenBuckets } from "../token_bucket.ts";
import { resolveClient } from "./clients.ts";
import { issueCode, type OAuthContext, redirectBack, SCOPE } from "./context.ts";
import { parseFields } from "./form.ts";
import { OAuthError, OAuthErrorCode, oauthErrorParams } from "./oauth_error.ts";
import { consentPage, errorPage, pageResponse, whenText } from "./pages.ts";
import {
  type AuthorizationRequest,
  MAX_STATE_LENGTH,
  MAX_URI_LENGTH,
  type OAuthClient,
} from "./store.ts";

/** The cookie that binds a consent form to the browser that asked (CSRF). */
export const CONSENT_COOKIE = "openclaw_consent";

/** The fields checked before anything is trusted: too long, and the link is refused. */
const LinkQuery = z.object({
  client_id: z.string().max(
    MAX_URI_LENGTH,
    `client_id is longer than ${MAX_URI_LENGTH} characters`,
  ).optional(),
  redirect_uri: z.string().max(
    MAX_URI_LENGTH,
    `redirect_uri is longer than ${MAX_URI_LENGTH} characters`,
  ).optional(),
});

/** The OAuth error a refused field of the request gets; the rest are `invalid_request`. */
const ERROR_OF_FIELD: Readonly<Record<string, OAuthErrorCode>> = {
  response_type: OAuthErrorCode.UnsupportedResponseType,
  resource: OAuthErrorCode.InvalidTarget,
  scope: OAuthErrorCode.InvalidScope,
};

/** The authorization request's own fields, checked once the redirect URI is trusted. */
function requestQuery(ctx: OAuthContext) {
  return z.object({
    state: z.string().max(
      MAX_STATE_LENGTH,
      `state is longer than ${MAX_STATE_LENGTH} characters`,
    ).optional(),
    response_type: z.literal("code", "response_type must be code"),
    code_challenge: z.string("code_challenge (PKCE) is required")
      .min(1, "code_challenge (PKCE) is required")
      .regex(/^[A-Za-z0-9_-]{43,128}$/, "code_challenge is not a base64url SHA-256 value"),
    code_challenge_method: z.literal("S256", "code_challenge_method must be S256"),
    resource: z.string().optional().refine(
      (r) => !r || r.replace(/\/+$/, "") === ctx.resource(),
      { error: () => `resource must be ${ctx.resource()}` },
    ),
    scope: z.string().optional().refine(
      (s) => (s ?? SCOPE).split(" ").filter(Boolean).every((one) => one === SCOPE),
      `scope may only be ${SCOPE}`,
    ),
  });
}

/** The `GET /authorize` route. */
export function authorizeRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  const limit = new TokenBuckets(ctx.limits.authorizePerMinute, ctx.now);
  const schema = requestQuery(ctx);

  app.get("/authorize", async function authorize(c: Context) {
    // Each request may store a consent or a code, and a CIMD id costs a fetch: throttle first.
    const rate = limit.take(ctx.addressOf(c));
    if (!rate.ok) return tooManyRequests(ctx, rate.retryAfterSeconds);
    const query = c.req.query();
    const client = await linkedClient(ctx, query);
    if (client instanceof Response) return client;
    const redirectUri = registeredRedirect(client, query.redirect_uri);
    if (!redirectUri) return redirectNotAllowed();
    const request = validRequest(ctx, query, { schema, client, redirectUri });
    if (request instanceof Response) return request;
    const busy = await admission(ctx, request);
    if (busy) return busy;
    if (client.kind === "static") return await issueCode(ctx, request, client.kind);
    return await askConsent(ctx, c, { client, request });
  });
  return app;
}

/** A 429 page: this address asked too often; come back in `retryAfterSeconds`. */
function tooManyRequests(ctx: OAuthContext, retryAfterSeconds: number): Response {
  const when = whenText(retryAfterSeconds, ctx.now() + retryAfterSeconds * 1000);
  return pageResponse(
    errorPage(
      "Too many requests",
      `Too many sign-in requests from your address; try again ${when}.`,
    ),
    429,
    retryAfterSeconds,
  );
}

/** The client the link names, once the link's fields are sane; or the page refusing the link. */
async function linkedClient(
  ctx: OAuthContext,
  query: Record<string, string>,
): Promise<OAuthClient | Response> {
  const link = parseFields(LinkQuery, query);
  if (!link.ok) {
    return pageResponse(
      errorPage("Request refused", `${link.message}, so this sign-in link is not valid.`),
      400,
    );
  }
  const client = await resolveClient(ctx, query.client_id);
  if ("error" in client) {
    return pageResponse(
      errorPage("Unknown application", `This sign-in link is not valid: ${client.error}.`),
      400,
    );
  }
  return client;
}

/** The redirect URI asked for (or the client's only one), if the client registered it. */
function registeredRedirect(client: OAuthClient, asked: string | undefined): string | undefined {
  const redirectUri = asked ??
    (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  return redirectUri && client.redirectUris.includes(redirectUri) ? redirectUri : undefined;
}

/** A 400 page that never redirects: the redirect URI is not the client's. */
function redirectNotAllowed(): Response {
  return pageResponse(
    errorPage(
      "Redirect not allowed",
      "The redirect_uri is not registered for this application, so you will not be sent there.",
    ),
    400,
  );
}

/** What {@linkcode validRequest} checks the query against, besides the query itself. */
interface RequestCheck {
  /** The request fields' schema ({@linkcode requestQuery}). */
  schema: ReturnType<typeof requestQuery>;
  /** The client the link names. */
  client: OAuthClient;
  /** Its verified redirect URI. */
  redirectUri: string;
}

/** The authorization request the query asks for; or the OAuth error sent back to the client. */
function validRequest(
  ctx: OAuthContext,
  query: Record<string, string>,
  { schema, client, redirectUri }: RequestCheck,
): AuthorizationRequest | Response {
  // An oversized state is not echoed back: it is what an attacker would store.
  const state = query.state !== undefined && query.state.length <= MAX_STATE_LENGTH
    ? query.state
    : null;
  const parsed = parseFields(schema, query);
  if (!parsed.ok) {
    const code = ERROR_OF_FIELD[parsed.field] ?? OAuthErrorCode.InvalidRequest;
    const error = new OAuthError(code, parsed.message);
    return redirectBack(ctx, redirectUri, { ...oauthErrorParams(error), state });
  }
  return {
    clientId: client.clientId,
    redirectUri,
    challenge: parsed.value.code_challenge,
    resource: ctx.resource(),
    scope: SCOPE,
    state,
  };
}

/**
 * Admits the request into the window of pending sign-ins (null), or sends
 * the client back `temporarily_unavailable` while the window is full.
 */
async function admission(
  ctx: OAuthContext,
  request: AuthorizationRequest,
): Promise<Response | null> {
  if (await ctx.store.admitAuthorization(ctx.limits.maxPendingAuthorizations)) return null;
  ctx.log.warn("oauth_authorize_window_full", { max: ctx.limits.maxPendingAuthorizations });
  const busy = new OAuthError(
    OAuthErrorCode.TemporarilyUnavailable,
    "too many sign-ins are pending on this server; try again in a minute",
  );
  return redirectBack(ctx, request.redirectUri, {
    ...oauthErrorParams(busy),
    state: request.state,
  });
}

/** Stores the request as a consent, bound to this browser by a cookie, and shows its page. */
async function askConsent(
  ctx: OAuthContext,
  c: Context,
  { client, request }: { client: OAuthClient; request: AuthorizationRequest },
): Promise<Response> {
  const consent = await ctx.store.createConsent(request);
  setCookie(c, CONSENT_COOKIE, consent.cookie, {
    httpOnly: true,
    sameSite: "Strict",
    secure: ctx.issuer().startsWith("https:"),
    path: "/authorize",
    maxAge: 600,
  });
  const page = consentPage({
    consentId: consent.id,
    clientName: client.name,
    clientId: client.clientId,
    redirectUri: request.redirectUri,
  });
  // c.body, not a bare Response: it carries the cookie set above.
  return c.body(page.html, 200, page.headers);
}
