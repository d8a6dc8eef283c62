/**
 * The one error family of the OAuth endpoints, shaped like RFC 6749 §5.2
 * (`{error, error_description}`): the MCP SDK's `OAuthError` classes, plus
 * the two codes RFC 7591 and this server add, and the one place that turns
 * any of them into a response or into redirect parameters.
 *
 * @module
 */
// The SDK's "./*" export maps types to "*.js.d.ts", which does not exist.
// @ts-types="@modelcontextprotocol/sdk/server/auth/errors"
import { OAuthError } from "@modelcontextprotocol/sdk/server/auth/errors.js";

// @ts-types="@modelcontextprotocol/sdk/server/auth/errors"
export {
  AccessDeniedError,
  InvalidClientError,
  InvalidClientMetadataError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  OAuthError,
  TemporarilyUnavailableError,
  TooManyRequestsError,
  UnsupportedGrantTypeError,
  UnsupportedResponseTypeError,
} from "@modelcontextprotocol/sdk/server/auth/errors.js";

/** RFC 7591 §3.2.2: a redirect URI of a registration is refused. */
export class InvalidRedirectUriError extends OAuthError {
  /** The RFC 7591 code sent as the body's `error`. */
  static override errorCode = "invalid_redirect_uri";
}

/** Dynamic client registration is switched off (`MCP_ALLOW_DCR`). */
export class RegistrationDisabledError extends OAuthError {
  /** Our own code (RFC 7591 has none for this), sent as the body's `error`. */
  static override errorCode = "registration_disabled";
}

/** HTTP status per `error`; anything else is a 400 (RFC 6749 §5.2). */
const STATUS: Readonly<Record<string, 401 | 404 | 429 | 503>> = {
  invalid_client: 401,
  registration_disabled: 404,
  too_many_requests: 429,
  temporarily_unavailable: 503,
};

/** The HTTP status an OAuth error is sent with. */
export function oauthStatus(error: OAuthError): number {
  return STATUS[error.errorCode] ?? 400;
}

/**
 * The JSON response for an OAuth error: its status, `cache-control:
 * no-store`, and `Retry-After` when the client should come back later.
 *
 * @example
 * ```ts ignore
 * return oauthErrorResponse(new InvalidGrantError("The code is invalid or expired."));
 * ```
 */
export function oauthErrorResponse(error: OAuthError, retryAfterSeconds?: number): Response {
  return Response.json(error.toResponseObject(), {
    status: oauthStatus(error),
    headers: {
      "cache-control": "no-store",
      ...(retryAfterSeconds ? { "retry-after": String(retryAfterSeconds) } : {}),
    },
  });
}

/** The error as query parameters of a redirect back to the client (RFC 6749 §4.1.2.1). */
export function oauthErrorParams(error: OAuthError): { error: string; error_description: string } {
  return { error: error.errorCode, error_description: error.message };
}
