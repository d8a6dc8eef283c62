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
import { issueCode, type OAuthContext, type OAuthLimits, redirectBack } from "./context.ts";
import { safeEqual, sha256Hex } from "./crypto.ts";
import { parseFields, readForm } from "./form.ts";
import { AccessDeniedError, oauthErrorParams } from "./oauth_error.ts";
import { consentPage, errorPage, pageResponse, whenText } from "./pages.ts";
import type { AuthorizationRequest } from "./store.ts";

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

const approvalUnavailable = () =>
  pageResponse(
    errorPage(
      "Approval unavailable",
      "No owner password is set: set MCP_OWNER_PASSWORD on the server to approve applications.",
    ),
    503,
  );

/** A 429 while the owner password is locked; the password was not looked at. */
function ownerLocked(ctx: OAuthContext, retryAt: number): Response {
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
}

/** The `POST /authorize` route. */
export function consentRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  const passwordLimit = new TokenBuckets(ctx.limits.passwordPerMinute, ctx.now);

  app.post("/authorize", async function consent(c: Context) {
    const answer = await csrfChecked(ctx, c);
    if (answer instanceof Response) return answer;
    if (answer.form.action === "deny") return await deny(ctx, answer);
    const password = ctx.auth.ownerPassword;
    if (!password) return approvalUnavailable();
    if (!passwordLimit.take(ctx.addressOf(c)).ok) {
      return tooMany("Too many password attempts; wait a minute and try again.");
    }
    const attempt = await reserveAttempt(ctx, answer.id);
    if (attempt instanceof Response) return attempt;
    if (!(await safeEqual(answer.form.password, password))) {
      return await wrongPassword(ctx, answer, attempt);
    }
    return await approve(ctx, answer);
  });
  return app;
}

/** A consent form whose CSRF token matched its cookie, with the request it answers. */
interface Answer {
  /** The consent id (the form token). */
  id: string;
  /** The parsed form. */
  form: z.infer<typeof ConsentForm>;
  /** The authorization request the consent page was shown for. */
  request: AuthorizationRequest;
}

/** Reads the form and checks its CSRF token against the cookie; or the page refusing it. */
async function csrfChecked(ctx: OAuthContext, c: Context): Promise<Answer | Response> {
  const parsed = parseFields(ConsentForm, await readForm(c));
  if (!parsed.ok) return refused(`${parsed.message}; start again from your application.`);
  const form = parsed.value;
  const id = form.consent_id;
  const cookie = getCookie(c, CONSENT_COOKIE);
  if (!id || !cookie) {
    return refused("The form's CSRF token is missing; start again from your application.");
  }
  const consent = await ctx.store.getConsent(id);
  if (!consent) return expired();
  if (!(await safeEqual(await sha256Hex(cookie), consent.cookieHash))) {
    return refused("The form's CSRF token does not match; start again from your application.");
  }
  return { id, form, request: consent.request };
}

/** The owner said no: the consent ends and the client hears `access_denied`. */
async function deny(ctx: OAuthContext, { id, request }: Answer): Promise<Response> {
  await ctx.store.endConsent(id);
  return redirectBack(ctx, request.redirectUri, {
    ...oauthErrorParams(new AccessDeniedError("the owner denied access")),
    state: request.state,
  });
}

/**
 * Counts a password attempt, on this consent page and then on the owner's
 * lockout, before the password is looked at; returns the page's attempt
 * number, or the page refusing the attempt.
 */
async function reserveAttempt(ctx: OAuthContext, id: string): Promise<number | Response> {
  // Refuse while locked before spending one of this page's attempts.
  const lockedUntil = await ctx.owner.lockedUntil();
  if (lockedUntil) return ownerLocked(ctx, lockedUntil);
  const attempt = await ctx.store.reserveConsentAttempt(id, ctx.limits.consentAttempts);
  if (!attempt.ok) {
    if (attempt.reason === "gone") return expired();
    await ctx.store.endConsent(id);
    return tooMany(
      "Too many password attempts on this page; start again from your application.",
    );
  }
  const turn = await ctx.owner.reserve();
  if (!turn.ok) return ownerLocked(ctx, turn.retryAt);
  return attempt.attempt;
}

/** A wrong password: the consent page again, or its end after its last attempt. */
async function wrongPassword(
  ctx: OAuthContext,
  { id, request }: Answer,
  attempt: number,
): Promise<Response> {
  ctx.log.warn("oauth_consent_bad_password", {
    client: request.clientId,
    failures: attempt,
  });
  if (attempt >= ctx.limits.consentAttempts) {
    await ctx.store.endConsent(id);
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

/** The right password: the lockout starts again, the client is approved and gets its code. */
async function approve(ctx: OAuthContext, { id, request }: Answer): Promise<Response> {
  await ctx.owner.reset();
  await ctx.store.endConsent(id);
  // Consent is only shown to DCR and CIMD clients; a DCR client leaves the unapproved pool.
  if (!looksLikeCimd(request.clientId)) {
    const approval = await ctx.store.approveClient(request.clientId, ctx.limits);
    if (approval !== "approved") {
      ctx.log.warn("oauth_client_not_approved", { client: request.clientId, reason: approval });
      return notApproved(ctx.limits, approval);
    }
  }
  return await issueCode(ctx, request, "consent");
}

/** Why a DCR client could not leave the unapproved pool, as a page. */
function notApproved(limits: OAuthLimits, approval: "full" | "gone"): Response {
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
