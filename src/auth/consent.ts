/**
 * `POST /authorize`: the owner's answer on the consent page. Deny redirects
 * back with `access_denied`; approve needs the owner password, whose every
 * attempt is counted in KV before it is checked (per consent page, and per
 * owner across all pages, addresses and replicas), plus a per-address rate
 * in this process. The CSRF form token must match its HttpOnly cookie.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import { z } from "zod";
import { TokenBuckets } from "../token_bucket.ts";
import { CONSENT_COOKIE } from "./authorize.ts";
import { looksLikeCimd } from "./cimd.ts";
import { resolveClient } from "./clients.ts";
import { issueCode, type OAuthContext, redirectBack } from "./context.ts";
import { safeEqual, sha256Hex } from "./crypto.ts";
import { parseFields, readForm } from "./form.ts";
import { AccessDeniedError, oauthErrorParams } from "./oauth_error.ts";
import { consentPage, errorPage, pageResponse, whenText } from "./pages.ts";

/** The consent form; a missing form token is refused as CSRF below, not here. */
const ConsentForm = z.object({
  consent_id: z.string().optional(),
  // Anything but "deny" asks to approve, as the page's default button does.
  action: z.string().default("approve"),
  password: z.string().default(""),
});

const expired = () =>
  pageResponse(
    errorPage("Approval expired", "This approval page expired; start again from your application."),
    400,
  );

const refused = (message: string) => pageResponse(errorPage("Request refused", message), 403);

const tooMany = (message: string) => pageResponse(errorPage("Too many attempts", message), 429);

/** The `POST /authorize` route. */
export function consentRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  const { store, limits, log } = ctx;
  const passwordLimit = new TokenBuckets(limits.passwordPerMinute, ctx.now);

  /** A 429 while the owner password is locked; the password was not looked at. */
  const ownerLocked = (retryAt: number) => {
    const seconds = Math.max(1, Math.ceil((retryAt - ctx.now()) / 1000));
    return pageResponse(
      errorPage(
        "Password locked",
        `The owner password is locked after repeated wrong attempts; try again ${
          whenText(seconds, retryAt)
        }. Your password was not checked.`,
      ),
      429,
      seconds,
    );
  };

  app.post("/authorize", async function consent(c: Context) {
    const parsed = parseFields(ConsentForm, await readForm(c));
    if (!parsed.ok) return refused(`${parsed.message}; start again from your application.`);
    const form = parsed.value;
    const id = form.consent_id;
    const cookie = getCookie(c, CONSENT_COOKIE);
    if (!id || !cookie) {
      return refused("The form's CSRF token is missing; start again from your application.");
    }
    const consent = await store.getConsent(id);
    if (!consent) return expired();
    if (!(await safeEqual(await sha256Hex(cookie), consent.cookieHash))) {
      return refused("The form's CSRF token does not match; start again from your application.");
    }
    const request = consent.request;
    if (form.action === "deny") {
      await store.endConsent(id);
      return redirectBack(ctx, request.redirectUri, {
        ...oauthErrorParams(new AccessDeniedError("the owner denied access")),
        state: request.state,
      });
    }
    if (!ctx.auth.ownerPassword) {
      return pageResponse(
        errorPage(
          "Approval unavailable",
          "No owner password is set: set MCP_OWNER_PASSWORD on the server to approve applications.",
        ),
        503,
      );
    }
    if (!passwordLimit.take(ctx.addressOf(c)).ok) {
      return tooMany("Too many password attempts; wait a minute and try again.");
    }
    // Refuse while locked before spending one of this page's attempts.
    const lockedUntil = await ctx.owner.lockedUntil();
    if (lockedUntil) return ownerLocked(lockedUntil);
    const attempt = await store.reserveConsentAttempt(id, limits.consentAttempts);
    if (!attempt.ok) {
      if (attempt.reason === "gone") return expired();
      await store.endConsent(id);
      return tooMany(
        "Too many password attempts on this page; start again from your application.",
      );
    }
    const turn = await ctx.owner.reserve();
    if (!turn.ok) return ownerLocked(turn.retryAt);
    if (!(await safeEqual(form.password, ctx.auth.ownerPassword))) {
      log.warn("oauth_consent_bad_password", {
        client: request.clientId,
        failures: attempt.attempt,
      });
      if (attempt.attempt >= limits.consentAttempts) {
        await store.endConsent(id);
        return tooMany("Too many wrong passwords; start again from your application.");
      }
      const client = await resolveClient(ctx, request.clientId);
      return pageResponse(
        consentPage({
          consentId: id,
          clientName: "error" in client ? request.clientId : client.name,
          clientId: request.clientId,
          redirectUri: request.redirectUri,
          error: "Wrong password.",
        }),
        401,
      );
    }
    await ctx.owner.reset();
    await store.endConsent(id);
    // Consent is only shown to DCR and CIMD clients; a DCR client leaves the unapproved pool.
    if (!looksLikeCimd(request.clientId)) {
      const approval = await store.approveClient(request.clientId, limits);
      if (approval !== "approved") {
        log.warn("oauth_client_not_approved", { client: request.clientId, reason: approval });
        return approval === "full"
          ? pageResponse(
            errorPage(
              "Approval unavailable",
              `The server already has ${limits.maxApproved} approved applications; unused ones expire after ${
                Math.round(limits.approvedIdleMs / 86_400_000)
              } days.`,
            ),
            503,
          )
          : pageResponse(
            errorPage(
              "Registration expired",
              "This application's registration expired before it was approved; start again from your application.",
            ),
            400,
          );
      }
    }
    return await issueCode(ctx, request, "consent");
  });
  return app;
}
