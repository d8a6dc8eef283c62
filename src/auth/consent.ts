/**
 * `POST /authorize`: the owner's answer on the consent page. Deny redirects
 * back with `access_denied`; approve needs the owner password, whose every
 * attempt is counted in KV before it is checked (per consent page, and per
 * owner across all pages, addresses and replicas), plus a per-address rate
 * in this process. The CSRF form token must match its HttpOnly cookie.
 *
 * While the owner-wide lock is on, the owner's recognised browser (the
 * owner-device cookie set after an approval with the password) may still try
 * the password: per page as usual, and within its own budget
 * ({@linkcode OWNER_DEVICE_ATTEMPTS} an hour) instead of the owner-wide one.
 *
 * The page's "Owner access" box (`owner_access=yes`) makes the grant an owner
 * grant: it is read only from this form, and only on an approval with the
 * right password, so it cannot be set without the password, replayed (the
 * consent ends on approval) or moved to another client (the code is for the
 * consent's own request).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { generateCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import { TokenBuckets } from "../token_bucket.ts";
import { CONSENT_COOKIE } from "./authorize.ts";
import { looksLikeCimd } from "./cimd.ts";
import { resolveClient } from "./clients.ts";
import { issueCode, type OAuthContext, type OAuthLimits, redirectBack } from "./context.ts";
import { safeEqual, sha256Hex } from "./crypto.ts";
import { parseFields, readForm } from "./form.ts";
import { OWNER_DEVICE_ATTEMPTS, OWNER_DEVICE_TTL_MS } from "./lockout.ts";
import { OAuthError, OAuthErrorCode, oauthErrorParams } from "./oauth_error.ts";
import { consentPage, errorPage, pageResponse, whenText } from "./pages.ts";
import type { AuthorizationRequest } from "./store.ts";

/** The cookie by which the owner's browser is recognised after an approval from it. */
export const OWNER_DEVICE_COOKIE = "openclaw_owner_device";

/**
 * The `Set-Cookie` value that recognises the owner's browser by `token`, sent
 * back only to `path` (the consent page's, or the operator sign-in's).
 */
export function ownerDeviceCookie(token: string, secure: boolean, path = "/authorize"): string {
  return generateCookie(OWNER_DEVICE_COOKIE, token, {
    httpOnly: true,
    sameSite: "Strict",
    secure,
    path,
    maxAge: OWNER_DEVICE_TTL_MS / 1000,
  });
}

/** The consent form; a missing form token is refused as CSRF below, not here. */
const ConsentForm = z.object({
  consent_id: z.string().optional(),
  // Anything but "deny" asks to approve, as the page's default button does.
  action: z.string().default("approve"),
  password: z.string().default(""),
  // The "Owner access" checkbox: absent unless ticked.
  owner_access: z.literal("yes", "owner_access must be yes when sent").optional(),
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
  return lockedPage(
    ctx,
    retryAt,
    "The owner password is locked after repeated wrong attempts",
  );
}

/** A 429 for the owner's browser once its own attempts during the lock are spent. */
function deviceLocked(ctx: OAuthContext, retryAt: number): Response {
  return lockedPage(
    ctx,
    retryAt,
    `The owner password is locked, and this browser has used its ${OWNER_DEVICE_ATTEMPTS} attempts for the hour`,
  );
}

/** The "Password locked" 429 page: `why`, then when to try again; Retry-After until `retryAt`. */
function lockedPage(ctx: OAuthContext, retryAt: number, why: string): Response {
  const seconds = Math.max(1, Math.ceil((retryAt - ctx.now()) / 1000));
  return pageResponse(
    errorPage(
      "Password locked",
      `${why}; try again ${whenText(seconds, retryAt)}. Your password was not checked.`,
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
    const turn = await reserveAttempt(ctx, c, answer.id);
    if (turn instanceof Response) return turn;
    if (!(await safeEqual(answer.form.password, password))) {
      return await wrongPassword(ctx, answer, turn.attempt);
    }
    return await approve(ctx, c, answer, turn);
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
    ...oauthErrorParams(new OAuthError(OAuthErrorCode.AccessDenied, "the owner denied access")),
    state: request.state,
  });
}

/** A password attempt that may be checked. */
interface Turn {
  /** The attempt's number on this consent page. */
  attempt: number;
  /** The owner's browser it came through while the owner lock was on, or null. */
  device: Deno.KvKey | null;
}

/**
 * Counts a password attempt, on this consent page and then on the owner's
 * lockout (or, while it is locked, on the owner's recognised browser), before
 * the password is looked at; returns the turn, or the page refusing it.
 */
async function reserveAttempt(ctx: OAuthContext, c: Context, id: string): Promise<Turn | Response> {
  // Refuse while locked before spending one of this page's attempts, unless
  // this is the owner's browser. Without a lock its cookie is not read.
  const lockedUntil = await ctx.owner.lockedUntil();
  const device = lockedUntil
    ? await ctx.devices.recognise(getCookie(c, OWNER_DEVICE_COOKIE))
    : null;
  if (lockedUntil && !device) return ownerLocked(ctx, lockedUntil);
  const attempt = await ctx.store.reserveConsentAttempt(id, ctx.limits.consentAttempts);
  if (!attempt.ok) {
    if (attempt.reason === "gone") return expired();
    await ctx.store.endConsent(id);
    return tooMany(
      "Too many password attempts on this page; start again from your application.",
    );
  }
  if (device) {
    const turn = await ctx.devices.reserve(device);
    if (!turn.ok) {
      ctx.log.warn("oauth_owner_device_spent", { attempts: OWNER_DEVICE_ATTEMPTS });
      return deviceLocked(ctx, turn.retryAt);
    }
    return { attempt: attempt.attempt, device };
  }
  const turn = await ctx.owner.reserve();
  if (!turn.ok) return ownerLocked(ctx, turn.retryAt);
  return { attempt: attempt.attempt, device: null };
}

/** A wrong password: the consent page again, or its end after its last attempt. */
async function wrongPassword(
  ctx: OAuthContext,
  { id, form, request }: Answer,
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
      ownerAccess: form.owner_access === "yes",
      error: "Wrong password.",
    }),
    401,
  );
}

/**
 * The right password: the client is approved and gets its code, and the
 * browser is recognised as the owner's (a fresh token each time). The
 * owner-wide count starts again, unless the approval came through the
 * owner's browser during a lock: someone is guessing, and stays locked.
 */
async function approve(
  ctx: OAuthContext,
  c: Context,
  { id, form, request }: Answer,
  turn: Turn,
): Promise<Response> {
  if (!turn.device) await ctx.owner.reset();
  const previous = turn.device ?? await ctx.devices.recognise(getCookie(c, OWNER_DEVICE_COOKIE));
  await ctx.store.endConsent(id);
  const response = await approved(ctx, request, form.owner_access === "yes");
  if (response.status === 302) {
    if (previous) await ctx.devices.forget(previous);
    const token = await ctx.devices.issue();
    response.headers.append(
      "set-cookie",
      ownerDeviceCookie(token, ctx.issuer().startsWith("https:")),
    );
  }
  return response;
}

/**
 * Approves a DCR client (CIMD clients are not stored) and issues the code,
 * an owner grant when the owner ticked the box.
 */
async function approved(
  ctx: OAuthContext,
  request: AuthorizationRequest,
  owner: boolean,
): Promise<Response> {
  // Consent is only shown to DCR and CIMD clients; a DCR client leaves the unapproved pool.
  if (!looksLikeCimd(request.clientId)) {
    const approval = await ctx.store.approveClient(request.clientId, ctx.limits);
    if (approval !== "approved") {
      ctx.log.warn("oauth_client_not_approved", { client: request.clientId, reason: approval });
      return notApproved(ctx.limits, approval);
    }
  }
  return await issueCode(ctx, request, "consent", owner);
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
