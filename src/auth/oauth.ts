/**
 * The OAuth 2.1 authorization server built into the bridge, as a Hono app
 * to mount with `app.route("/", oauth.app)`: metadata (RFC 8414, RFC 9728),
 * `/authorize` with PKCE S256 and a consent page, `/token`
 * (authorization_code, refresh_token with rotation), `/revoke` (RFC 7009),
 * dynamic registration (RFC 7591) and Client ID Metadata Documents. Each
 * endpoint is a module of its own; they share an {@linkcode OAuthContext}.
 * State lives in Deno KV, so it survives restarts and is shared by replicas.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "../log.ts";
import { authorizeRoutes } from "./authorize.ts";
import { consentRoutes } from "./consent.ts";
import {
  MAX_OAUTH_BODY_BYTES,
  type OAuthContext,
  oauthContext,
  type OAuthDeps,
} from "./context.ts";
import { metadataRoutes } from "./metadata.ts";
import { registerRoutes } from "./register.ts";
import { revokeRoutes } from "./revoke.ts";
import type { TokenRecord } from "./store.ts";
import { tokenRoutes } from "./token.ts";

export {
  MAX_CLIENT_NAME_LENGTH,
  MAX_DCR_CLIENTS,
  MAX_PASSWORD_FAILURES,
  OAUTH_LIMITS,
  type OAuthContext,
  type OAuthDeps,
  type OAuthLimits,
  SCOPE,
} from "./context.ts";

/** The authorization server: its routes, and what `/mcp` needs to check its tokens. */
export interface OAuthServer {
  /** The OAuth routes; mount with `app.route("/", oauth.app)`. */
  app: Hono;
  /** The live access token's record, if there is one (its resource is not checked here). */
  verify(token: string): Promise<TokenRecord | null>;
  /** This server's resource identifier: `<issuer>/mcp`. */
  resource(): string;
  /** URL of the protected-resource metadata for /mcp. */
  resourceMetadataUrl(): string;
}

/**
 * Creates the authorization server.
 *
 * @example
 * ```ts ignore
 * const oauth = createOAuth({ config, kv, issuer: () => "https://mcp.example.com", log });
 * app.route("/", oauth.app);
 * ```
 */
export function createOAuth(deps: OAuthDeps): OAuthServer {
  const ctx: OAuthContext = oauthContext(deps);
  const { auth } = ctx;
  if ((auth.allowDcr || auth.allowCimd) && !auth.ownerPassword) {
    // The Node server approved such clients silently; here the owner must, with a password.
    ctx.log.warn("oauth_no_owner_password", {
      message:
        "MCP_ALLOW_DCR/MCP_ALLOW_CIMD is on but MCP_OWNER_PASSWORD is not set: new clients cannot be approved until it is",
    });
  }
  const app = new Hono();
  for (const path of ["/authorize", "/token", "/revoke", "/register"]) {
    app.use(path, logRefusals(ctx.log), bodyLimit({ maxSize: MAX_OAUTH_BODY_BYTES }));
  }
  app.route("/", metadataRoutes(ctx));
  app.route("/", authorizeRoutes(ctx));
  app.route("/", consentRoutes(ctx));
  app.route("/", tokenRoutes(ctx));
  app.route("/", revokeRoutes(ctx));
  app.route("/", registerRoutes(ctx));
  return {
    app,
    resource: ctx.resource,
    resourceMetadataUrl: () => `${deps.issuer()}/.well-known/oauth-protected-resource/mcp`,
    verify: (token) => ctx.store.lookup(token, "access"),
  };
}

/**
 * Logs `oauth_refused` (debug: a flood must not flood the log) with the
 * endpoint, the reason and the status of every refused request, whichever
 * of the endpoint's many refusals answered it: one place, seen from the
 * outside, so metrics count refusals by reason without a call at each.
 */
function logRefusals(log: Logger): MiddlewareHandler {
  return async function refusals(c, next) {
    await next();
    const reason = await refusalReason(c.res);
    if (reason) {
      log.debug("oauth_refused", {
        endpoint: c.req.path.slice(1),
        reason,
        status: c.res.status,
      });
    }
  };
}

/** The reason of a refusal shown as a page (before a redirect URI is trusted), by status. */
const PAGE_REASONS: Readonly<Record<number, string>> = {
  400: "invalid_request",
  401: "access_denied",
  403: "access_denied",
  413: "invalid_request",
  429: "too_many_requests",
  503: "temporarily_unavailable",
};

/**
 * Why a response refuses its request, in OAuth's words: the `error` of a
 * redirect back to the client or of a JSON body, else (an HTML page, a body
 * limit) one read from the status; null when it refuses nothing.
 */
async function refusalReason(response: Response): Promise<string | null> {
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get("location");
    return location ? URL.parse(location)?.searchParams.get("error") ?? null : null;
  }
  if (response.status < 400) return null;
  if (response.headers.get("content-type")?.includes("json")) {
    const body = await response.clone().json().catch(() => null);
    if (typeof body?.error === "string") return body.error;
  }
  return PAGE_REASONS[response.status] ?? "other";
}
