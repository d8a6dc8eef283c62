/**
 * Who a client is: the pre-registered client, a dynamically registered one,
 * or a Client ID Metadata Document; and client authentication at the token
 * and revocation endpoints (RFC 6749 §2.3).
 *
 * @module
 */
import { looksLikeCimd } from "./cimd.ts";
import type { OAuthContext } from "./context.ts";
import { safeEqual, sha256Hex } from "./crypto.ts";
import type { Context } from "hono";
import { type Form, readForm } from "./form.ts";
import { OAuthError, OAuthErrorCode, oauthErrorResponse } from "./oauth_error.ts";
import type { OAuthClient } from "./store.ts";

/** The client with id `id`, or why there is none (a sentence for people). */
export async function resolveClient(
  ctx: OAuthContext,
  id: string | undefined,
): Promise<OAuthClient | { error: string }> {
  const { auth } = ctx;
  if (!id) return { error: "client_id is missing" };
  if (auth.clientId && id === auth.clientId) {
    return {
      clientId: id,
      secretHash: await ctx.staticSecretHash,
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
    return await ctx.cimd.resolve(id);
  }
  return (await ctx.store.getClient(id)) ?? { error: "unknown client_id" };
}

/**
 * Authenticates the client of a token or revocation request: HTTP Basic
 * (`authorization` header) or `client_id`/`client_secret` in the form;
 * public clients send only their id.
 */
export async function authenticateClient(
  ctx: OAuthContext,
  authorization: string | undefined,
  form: Form,
): Promise<OAuthClient | OAuthError> {
  let id = form.client_id;
  let secret = form.client_secret;
  if (authorization?.toLowerCase().startsWith("basic ")) {
    try {
      const decoded = atob(authorization.slice(6).trim());
      const colon = decoded.indexOf(":");
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } catch {
      return new OAuthError(OAuthErrorCode.InvalidClient, "Malformed Basic authorization header.");
    }
  }
  const client = await resolveClient(ctx, id);
  if ("error" in client) return new OAuthError(OAuthErrorCode.InvalidClient, "Unknown client.");
  if (client.secretHash) {
    if (!secret || !(await safeEqual(await sha256Hex(secret), client.secretHash))) {
      return new OAuthError(OAuthErrorCode.InvalidClient, "Client authentication failed.");
    }
  } else if (secret) {
    return new OAuthError(OAuthErrorCode.InvalidClient, "This public client has no secret.");
  }
  return client;
}

/** Reads a token or revocation request and authenticates its client; or the 401 refusing it. */
export async function clientRequest(
  ctx: OAuthContext,
  c: Context,
): Promise<{ client: OAuthClient; form: Form } | Response> {
  const form = await readForm(c);
  const client = await authenticateClient(ctx, c.req.header("authorization"), form);
  return client instanceof OAuthError ? oauthErrorResponse(client) : { client, form };
}
