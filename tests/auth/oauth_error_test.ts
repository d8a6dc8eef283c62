/** `oauth_error.ts`: one RFC 6749 §5.2 body, the status per `error`, and the redirect form. */
import assert from "node:assert/strict";
import {
  OAuthError,
  OAuthErrorCode,
  oauthErrorParams,
  oauthErrorResponse,
  REGISTRATION_DISABLED,
} from "../../src/auth/oauth_error.ts";

Deno.test("oauth error: body, status, no-store and Retry-After", async () => {
  const response = oauthErrorResponse(
    new OAuthError(OAuthErrorCode.InvalidGrant, "The code is invalid or expired."),
  );
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("retry-after"), null);
  assert.deepEqual(await response.json(), {
    error: "invalid_grant",
    error_description: "The code is invalid or expired.",
  });
  const busy = oauthErrorResponse(
    new OAuthError(OAuthErrorCode.TemporarilyUnavailable, "busy"),
    5,
  );
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "5");
  await busy.body?.cancel();
});

Deno.test("oauth error: statuses per error code, ours included", async () => {
  const cases: [OAuthError, number, string][] = [
    [new OAuthError(OAuthErrorCode.InvalidClient, "x"), 401, "invalid_client"],
    [new OAuthError(OAuthErrorCode.TooManyRequests, "x"), 429, "too_many_requests"],
    [new OAuthError(REGISTRATION_DISABLED, "x"), 404, "registration_disabled"],
    [new OAuthError(OAuthErrorCode.InvalidRedirectUri, "x"), 400, "invalid_redirect_uri"],
  ];
  for (const [error, status, code] of cases) {
    const response = oauthErrorResponse(error);
    assert.equal(response.status, status, code);
    assert.equal((await response.json()).error, code);
  }
});

Deno.test("oauth error: as redirect parameters", () => {
  assert.deepEqual(oauthErrorParams(new OAuthError(OAuthErrorCode.InvalidGrant, "nope")), {
    error: "invalid_grant",
    error_description: "nope",
  });
});
