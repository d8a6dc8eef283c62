/**
 * `POST /revoke` (RFC 7009): an authenticated client revokes one of its
 * tokens. Unknown tokens and other clients' tokens are answered 200 too,
 * so the endpoint tells nothing about tokens it did not issue to the caller.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { authenticateClient } from "./clients.ts";
import type { OAuthContext } from "./context.ts";
import { parseFields, readForm } from "./form.ts";
import { InvalidClientError, InvalidRequestError, oauthErrorResponse } from "./oauth_error.ts";

/** RFC 7009 §2.1; `token_type_hint` is accepted and not needed (tokens are looked up by hash). */
const RevokeForm = z.object({
  token: z.string("token is required").min(1, "token is required"),
  token_type_hint: z.string().optional(),
});

/** The `POST /revoke` route. */
export function revokeRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  app.post("/revoke", async function revoke(c: Context) {
    const form = await readForm(c);
    const client = await authenticateClient(ctx, c.req.header("authorization"), form);
    if (client instanceof InvalidClientError) return oauthErrorResponse(client);
    const parsed = parseFields(RevokeForm, form);
    if (!parsed.ok) return oauthErrorResponse(new InvalidRequestError(parsed.message));
    await ctx.store.revoke(parsed.value.token, client.clientId);
    return new Response(null, { status: 200 });
  });
  return app;
}
