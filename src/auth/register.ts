/**
 * `POST /register`: dynamic client registration (RFC 7591), when
 * `MCP_ALLOW_DCR` is on. The body is the MCP SDK's client metadata schema,
 * narrowed to what this server accepts: 1-10 https (or loopback http)
 * redirect URIs, the three client authentication methods, and the two
 * grants. A new client is unapproved until the owner approves it on the
 * consent page; registrations are rate-limited and capped per address.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { OAuthClientMetadataSchema } from "@modelcontextprotocol/core";
import { TokenBuckets } from "../token_bucket.ts";
import { MAX_CLIENT_NAME_LENGTH, type OAuthContext, type OAuthLimits } from "./context.ts";
import { sha256Hex } from "./crypto.ts";
import { parseFields } from "./form.ts";
import {
  OAuthError,
  OAuthErrorCode,
  oauthErrorResponse,
  REGISTRATION_DISABLED,
} from "./oauth_error.ts";
import { displayText } from "./pages.ts";
import { isSafeRedirect } from "./redirect_policy.ts";
import { MAX_URI_LENGTH, type OAuthClient, type RegisterRefusal } from "./store.ts";

const REDIRECT_URIS_RULE =
  `redirect_uris must list 1-10 https (or loopback http) URLs of at most ${MAX_URI_LENGTH} characters.`;

/** The registration request: the SDK's RFC 7591 schema with our narrower fields. */
export const RegistrationRequest = OAuthClientMetadataSchema.extend({
  redirect_uris: z.array(
    z.string(REDIRECT_URIS_RULE).max(MAX_URI_LENGTH, REDIRECT_URIS_RULE).refine(
      isSafeRedirect,
      REDIRECT_URIS_RULE,
    ),
    REDIRECT_URIS_RULE,
  ).min(1, REDIRECT_URIS_RULE).max(10, REDIRECT_URIS_RULE),
  token_endpoint_auth_method: z.enum(
    ["none", "client_secret_post", "client_secret_basic"],
    "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic.",
  ).default("client_secret_basic"),
  grant_types: z.array(
    z.enum(["authorization_code", "refresh_token"]),
    "grant_types may be authorization_code and refresh_token.",
  ).default(["authorization_code", "refresh_token"]),
});

/** The `POST /register` route. */
export function registerRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  const rate = new TokenBuckets(ctx.limits.registerPerMinute, ctx.now);

  app.post("/register", async function register(c: Context) {
    if (!ctx.auth.allowDcr) return registrationDisabled();
    const address = ctx.addressOf(c);
    if (!rate.take(address).ok) {
      return oauthErrorResponse(
        new OAuthError(
          OAuthErrorCode.TooManyRequests,
          "Too many registrations; retry in a minute.",
        ),
      );
    }
    const meta = await readMetadata(c);
    if (meta instanceof Response) return meta;
    const name = clientName(meta.client_name);
    const registered = await ctx.store.registerClient(
      {
        redirectUris: meta.redirect_uris,
        name,
        authMethod: meta.token_endpoint_auth_method,
        registeredBy: await sha256Hex(address),
      },
      ctx.limits,
    );
    if (typeof registered === "string") return registrationRefused(ctx.limits, registered);
    ctx.log.info("oauth_client_registered", {
      client: registered.client.clientId,
      method: meta.token_endpoint_auth_method,
    });
    return registrationResponse(ctx, { ...registered, meta, name });
  });
  return app;
}

/** The client metadata a registration sends. */
type Metadata = z.infer<typeof RegistrationRequest>;

const registrationDisabled = () =>
  oauthErrorResponse(
    new OAuthError(
      REGISTRATION_DISABLED,
      "Dynamic client registration is off; the server owner can set MCP_ALLOW_DCR=true.",
    ),
  );

/** The body as client metadata; or the OAuth error refusing it. */
async function readMetadata(c: Context): Promise<Metadata | Response> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return oauthErrorResponse(
      new OAuthError(
        OAuthErrorCode.InvalidClientMetadata,
        "The body must be JSON client metadata.",
      ),
    );
  }
  const parsed = parseFields(RegistrationRequest, body);
  if (!parsed.ok) {
    return oauthErrorResponse(
      parsed.field === "redirect_uris"
        ? new OAuthError(OAuthErrorCode.InvalidRedirectUri, REDIRECT_URIS_RULE)
        : new OAuthError(OAuthErrorCode.InvalidClientMetadata, parsed.message),
    );
  }
  return parsed.value;
}

/** The name to store: stored already neutralised, so logs and pages never see hidden controls. */
function clientName(asked: string | undefined): string {
  return displayText(asked ?? "").slice(0, MAX_CLIENT_NAME_LENGTH).trim() ||
    "Unnamed application";
}

/** Why the store refused the registration, as an OAuth error with a `Retry-After`. */
function registrationRefused(limits: OAuthLimits, refusal: RegisterRefusal): Response {
  if (refusal === "address_full") {
    return oauthErrorResponse(
      new OAuthError(
        OAuthErrorCode.TooManyRequests,
        `Your address has ${limits.maxPendingPerAddress} registrations awaiting approval; approve one or wait until they expire (${
          Math.round(limits.pendingTtlMs / 60_000)
        } min).`,
      ),
      60,
    );
  }
  return oauthErrorResponse(
    new OAuthError(
      OAuthErrorCode.TemporarilyUnavailable,
      "Registration is busy; retry in a few seconds.",
    ),
    5,
  );
}

/** What {@linkcode registrationResponse} tells the client. */
interface Registered {
  /** The client as stored (unapproved until the owner consents). */
  client: OAuthClient;
  /** Its secret in plaintext, shown this once; null for a public client. */
  secret: string | null;
  /** The metadata it registered with. */
  meta: Metadata;
  /** The name stored for it. */
  name: string;
}

/** The 201 registration response (RFC 7591 §3.2.1). */
function registrationResponse(
  ctx: OAuthContext,
  { client, secret, meta, name }: Registered,
): Response {
  return Response.json({
    client_id: client.clientId,
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: Math.floor(ctx.now() / 1000),
    client_name: name,
    redirect_uris: meta.redirect_uris,
    token_endpoint_auth_method: meta.token_endpoint_auth_method,
    grant_types: meta.grant_types,
    response_types: ["code"],
  }, { status: 201, headers: { "cache-control": "no-store" } });
}
