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
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import type { ErrorBody } from "../errors.ts";
import type { TokenRecord } from "./store.ts";
import { matchesAny, sha256Bytes, sha256Hex } from "./crypto.ts";

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

/** The principal of an OAuth access token: its client and its family (one login). */
export function oauthPrincipal(record: Pick<TokenRecord, "clientId" | "family">): string {
  return `oauth:${record.clientId}:${record.family}`;
}

/**
 * The client and family of an {@linkcode oauthPrincipal}, or null for any
 * other principal. The family is after the last colon (a CIMD client id is
 * a URL, and has colons of its own).
 */
export function oauthGrantOf(principal: string): { clientId: string; family: string } | null {
  if (!principal.startsWith("oauth:")) return null;
  const at = principal.lastIndexOf(":");
  if (at <= "oauth:".length) return null;
  return { clientId: principal.slice("oauth:".length, at), family: principal.slice(at + 1) };
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
  const digests = await Promise.all(options.staticTokens.map(sha256Bytes));
  /** Why a token was refused, for the 401 of this request. */
  const refusals = new WeakMap<Context, string>();
  const check = bearerAuth({
    verifyToken: tokenVerifier(options.oauth, { digests, refusals }),
    ...refusalAnswers(options, refusals),
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

/** What {@linkcode tokenVerifier} checks against, and where it says why it refused. */
interface VerifierState {
  /** SHA-256 of each static token. */
  digests: Uint8Array[];
  /** Why a token was refused, for the 401 of this request. */
  refusals: WeakMap<Context, string>;
}

/** `verifyToken` for bearerAuth: a static token, else an OAuth token for this resource. */
function tokenVerifier(
  oauth: BearerOptions["oauth"],
  { digests, refusals }: VerifierState,
): (token: string, c: Context) => Promise<boolean> {
  return async function verifyToken(token: string, c: Context): Promise<boolean> {
    if (await matchesAny(digests, token)) {
      c.set("principal", await tokenId(token));
      return true;
    }
    const record = oauth ? await oauth.verify(token) : null;
    if (record && record.resource === oauth!.resource()) {
      c.set("principal", oauthPrincipal(record));
      return true;
    }
    refusals.set(c, record ? OTHER_RESOURCE : INVALID);
    return false;
  };
}

/** bearerAuth's three refusals: each a 401 with its challenge and a body that says what to do. */
function refusalAnswers(options: BearerOptions, refusals: WeakMap<Context, string>) {
  const { oauth } = options;
  return {
    noAuthenticationHeader: {
      wwwAuthenticateHeader: () => challenge(oauth),
      message: () => refusal({ error: "unauthorized", message: SEND_BEARER }, options),
    },
    invalidAuthenticationHeader: {
      wwwAuthenticateHeader: () => challenge(oauth, { error: "invalid_request" }),
      message: () => refusal({ error: "invalid_request", message: SEND_BEARER }, options),
    },
    invalidToken: {
      wwwAuthenticateHeader: (c: Context) =>
        challenge(oauth, { error: "invalid_token", description: refusals.get(c) ?? INVALID }),
      message: (c: Context) => {
        const why = refusals.get(c) ?? INVALID;
        const hint = why === OTHER_RESOURCE
          ? `Ask the authorization server for a token with resource=${oauth!.resource()}.`
          : tokenHint(options);
        return refusal({ error: "invalid_token", message: `${why}.`, hint }, options);
      },
    },
  };
}

/**
 * The `WWW-Authenticate` challenge; with OAuth on, it names the resource
 * metadata, asked per request like the hint.
 */
function challenge(
  oauth: BearerOptions["oauth"],
  { error, description }: { error?: string; description?: string } = {},
): string {
  const parts = ['Bearer realm="openclaw-mcp"'];
  if (oauth) {
    parts.push(`resource_metadata="${oauth.resourceMetadataUrl()}"`, 'scope="mcp:tools"');
  }
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${description}"`);
  return parts.join(", ");
}

/**
 * Where a client gets a token it may send: what a 401's hint says. Asked
 * per request, like the challenge: the metadata URL may follow the request.
 */
function tokenHint({ oauth, staticTokens }: BearerOptions): string {
  return oauth
    ? `Get an access token through OAuth: the resource metadata at ${oauth.resourceMetadataUrl()} names the authorization server${
      staticTokens.length ? ", or use a token from the server's MCP_AUTH_TOKENS" : ""
    }.`
    : "Use one of the server's MCP_AUTH_TOKENS (its operator has them).";
}

/** A 401 with its body; the hint is {@linkcode tokenHint} unless the body brings its own. */
function refusal(
  { error, message, hint }: Omit<BearerErrorBody, "hint"> & { hint?: string },
  options: BearerOptions,
): Response {
  return Response.json(
    { error, message, hint: hint ?? tokenHint(options) } satisfies BearerErrorBody,
    { status: 401 },
  );
}
