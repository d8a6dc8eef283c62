/**
 * The operator page's routes, as a Hono app to mount with
 * `app.route("/", operator.app)`:
 *
 * - `GET /`: the page (owner only; a browser without access is sent to the
 *   sign-in page, anything else gets a 401 JSON error).
 * - `GET /operator/events`: the live feed (SSE; `?format=html` for the page).
 * - `GET /operator/snapshot`: one snapshot as JSON.
 * - `POST /operator/approvals`: the page's answer to a pending approval
 *   (`approval_answer.ts`: Origin, the sign-in's CSRF token, every field).
 * - `GET|POST /operator/login`, `POST /operator/logout`: signing in and out.
 *
 * Who gets in is `access.ts`; a bearer header that is not a static token is
 * counted per address (30 a minute, per process) before it is checked, so
 * tokens cannot be guessed here faster than on `/mcp`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { addressGroup } from "../auth/address_group.ts";
import { OwnerDevices, OwnerLockout } from "../auth/lockout.ts";
import { tokenId } from "../auth/bearer.ts";
import { randomToken } from "../auth/crypto.ts";
import { clientAddress } from "../client_address.ts";
import type { Config, Instance } from "../config.ts";
import type { ProbeCache } from "../gateway/probe_cache.ts";
import { errorResponse } from "../http/error_response.ts";
import type { Logger } from "../log.ts";
import { TaskStore } from "../tasks/store.ts";
import { TokenBuckets } from "../token_bucket.ts";
import { type Grant, type OperatorAccess, operatorAccess } from "./access.ts";
import { approvalAnswer, APPROVALS_PATH } from "./approval_answer.ts";
import { ApprovalReads, type ApprovalsPort } from "./approval_reads.ts";
import { type FeedLimits, OperatorFeeds } from "./feed.ts";
import { LOGIN_PATH, loginRoutes } from "./login.ts";
import { LoginForms } from "./login_form.ts";
import { dashboardPage, liveFragment, loginPage, NO_STORE_HEADERS, pageResponse } from "./page.ts";
import { type OperatorSnapshot, scrubber, snapshotSource } from "./snapshot.ts";

/** Failed bearer attempts per address per minute on the operator routes. */
export const BEARER_FAILURES_PER_MINUTE = 30;
/** Largest answer body read. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** What the operator page needs. */
export interface OperatorDeps {
  /** The configuration (auth, tokens, host, proxies, session caps). */
  config: Config;
  /** The store: tasks, sign-ins, the lockout. */
  kv: Deno.Kv;
  /** The public base URL (an https one makes cookies `Secure`). */
  issuer: () => string;
  /** Sign-ins, refusals and snapshot failures. */
  log: Logger;
  /** The gateway probe cache `/ready` uses (no second prober). */
  probes: ProbeCache;
  /** The instances and their approvals, none when off (a `GatewayRegistry`). */
  gateways: { list(): { instance: Instance; approvals?: ApprovalsPort }[] };
  /** Open sessions now (null in stateless mode). */
  sessions: () => number | null;
  /** How `/mcp` authenticates. */
  auth: OperatorSnapshot["auth"];
  /** Epoch ms clock; default `Date.now`. */
  now?: () => number;
  /** Feed limits (tests). */
  feedLimits?: Partial<FeedLimits>;
}

/** The mounted operator page. */
export interface OperatorApp {
  /** Its routes. */
  app: Hono;
  /** Its access rules (other routes may accept the same sign-in). */
  access: OperatorAccess;
  /** Its open feeds. */
  feeds: OperatorFeeds;
  /** Ends every open feed (shutdown). */
  close(): void;
}

/**
 * Builds the operator page.
 *
 * @example
 * ```ts ignore
 * const operator = operatorApp({ config, kv, issuer, log, probes, gateways, sessions, auth });
 * app.route("/", operator.app);
 * ```
 */
export function operatorApp(deps: OperatorDeps): OperatorApp {
  const { config, kv, log } = deps;
  const now = deps.now ?? Date.now;
  const access = operatorAccess({ config, kv, issuer: deps.issuer, now });
  const addressOf = (c: Context) => addressGroup(clientAddress(c, config.trustProxy));
  const instances = () =>
    deps.gateways.list().map(({ instance, approvals }) => ({
      name: instance.name,
      url: instance.url,
      isDefault: instance.isDefault,
      token: instance.token,
      approvals,
    }));
  const secrets = [config.auth.ownerPassword, config.auth.clientSecret, ...config.http.authTokens];
  // One reader of every instance's approvals: the snapshots' and the answers'.
  const reads = new ApprovalReads({ now });
  const snapshots = snapshotSource({
    instances,
    approvals: reads,
    probes: deps.probes,
    store: new TaskStore(kv, { now }),
    sessions: () => ({
      open: deps.sessions(),
      max: config.http.stateless ? null : config.http.maxSessions,
    }),
    auth: deps.auth,
    secrets,
    startedAt: now(),
    now,
  });
  const feeds = new OperatorFeeds({
    snapshot: snapshots.take,
    render: liveFragment,
    log,
    limits: deps.feedLimits,
  });
  const failures = new TokenBuckets(BEARER_FAILURES_PER_MINUTE, now);
  // The loopback grant has no sign-in: its page's CSRF token is this process's.
  const loopbackCsrf = randomToken(16);
  const csrfOf = (grant: Grant): string | null =>
    grant.via === "sign_in" ? grant.signIn.csrf : grant.via === "loopback" ? loopbackCsrf : null;
  // The owner's static tokens, by principal (a token grant's principal is its tokenId).
  const ownerTokenIds = Promise.all(config.http.ownerTokens.map(tokenId)).then((ids) =>
    new Set(ids)
  );
  /** Who may answer approvals: the owner, as the approval tools know it. */
  const isOwner = async (grant: Grant): Promise<boolean> =>
    grant.via === "loopback" ||
    (grant.via === "sign_in" ? grant.signIn.owner : (await ownerTokenIds).has(grant.principal));
  let scrub: ((text: string) => string) | null = null;
  const issuer = config.auth.issuerUrl ? new URL(config.auth.issuerUrl).origin : undefined;
  const answer = approvalAnswer({
    instances,
    isOwner,
    csrfOf,
    origins: [...config.http.allowedOrigins, ...(issuer ? [issuer] : [])],
    trustProxy: config.trustProxy,
    addressOf,
    reads,
    answered: () => snapshots.refresh(),
    scrub: (text) => (scrub ??= scrubber([...secrets, ...instances().map((i) => i.token)]))(text),
    log,
    now,
  });

  /** The request's grant, or the refusal: a redirect to sign in (`page`) or a JSON error. */
  async function admit(c: Context, kind: "page" | "api"): Promise<Grant | Response> {
    const bearer = c.req.header("authorization") !== undefined && access.mode !== "loopback";
    const address = addressOf(c);
    if (bearer && !failures.take(address).ok) {
      return errorResponse({
        code: "quota_exceeded",
        message:
          `Too many failed bearer attempts from this address: at most ${BEARER_FAILURES_PER_MINUTE} a minute.`,
        hint: "Wait a minute, and send one of the server's MCP_AUTH_TOKENS.",
      }, { ...NO_STORE_HEADERS, "retry-after": "60" });
    }
    const result = await access.check(c);
    if (result.ok) {
      if (bearer) failures.give(address);
      return result.grant;
    }
    if (access.mode === "loopback") {
      return errorResponse({
        code: "forbidden",
        message: "The operator page is open to loopback clients only.",
        hint:
          "No authentication is configured: open it from this machine, or set MCP_AUTH_TOKENS to sign in from elsewhere.",
      }, NO_STORE_HEADERS);
    }
    if (access.mode === "closed") {
      if (kind === "page" && prefersHtml(c)) {
        return pageResponse(loginPage({ mode: "closed" }), 403);
      }
      return unauthorized(
        "No way to sign in to the operator page is configured.",
        "Set MCP_OWNER_PASSWORD (with OAuth on) or MCP_AUTH_TOKENS.",
      );
    }
    if (result.reason === "bad_token") {
      return unauthorized(
        "The bearer token is not one of the server's static tokens; OAuth access tokens do not open the operator page.",
        "Send Authorization: Bearer <one of MCP_AUTH_TOKENS>, or sign in at /operator/login.",
      );
    }
    if (kind === "page" && prefersHtml(c)) return c.redirect(LOGIN_PATH, 303);
    return unauthorized(
      "Sign in to see the operator page.",
      access.mode === "password"
        ? "Sign in at /operator/login with the owner password."
        : "Sign in at /operator/login, or send Authorization: Bearer <one of MCP_AUTH_TOKENS>.",
    );
  }

  const app = new Hono();
  app.get("/", async function operatorPage(c) {
    const grant = await admit(c, "page");
    if (grant instanceof Response) return grant;
    const snapshot = await snapshots.take();
    return pageResponse(dashboardPage({
      snapshot,
      signOutCsrf: grant.via === "sign_in" ? grant.signIn.csrf : undefined,
      approvalsCsrf: csrfOf(grant) ?? undefined,
    }));
  });
  app.get("/operator/snapshot", async function operatorSnapshot(c) {
    const grant = await admit(c, "api");
    if (grant instanceof Response) return grant;
    return Response.json(await snapshots.take(), { headers: NO_STORE_HEADERS });
  });
  app.get("/operator/events", async function operatorEvents(c) {
    const grant = await admit(c, "api");
    if (grant instanceof Response) return grant;
    return feeds.open({
      principal: grant.principal,
      format: c.req.query("format") === "html" ? "html" : "json",
      allowed: async () => (await access.check(c)).ok,
    });
  });
  app.use(APPROVALS_PATH, bodyLimit({ maxSize: MAX_ANSWER_BYTES }));
  app.post(APPROVALS_PATH, async function answerApproval(c) {
    const grant = await admit(c, "api");
    if (grant instanceof Response) return grant;
    return await answer(c, grant);
  });
  app.route(
    "/",
    loginRoutes({
      access,
      forms: new LoginForms(kv, { now }),
      owner: new OwnerLockout(kv, { now }),
      devices: new OwnerDevices(kv, { now }),
      addressOf,
      log,
      now,
    }),
  );
  return { app, access, feeds, close: () => feeds.close() };
}

/** A browser asking for a page (not a script or the page's own fetch). */
function prefersHtml(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

function unauthorized(message: string, hint: string): Response {
  return errorResponse({ code: "unauthorized", message, hint }, {
    ...NO_STORE_HEADERS,
    "www-authenticate": 'Bearer realm="openclaw-mcp-operator"',
  });
}
