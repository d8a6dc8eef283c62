/**
 * Who may see the operator page and its feed: the owner only.
 *
 * - A request with `Authorization: Bearer <token>` (scripts), the token one
 *   of `MCP_OWNER_TOKENS` when any are set, else of `MCP_AUTH_TOKENS`
 *   ({@linkcode pageTokens}).
 *   Any other bearer, an OAuth access token included, is refused: a
 *   client's token is an MCP principal, never the owner.
 * - A browser signed in at `/operator/login` (with the owner password when
 *   OAuth is on, or a static token): the `openclaw_operator` cookie of a live
 *   sign-in ({@linkcode SignIns}).
 * - Without any authentication configured and on a loopback bind: a
 *   loopback client (by `src/client_address.ts`; with `TRUST_PROXY` off, a
 *   request carrying forwarding headers is not taken for one). Never open
 *   otherwise: a public bind without authentication (`--allow-insecure`)
 *   has no operator page.
 *
 * Other routes can accept the same sign-in with
 * {@linkcode OperatorAccess.hasOperatorSession}.
 *
 * @module
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { generateCookie } from "hono/cookie";
import { matchesAny, safeEqual, sha256Bytes } from "../auth/crypto.ts";
import { tokenId } from "../auth/bearer.ts";
import { clientAddress, isLoopbackAddress } from "../client_address.ts";
import type { Config } from "../config.ts";
import { isLoopback } from "../http/guards.ts";
import { type Credential, type SignIn, SignIns } from "./sign_ins.ts";

/** The cookie of a sign-in (`HttpOnly; SameSite=Strict; Path=/`, `Secure` over https). */
export const SIGN_IN_COOKIE = "openclaw_operator";

/**
 * How the owner gets in: the owner password (OAuth on), a static token,
 * either, a loopback client without any login, or not at all (nothing
 * configured that could prove the owner).
 */
export type OperatorMode = "password" | "token" | "password_or_token" | "loopback" | "closed";

/** Why a request may see the page. */
export type Grant =
  | { via: "sign_in"; principal: string; signIn: SignIn }
  | { via: "token"; principal: string }
  | { via: "loopback"; principal: "loopback" };

/** The outcome of {@linkcode OperatorAccess.check}. */
export type AccessCheck =
  | { ok: true; grant: Grant }
  | { ok: false; reason: "none" | "bad_token" };

/** The access rules of the operator page, built by {@linkcode operatorAccess}. */
export interface OperatorAccess {
  /** How the owner gets in, from the configuration. */
  readonly mode: OperatorMode;
  /** The sign-ins in KV. */
  readonly signIns: SignIns;
  /**
   * Whether the request may see the page: a bearer header decides alone
   * (`bad_token` unless it is a static token); else a live sign-in cookie;
   * else, in `loopback` mode, a loopback client.
   */
  check(c: Context): Promise<AccessCheck>;
  /** True when the request carries the cookie of a live sign-in (for other routes, e.g. `/metrics`). */
  hasOperatorSession(c: Context): Promise<boolean>;
  /** What a typed secret is: the owner password, a static token, or neither (constant time). */
  credentialOf(secret: string): Promise<Credential | null>;
  /** True when cookies set for this request must be `Secure` (https issuer or request). */
  secure(c: Context): boolean;
  /** The `Set-Cookie` of a new sign-in. */
  signInCookie(c: Context, token: string): string;
  /** The `Set-Cookie` that removes the sign-in cookie. */
  signOutCookie(c: Context): string;
}

/** What {@linkcode operatorAccess} needs. */
export interface OperatorAccessDeps {
  /** `auth`, `host`, `trustProxy` and `http.authTokens` are read. */
  config: Config;
  /** Where sign-ins live. */
  kv: Deno.Kv;
  /** The public base URL (an https one makes cookies `Secure`). */
  issuer: () => string;
  /** Epoch ms clock; default `Date.now`. */
  now?: () => number;
}

/**
 * The static tokens that open the page: `MCP_OWNER_TOKENS` when any are set
 * (the page shows every caller's tasks and the claw's pending approvals, so
 * it follows the same owner rule as the recall and approval tools), else
 * every `MCP_AUTH_TOKENS` token (each caller of such a bridge is trusted
 * as the operator, as before owner tokens existed).
 */
export function pageTokens(config: Config): string[] {
  return config.http.ownerTokens.length > 0 ? config.http.ownerTokens : config.http.authTokens;
}

/** The mode the configuration gives. */
export function operatorMode(config: Config): OperatorMode {
  const tokens = pageTokens(config).length > 0;
  const password = config.auth.enabled && !!config.auth.ownerPassword;
  if (password && tokens) return "password_or_token";
  if (password) return "password";
  if (tokens) return "token";
  if (config.auth.enabled) return "closed";
  return isLoopback(config.host) ? "loopback" : "closed";
}

const FORWARDING_HEADERS = ["x-forwarded-for", "forwarded", "x-real-ip"];

/**
 * Builds the access rules.
 *
 * @example
 * ```ts ignore
 * const access = operatorAccess({ config, kv, issuer });
 * app.get("/metrics", async (c) => (await access.hasOperatorSession(c)) ? metrics(c) : refuse(c));
 * ```
 */
export function operatorAccess(deps: OperatorAccessDeps): OperatorAccess {
  const { config } = deps;
  const mode = operatorMode(config);
  const password = config.auth.enabled ? config.auth.ownerPassword : undefined;
  const tokens = pageTokens(config);
  const signIns = new SignIns(deps.kv, {
    secrets: { password, tokens, ownerTokens: config.http.ownerTokens },
    now: deps.now,
  });
  const digests = Promise.all(tokens.map(sha256Bytes));

  /** Whether `secret` is one of the static tokens (every digest is compared). */
  async function staticToken(secret: string): Promise<boolean> {
    return await matchesAny(await digests, secret);
  }

  function loopbackClient(c: Context): boolean {
    if (config.trustProxy === 0 && FORWARDING_HEADERS.some((h) => c.req.header(h) !== undefined)) {
      return false;
    }
    return isLoopbackAddress(clientAddress(c, config.trustProxy));
  }

  const secure = (c: Context): boolean => {
    if (deps.issuer().startsWith("https:") || new URL(c.req.url).protocol === "https:") {
      return true;
    }
    const proto = config.trustProxy > 0 ? c.req.header("x-forwarded-proto") : undefined;
    return proto?.split(",").some((p) => p.trim().toLowerCase() === "https") ?? false;
  };

  return {
    mode,
    signIns,
    async check(c) {
      if (mode === "loopback") {
        return loopbackClient(c)
          ? { ok: true, grant: { via: "loopback", principal: "loopback" } }
          : { ok: false, reason: "none" };
      }
      const header = c.req.header("authorization");
      if (header !== undefined) {
        const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
        if (!match || !(await staticToken(match[1]))) return { ok: false, reason: "bad_token" };
        return { ok: true, grant: { via: "token", principal: await tokenId(match[1]) } };
      }
      const signIn = await signIns.find(getCookie(c, SIGN_IN_COOKIE));
      return signIn
        ? { ok: true, grant: { via: "sign_in", principal: signIn.id, signIn } }
        : { ok: false, reason: "none" };
    },
    async hasOperatorSession(c) {
      return (await signIns.find(getCookie(c, SIGN_IN_COOKIE))) !== null;
    },
    async credentialOf(secret) {
      // Both are compared, whichever matches, so the time says nothing of which.
      const isPassword = password !== undefined && await safeEqual(secret, password);
      const isToken = await staticToken(secret);
      return isPassword ? "password" : isToken ? "token" : null;
    },
    secure,
    signInCookie(c, token) {
      return generateCookie(SIGN_IN_COOKIE, token, {
        httpOnly: true,
        sameSite: "Strict",
        secure: secure(c),
        path: "/",
        maxAge: Math.floor(signIns.ttlMs / 1000),
      });
    },
    signOutCookie(c) {
      return generateCookie(SIGN_IN_COOKIE, "", {
        httpOnly: true,
        sameSite: "Strict",
        secure: secure(c),
        path: "/",
        maxAge: 0,
      });
    },
  };
}
