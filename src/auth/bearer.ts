/**
 * Bearer authentication for `/mcp`: static tokens (`MCP_AUTH_TOKENS`) and,
 * with OAuth on, access tokens issued by our authorization server, whose
 * audience must be this resource. Sets `principal`, the owner of the
 * caller's tasks. Every 401 says where to discover how to authenticate: in
 * its `WWW-Authenticate` challenge and in the body's `hint`.
 *
 * Hono's `bearerAuth` parses the header (RFC 6750 `Bearer` + b64token) and
 * answers refusals; `verifyToken` does the rest. Its 400 for a malformed
 * header is answered 401 `invalid_request` here, as RFC 6750 §3.1 allows and
 * as clients already expect of this server.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import type { ErrorBody } from "../errors.ts";
import type { TokenRecord } from "./store.ts";
import { sha256Bytes, sha256Hex } from "./crypto.ts";

/** What the middleware checks tokens against. */
export interface BearerOptions {
  /** `MCP_AUTH_TOKENS`; a caller's tasks are owned by the {@linkcode tokenId} of its token. */
  staticTokens: string[];
  /** The OAuth server, when enabled. */
  oauth?: {
    verify(token: string): Promise<TokenRecord | null>;
    resource(): string;
    resourceMetadataUrl(): string;
  };
}

/** A short, stable, non-secret id for a static token: the owner of its tasks. */
export async function tokenId(token: string): Promise<string> {
  return "token:" + (await sha256Hex(token)).slice(0, 16);
}

const SEND_BEARER = "Send Authorization: Bearer <token>.";
const INVALID = "The token is invalid, expired or revoked";
const OTHER_RESOURCE = "The token is for another resource";

/**
 * A 401 body: the one error body of routes outside JSON-RPC
 * (`{error, message, hint}`), its `error` the RFC 6750 §3.1 code that the
 * challenge carries too.
 */
type BearerErrorBody = Omit<ErrorBody, "code"> & {
  error: "unauthorized" | "invalid_request" | "invalid_token";
};

/**
 * Creates the `/mcp` authentication middleware.
 *
 * @example
 * ```ts ignore
 * app.use("/mcp", await mcpBearer({ staticTokens: ["a-long-random-token"], oauth }));
 * ```
 */
export async function mcpBearer(options: BearerOptions): Promise<MiddlewareHandler> {
  const { oauth } = options;
  const digests = await Promise.all(options.staticTokens.map(sha256Bytes));
  /** Why a token was refused, for the 401 of this request. */
  const refusals = new WeakMap<Context, string>();
  const challenge = (error?: string, description?: string) => {
    const parts = ['Bearer realm="openclaw-mcp"'];
    if (oauth) {
      parts.push(`resource_metadata="${oauth.resourceMetadataUrl()}"`, 'scope="mcp:tools"');
    }
    if (error) parts.push(`error="${error}"`);
    if (description) parts.push(`error_description="${description}"`);
    return parts.join(", ");
  };
  // Where a client gets a token it may send: what a 401's hint says. Asked
  // per request, like the challenge: the metadata URL may follow the request.
  const getToken = () =>
    oauth
      ? `Get an access token through OAuth: the resource metadata at ${oauth.resourceMetadataUrl()} names the authorization server${
        options.staticTokens.length ? ", or use a token from the server's MCP_AUTH_TOKENS" : ""
      }.`
      : "Use one of the server's MCP_AUTH_TOKENS (its operator has them).";
  const refusal = (error: BearerErrorBody["error"], message: string, hint = getToken()) =>
    Response.json({ error, message, hint } satisfies BearerErrorBody, { status: 401 });

  async function verifyToken(token: string, c: Context): Promise<boolean> {
    const mine = await sha256Bytes(token);
    // Compare against every static token, in constant time, whether or not one matched.
    let isStatic = false;
    for (const d of digests) isStatic = timingSafeEqual(d, mine) || isStatic;
    if (isStatic) {
      c.set("principal", await tokenId(token));
      return true;
    }
    const record = oauth ? await oauth.verify(token) : null;
    if (record && record.resource === oauth!.resource()) {
      c.set("principal", `oauth:${record.clientId}:${record.family}`);
      return true;
    }
    refusals.set(c, record ? OTHER_RESOURCE : INVALID);
    return false;
  }

  const check = bearerAuth({
    verifyToken,
    noAuthenticationHeader: {
      wwwAuthenticateHeader: () => challenge(),
      message: () => refusal("unauthorized", SEND_BEARER),
    },
    invalidAuthenticationHeader: {
      wwwAuthenticateHeader: () => challenge("invalid_request"),
      message: () => refusal("invalid_request", SEND_BEARER),
    },
    invalidToken: {
      wwwAuthenticateHeader: (c) => challenge("invalid_token", refusals.get(c) ?? INVALID),
      message: (c) => {
        const why = refusals.get(c) ?? INVALID;
        const hint = why === OTHER_RESOURCE
          ? `Ask the authorization server for a token with resource=${oauth!.resource()}.`
          : getToken();
        return refusal("invalid_token", `${why}.`, hint);
      },
    },
  });

  return async function bearer(c, next) {
    try {
      return await check(c, next);
    } catch (error) {
      // bearerAuth throws its refusals; answer them here, whatever the app's onError does.
      if (error instanceof HTTPException) return error.getResponse();
      throw error;
    }
  };
}
