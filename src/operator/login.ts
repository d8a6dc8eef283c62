/**
 * Signing in to the operator page: `GET /operator/login` shows the form,
 * `POST /operator/login` checks the owner password or a static token,
 * `POST /operator/logout` ends the sign-in.
 *
 * A password attempt gets the consent page's protections, with the same
 * records (`src/auth/lockout.ts`): every attempt is counted before the
 * secret is looked at, per form (5), on the owner-wide lockout shared with
 * the consent page (10 free, then a lock doubling up to 15 min, in KV, for
 * every replica) and per address (10 a minute, per process). While the
 * owner lock is on, the owner's recognised browser (the owner-device
 * cookie, here on path `/operator/login`, set by a sign-in from it) still
 * gets its own 5 attempts an hour. A correct secret lifts the count, except
 * through that browser during a lock (someone is guessing).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { generateCookie, getCookie } from "hono/cookie";
import { z } from "zod";
import { OWNER_DEVICE_COOKIE, ownerDeviceCookie } from "../auth/consent.ts";
import { parseFields, readForm } from "../auth/form.ts";
import { OWNER_DEVICE_ATTEMPTS, type OwnerDevices, type OwnerLockout } from "../auth/lockout.ts";
import { whenText } from "../auth/pages.ts";
import type { Logger } from "../log.ts";
import { TokenBuckets } from "../token_bucket.ts";
import { type OperatorAccess, SIGN_IN_COOKIE } from "./access.ts";
import { FORM_ATTEMPTS, FORM_TTL_MS, type LoginForms } from "./login_form.ts";
import { loginPage, pageResponse } from "./page.ts";

/** The login form's cookie (its CSRF half). */
export const FORM_COOKIE = "openclaw_operator_form";
/** Where the sign-in routes live (the owner-device and form cookies' path). */
export const LOGIN_PATH = "/operator/login";
/** Largest form body read. */
const MAX_FORM_BYTES = 16 * 1024;

/** What the sign-in routes need. */
export interface LoginDeps {
  /** The access rules (mode, secrets, sign-ins, cookies). */
  access: OperatorAccess;
  /** The login forms' CSRF tokens and attempt counts. */
  forms: LoginForms;
  /** The owner-wide password lockout shared with the consent page. */
  owner: OwnerLockout;
  /** The owner's recognised browsers. */
  devices: OwnerDevices;
  /** The address group a request counts against. */
  addressOf: (c: Context) => string;
  /** Sign-ins and refusals are logged (never a secret). */
  log: Logger;
  /** Epoch ms clock. */
  now: () => number;
  /** Per-address limits (per minute, per process). */
  limits?: { passwordsPerMinute?: number; pagesPerMinute?: number };
}

const LoginForm = z.object({
  form_id: z.string().max(64).optional(),
  secret: z.string().max(4096).default(""),
});

/** What a refused secret was, as the mode names it. */
const WRONG: Record<OperatorAccess["mode"], string> = {
  password: "Wrong password.",
  token: "Wrong token.",
  password_or_token: "Wrong password or token.",
  loopback: "",
  closed: "",
};

const LogoutForm = z.object({ csrf: z.string().max(64).default("") });

/** A turn to check a secret: through the owner's recognised browser, or not. */
interface Turn {
  /** The attempt's number on this form. */
  attempt: number;
  /** The owner's browser it came through while the owner lock was on, or null. */
  device: Deno.KvKey | null;
}

/** The sign-in and sign-out routes. */
export function loginRoutes(deps: LoginDeps): Hono {
  const { access, forms, log } = deps;
  const app = new Hono();
  const passwords = new TokenBuckets(deps.limits?.passwordsPerMinute ?? 10, deps.now);
  const pages = new TokenBuckets(deps.limits?.pagesPerMinute ?? 30, deps.now);

  /** The form again (a fresh one unless `formId` is still good), with `error`. */
  async function form(
    c: Context,
    options: { status?: number; error?: string; formId?: string; retryAfter?: number } = {},
  ): Promise<Response> {
    const mode = access.mode;
    if (mode === "closed") return pageResponse(loginPage({ mode }), 403);
    let formId = options.formId;
    const headers: Record<string, string> = {};
    if (!formId) {
      const issued = await forms.issue();
      formId = issued.formId;
      headers["set-cookie"] = generateCookie(FORM_COOKIE, issued.cookie, {
        httpOnly: true,
        sameSite: "Strict",
        secure: access.secure(c),
        path: LOGIN_PATH,
        maxAge: FORM_TTL_MS / 1000,
      });
    }
    if (options.retryAfter) headers["retry-after"] = String(options.retryAfter);
    return pageResponse(loginPage({ mode, formId, error: options.error }), options.status, headers);
  }

  const locked = (c: Context, retryAt: number, why: string) => {
    const seconds = Math.max(1, Math.ceil((retryAt - deps.now()) / 1000));
    return form(c, {
      status: 429,
      retryAfter: seconds,
      error: `${why}; try again ${whenText(seconds, retryAt)}. Your password was not checked.`,
    });
  };

  app.get(LOGIN_PATH, async function showLogin(c) {
    if (access.mode === "loopback" || (await access.check(c)).ok) return c.redirect("/", 303);
    if (!pages.take(deps.addressOf(c)).ok) {
      return pageWith(429, "Too many requests for this page; wait a minute.");
    }
    return await form(c);
  });

  app.use(LOGIN_PATH, bodyLimit({ maxSize: MAX_FORM_BYTES }));
  app.post(LOGIN_PATH, async function signIn(c) {
    if (access.mode === "loopback") return c.redirect("/", 303);
    if (access.mode === "closed") return await form(c);
    const parsed = parseFields(LoginForm, await readForm(c));
    const formId = parsed.ok ? parsed.value.form_id : undefined;
    if (!parsed.ok || !(await forms.verify(formId, getCookie(c, FORM_COOKIE)))) {
      return await form(c, {
        status: 403,
        error: "The form expired or its CSRF token did not match; sign in again.",
      });
    }
    if (!passwords.take(deps.addressOf(c)).ok) {
      return await form(c, { status: 429, error: "Too many attempts; wait a minute." });
    }
    const turn = await reserve(c, formId!);
    if (turn instanceof Response) return turn;
    const secret = parsed.value.secret;
    const credential = secret ? await access.credentialOf(secret) : null;
    if (!credential) {
      log.warn("operator_sign_in_refused", { attempt: turn.attempt });
      if (turn.attempt >= FORM_ATTEMPTS) {
        return await form(c, { status: 429, error: "Too many wrong attempts on this form." });
      }
      return await form(c, { status: 401, error: WRONG[access.mode], formId });
    }
    return await signedIn(c, { secret, credential, turn });
  });

  /**
   * Counts the attempt on the form and then on the owner lockout (or, while
   * it is locked, on the owner's recognised browser), before the secret is
   * looked at.
   */
  async function reserve(c: Context, formId: string): Promise<Turn | Response> {
    const lockedUntil = await deps.owner.lockedUntil();
    const device = lockedUntil
      ? await deps.devices.recognise(getCookie(c, OWNER_DEVICE_COOKIE))
      : null;
    if (lockedUntil && !device) {
      return await locked(
        c,
        lockedUntil,
        "The owner password is locked after repeated wrong attempts",
      );
    }
    const attempt = await forms.reserve(formId);
    if (!attempt.ok) {
      return await form(c, { status: 429, error: "Too many wrong attempts on this form." });
    }
    if (device) {
      const turn = await deps.devices.reserve(device);
      if (!turn.ok) {
        log.warn("operator_owner_device_spent", { attempts: OWNER_DEVICE_ATTEMPTS });
        return await locked(
          c,
          turn.retryAt,
          `The owner password is locked, and this browser has used its ${OWNER_DEVICE_ATTEMPTS} attempts for the hour`,
        );
      }
      return { attempt: attempt.attempt, device };
    }
    const turn = await deps.owner.reserve();
    if (!turn.ok) {
      return await locked(
        c,
        turn.retryAt,
        "The owner password is locked after repeated wrong attempts",
      );
    }
    return { attempt: attempt.attempt, device: null };
  }

  /** The right secret: a sign-in, its cookie, the browser recognised as the owner's. */
  async function signedIn(
    c: Context,
    { secret, credential, turn }: { secret: string; credential: "password" | "token"; turn: Turn },
  ): Promise<Response> {
    if (!turn.device) await deps.owner.reset();
    const previous = turn.device ??
      await deps.devices.recognise(getCookie(c, OWNER_DEVICE_COOKIE));
    if (previous) await deps.devices.forget(previous);
    const device = await deps.devices.issue();
    const { token } = await access.signIns.start(credential, secret);
    log.info("operator_signed_in", { credential });
    const response = c.redirect("/", 303);
    response.headers.append("set-cookie", access.signInCookie(c, token));
    response.headers.append(
      "set-cookie",
      ownerDeviceCookie(device, access.secure(c), LOGIN_PATH),
    );
    response.headers.append(
      "set-cookie",
      generateCookie(FORM_COOKIE, "", {
        httpOnly: true,
        sameSite: "Strict",
        secure: access.secure(c),
        path: LOGIN_PATH,
        maxAge: 0,
      }),
    );
    response.headers.set("cache-control", "no-store");
    return response;
  }

  app.use("/operator/logout", bodyLimit({ maxSize: MAX_FORM_BYTES }));
  app.post("/operator/logout", async function signOut(c) {
    const parsed = parseFields(LogoutForm, await readForm(c));
    const token = getCookie(c, SIGN_IN_COOKIE);
    const signIn = await access.signIns.find(token);
    // The form's CSRF token must be the sign-in's: a page elsewhere cannot sign the owner out.
    if (signIn && parsed.ok && parsed.value.csrf === signIn.csrf) {
      await access.signIns.end(token);
      log.info("operator_signed_out", {});
    } else if (signIn) {
      return pageWith(403, "The sign-out form's CSRF token did not match.");
    }
    const response = c.redirect(LOGIN_PATH, 303);
    response.headers.append("set-cookie", access.signOutCookie(c));
    response.headers.set("cache-control", "no-store");
    return response;
  });

  /** The sign-in page with a message and no form. */
  function pageWith(status: number, error: string): Response {
    return pageResponse(loginPage({ mode: access.mode, error }), status);
  }

  return app;
}
