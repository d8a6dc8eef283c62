/**
 * The one error family of the OAuth endpoints, shaped like RFC 6749 §5.2
 * (`{error, error_description}`): the MCP SDK's `OAuthError` with a code
 * from its `OAuthErrorCode` (RFC 6749, 7591, 8707 and a few more), plus the
 * one code this server adds, and the one place that turns any of them into
 * a response or into redirect parameters.
 *
 * @module
 */
import { OAuthError, OAuthErrorCode } from "@modelcontextprotocol/server";

export { OAuthError, OAuthErrorCode };

/**
 * Our own code (RFC 7591 has none for it): dynamic client registration is
 * switched off (`MCP_ALLOW_DCR`).
 */
export const REGISTRATION_DISABLED = "registration_disabled";

/** Every `error` code an OAuth endpoint may send: RFC 6749 and its extensions, and ours. */
export const OAUTH_ERROR_CODES: readonly string[] = [
  ...Object.values(OAuthErrorCode),
  REGISTRATION_DISABLED,
];

/** HTTP status per `error`; anything else is a 400 (RFC 6749 §5.2). */
const STATUS: Readonly<Record<string, 401 | 404 | 429 | 503>> = {
  [OAuthErrorCode.InvalidClient]: 401,
  [REGISTRATION_DISABLED]: 404,
  [OAuthErrorCode.TooManyRequests]: 429,
  [OAuthErrorCode.TemporarilyUnavailable]: 503,
};

/** The HTTP status an OAuth error is sent with. */
export function oauthStatus(error: OAuthError): number {
  return STATUS[error.code] ?? 400;
}

/**
 * The JSON response for an OAuth error: its status, `cache-control:
 * no-store`, and `Retry-After` when the client should come back later.
 *
 * @example
 * ```ts ignore
 * return oauthErrorResponse(
 *   new OAuthError(OAuthErrorCode.InvalidGrant, "The code is invalid or expired."),
 * );
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
  return { error: error.code, error_description: error.message };
}
