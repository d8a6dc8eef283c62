/**
 * `POST /token` (RFC 6749 §3.2): the authorization_code grant with PKCE
 * S256 and the refresh_token grant with rotation. A replayed code or a
 * reused refresh token revokes everything issued from that login.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { clientRequest } from "./clients.ts";
import { type OAuthContext, SCOPE } from "./context.ts";
import { s256, safeEqual } from "./crypto.ts";
import { type Form, parseFields } from "./form.ts";
import { OAuthError, OAuthErrorCode, oauthErrorResponse } from "./oauth_error.ts";
import type { IssuedTokens, OAuthClient } from "./store.ts";

/** A form field that must be present and not empty. */
const required = (name: string) => z.string(`${name} is required`).min(1, `${name} is required`);

const GrantType = z.object({
  grant_type: z.enum(
    ["authorization_code", "refresh_token"],
    "grant_type must be authorization_code or refresh_token",
  ),
});

/** RFC 6749 §4.1.3 plus PKCE (RFC 7636 §4.5) and the resource indicator (RFC 8707). */
const AuthorizationCodeGrant = z.object({
  code: required("code"),
  redirect_uri: required("redirect_uri"),
  code_verifier: required("code_verifier"),
  resource: z.string().optional(),
});

/** RFC 6749 §6. */
const RefreshTokenGrant = z.object({ refresh_token: required("refresh_token") });

const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

function tokenResponse(tokens: IssuedTokens): Response {
  return Response.json({
    access_token: tokens.accessToken,
    token_type: "Bearer",
    expires_in: tokens.expiresIn,
    refresh_token: tokens.refreshToken,
    scope: SCOPE,
  }, { headers: NO_STORE });
}

/** The `invalid_grant` refusal: the code or refresh token cannot be redeemed. */
function invalidGrant(message: string): Response {
  return oauthErrorResponse(new OAuthError(OAuthErrorCode.InvalidGrant, message));
}

/** The `POST /token` route. */
export function tokenRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  app.post("/token", async function token(c: Context) {
    const request = await clientRequest(ctx, c);
    if (request instanceof Response) return request;
    const grant = parseFields(GrantType, request.form);
    if (!grant.ok) {
      return oauthErrorResponse(new OAuthError(OAuthErrorCode.UnsupportedGrantType, grant.message));
    }
    return grant.value.grant_type === "authorization_code"
      ? await authorizationCode(ctx, request)
      : await refreshToken(ctx, request);
  });
  return app;
}

/** An authenticated client's token request. */
interface TokenRequest {
  /** The client, authenticated. */
  client: OAuthClient;
  /** The request's form fields. */
  form: Form;
}

/** The authorization_code grant: a code is redeemed once, by the client and verifier it names. */
async function authorizationCode(
  ctx: OAuthContext,
  { client, form }: TokenRequest,
): Promise<Response> {
  const { store, log } = ctx;
  const parsed = parseFields(AuthorizationCodeGrant, form);
  if (!parsed.ok) {
    return oauthErrorResponse(new OAuthError(OAuthErrorCode.InvalidRequest, parsed.message));
  }
  const grant = parsed.value;
  const record = await store.redeemCode(grant.code);
  if (record === "replayed") {
    log.warn("oauth_code_replayed", { client: client.clientId });
    return invalidGrant("The code was already used; tokens issued with it are revoked.");
  }
  if (record === "invalid" || record.clientId !== client.clientId) {
    return invalidGrant("The code is invalid or expired.");
  }
  if (record.redirectUri !== grant.redirect_uri) {
    return invalidGrant("redirect_uri does not match the authorization request.");
  }
  if (!(await safeEqual(await s256(grant.code_verifier), record.challenge))) {
    return invalidGrant("code_verifier does not match the code_challenge.");
  }
  if (grant.resource && grant.resource.replace(/\/+$/, "") !== record.resource) {
    return oauthErrorResponse(
      new OAuthError(OAuthErrorCode.InvalidTarget, `resource must be ${record.resource}`),
    );
  }
  const tokens = await store.issueTokens(
    {
      clientId: client.clientId,
      family: record.family,
      resource: record.resource,
      scope: record.scope,
      owner: record.owner === true,
    },
    ctx.ttls,
  );
  if (client.kind === "dcr") await store.touchClient(client.clientId, ctx.limits);
  log.info("oauth_tokens_issued", { client: client.clientId, grant: "authorization_code" });
  return tokenResponse(tokens);
}

/** The refresh_token grant: a new pair for the old refresh token, which is used up. */
async function refreshToken(
  ctx: OAuthContext,
  { client, form }: TokenRequest,
): Promise<Response> {
  const parsed = parseFields(RefreshTokenGrant, form);
  if (!parsed.ok) {
    return oauthErrorResponse(new OAuthError(OAuthErrorCode.InvalidRequest, parsed.message));
  }
  const result = await ctx.store.rotateRefresh(
    parsed.value.refresh_token,
    client.clientId,
    ctx.ttls,
  );
  if (result === "reused") {
    ctx.log.warn("oauth_refresh_reused", { client: client.clientId });
    return invalidGrant("The refresh token was already used; its family is revoked.");
  }
  if (result === "invalid") {
    return invalidGrant("The refresh token is invalid, expired or revoked.");
  }
  if (client.kind === "dcr") await ctx.store.touchClient(client.clientId, ctx.limits);
  ctx.log.info("oauth_tokens_issued", { client: client.clientId, grant: "refresh_token" });
  return tokenResponse(result);
}
