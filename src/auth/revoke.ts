/**
 * `POST /revoke` (RFC 7009): an authenticated client revokes one of its
 * tokens. Unknown tokens and other clients' tokens are answered 200 too,
 * so the endpoint tells nothing about tokens it did not issue to the caller.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { clientRequest } from "./clients.ts";
import type { OAuthContext } from "./context.ts";
import { parseFields } from "./form.ts";
import { OAuthError, OAuthErrorCode, oauthErrorResponse } from "./oauth_error.ts";

/** RFC 7009 §2.1; `token_type_hint` is accepted and not needed (tokens are looked up by hash). */
const RevokeForm = z.object({
  token: z.string("token is required").min(1, "token is required"),
  token_type_hint: z.string().optional(),
});

/** The `POST /revoke` route. */
export function revokeRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  app.post("/revoke", async function revoke(c: Context) {
    const request = await clientRequest(ctx, c);
    if (request instanceof Response) return request;
    const parsed = parseFields(RevokeForm, request.form);
    if (!parsed.ok) {
      return oauthErrorResponse(new OAuthError(OAuthErrorCode.InvalidRequest, parsed.message));
    }
    await ctx.store.revoke(parsed.value.token, request.client.clientId);
    return new Response(null, { status: 200 });
  });
  return app;
}
