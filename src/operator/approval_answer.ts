/**
 * `POST /operator/approvals`: the operator page's Allow once / Allow always
 * / Deny buttons. The body (JSON or a form) holds `instance`, `id`,
 * `decision` and, from a browser, `csrf`; the answer is JSON:
 * `{instance, approval, decision, accepted}` (`accepted` false when someone
 * answered first: `decision` is the one that stands), or the bridge's error
 * body `{error, message, hint}`.
 *
 * Checked in this order, after the page's own access rules (`routes.ts`:
 * the sign-in cookie, a static token's bearer header, or a loopback client
 * without authentication):
 *
 * 1. at most {@linkcode ANSWERS_PER_MINUTE} a minute per address (per
 *    process), refused or not;
 * 2. the grant must be the owner's, as the approval tools' owner is: the
 *    owner password's sign-in, a token of `MCP_OWNER_TOKENS` (its bearer
 *    header or its sign-in), or the loopback grant. Any other static token
 *    may see the page and is refused here (`forbidden`), as its
 *    `openclaw_approval_respond` is;
 * 3. a browser's request (the sign-in cookie, or the loopback grant) must
 *    carry an `Origin` that is this page's own (or a configured one,
 *    `MCP_ALLOWED_ORIGINS` or the OAuth issuer) and the CSRF token of its
 *    sign-in, the one the page holds (compared in constant time; for the
 *    loopback grant a random token of this process). A static token's
 *    bearer request is a script's: no ambient credential, no CSRF token;
 * 4. every field (`invalid_argument` naming it), the instance
 *    (`unknown_instance`), approvals on (`forbidden`), then the gateway
 *    (`approval_not_found`, or its own coded error).
 *
 * @module
 */
import type { Context } from "hono";
import { z } from "zod";
import { safeEqual } from "../auth/crypto.ts";
import { parseFields, readForm } from "../auth/form.ts";
import { decisionArg } from "../gateway/approvals.ts";
import { BridgeError, type ErrorBody, toBridgeError } from "../errors.ts";
import { errorResponse } from "../http/error_response.ts";
import { originMatches } from "../http/guards.ts";
import type { Logger } from "../log.ts";
import { TokenBuckets } from "../token_bucket.ts";
import type { Grant } from "./access.ts";
import type { ApprovalReads, ApprovalsPort } from "./approval_reads.ts";
import { NO_STORE_HEADERS } from "./page.ts";
import { type ApprovalView, approvalView } from "./snapshot.ts";

/** Where the page's buttons post. */
export const APPROVALS_PATH = "/operator/approvals";
/** Answers (refused or not) per address per minute, per process. */
export const ANSWERS_PER_MINUTE = 30;
/** An answer is given up after this long. */
export const ANSWER_TIMEOUT_MS = 15_000;

/** What the route needs. */
export interface AnswerDeps {
  /** The instances and their approvals (none: approvals are off). */
  instances: () => { name: string; approvals?: ApprovalsPort }[];
  /** Whether the grant is the owner's (may answer); see the module doc. */
  isOwner: (grant: Grant) => Promise<boolean> | boolean;
  /** The CSRF token a browser grant must send; null for a script's bearer grant. */
  csrfOf: (grant: Grant) => string | null;
  /** Origins accepted besides the request's own (`MCP_ALLOWED_ORIGINS`, the issuer). */
  origins: readonly string[];
  /** How many proxies are trusted (`X-Forwarded-Proto` is read behind one). */
  trustProxy: number;
  /** The address group a request counts against. */
  addressOf: (c: Context) => string;
  /** The page's approval reads: an answered approval leaves them at once. */
  reads: ApprovalReads;
  /** Called after an answer, so the next snapshot is new. */
  answered: () => void;
  /** Keeps configured secrets out of what is sent back. */
  scrub: (text: string) => string;
  /** Answers and refusals (never a secret, never the command). */
  log: Logger;
  /** Epoch ms clock. */
  now: () => number;
}

/** The route's JSON answer. */
export interface AnswerBody {
  /** The instance. */
  instance: string;
  /** The approval as it was when answered. */
  approval: ApprovalView;
  /** The decision that stands (the first answer wins). */
  decision: string;
  /** Whether this answer is the one that stands. */
  accepted: boolean;
}

const MAX_FIELD = 512;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(name: string, max: number) {
  return z.string({
    error: (issue) =>
      issue.input === undefined ? `${name} is required` : `${name} must be a string`,
  }).trim().min(1, `${name} is empty`).max(max, `${name} is longer than ${max} characters`)
    .refine((v) => !CONTROL.test(v), `${name} holds control characters`);
}

const AnswerForm = z.object({
  instance: text("instance", 100),
  id: text("id", MAX_FIELD),
  decision: decisionArg,
  csrf: z.string().max(128).optional(),
});

/** The route's handler; `grant` is the request's, from the page's access rules. */
export function approvalAnswer(deps: AnswerDeps): (c: Context, grant: Grant) => Promise<Response> {
  const buckets = new TokenBuckets(ANSWERS_PER_MINUTE, deps.now);

  return async function answer(c, grant) {
    const refuse = (error: ErrorBody, extra: Record<string, string> = {}) => {
      deps.log.warn("operator_approval_refused", { error: error.code, via: grant.via });
      return errorResponse(error, { ...NO_STORE_HEADERS, ...extra });
    };
    if (!buckets.take(deps.addressOf(c)).ok) {
      return refuse({
        code: "quota_exceeded",
        message: `Too many answers from this address: at most ${ANSWERS_PER_MINUTE} a minute.`,
        hint: "Wait a minute.",
      }, { "retry-after": "60" });
    }
    if (!(await deps.isOwner(grant))) {
      return refuse({
        code: "forbidden",
        message:
          "Answering an approval lets the claw act on the gateway's machine: it is for the owner, and this static token is not in MCP_OWNER_TOKENS.",
        hint:
          "Sign in with the owner password or a token of MCP_OWNER_TOKENS, or send Authorization: Bearer <one of MCP_OWNER_TOKENS>.",
      });
    }
    const csrf = deps.csrfOf(grant);
    if (csrf !== null && !sameOrigin(c, deps)) {
      return refuse({
        code: "forbidden",
        message:
          "Approvals are answered from the operator page itself: this request's Origin is not the page's.",
        hint:
          "Answer on the operator page. Behind a reverse proxy, set MCP_ISSUER_URL or MCP_ALLOWED_ORIGINS to its public origin; scripts send Authorization: Bearer <one of MCP_AUTH_TOKENS>.",
      });
    }
    const form = await readForm(c);
    if (csrf !== null && !(await safeEqual(form.csrf ?? "", csrf))) {
      return refuse({
        code: "forbidden",
        message: "The answer's CSRF token is missing or is not this sign-in's.",
        hint: "Reload the operator page and answer again.",
      });
    }
    const parsed = parseFields(AnswerForm, form);
    if (!parsed.ok) {
      return refuse({ code: "invalid_argument", message: parsed.message, hint: HINT });
    }
    const { instance: name, id, decision } = parsed.value;
    const instances = deps.instances();
    const instance = instances.find((i) => i.name === name);
    if (!instance) {
      return refuse({
        code: "unknown_instance",
        message: `No gateway instance is named "${deps.scrub(name.slice(0, 100))}".`,
        hint: `Use one of: ${instances.map((i) => i.name).join(", ")}.`,
      });
    }
    if (!instance.approvals) {
      return refuse({
        code: "forbidden",
        message: `Approvals are turned off for instance "${name}".`,
        hint: "Set OPENCLAW_APPROVALS=owner to turn them on.",
      });
    }
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), ANSWER_TIMEOUT_MS);
    try {
      const outcome = await instance.approvals.resolve(id, decision, stop.signal);
      const body: AnswerBody = {
        instance: name,
        approval: approvalView(outcome.approval, deps.scrub),
        decision: deps.scrub(outcome.decision),
        accepted: outcome.decision === decision,
      };
      deps.reads.forget(name, id);
      deps.log.info("operator_approval_answered", {
        instance: name,
        kind: outcome.approval.kind,
        decision,
        accepted: body.accepted,
        via: grant.via,
      });
      return Response.json(body, { headers: NO_STORE_HEADERS });
    } catch (error) {
      const bridge = stop.signal.aborted
        ? new BridgeError(
          "gateway_timeout",
          `The gateway did not take the answer within ${ANSWER_TIMEOUT_MS / 1000} s.`,
          "Reload the page to see whether it was answered.",
        )
        : toBridgeError(error);
      if (bridge.code === "approval_not_found") deps.reads.forget(name, id);
      if (bridge.code === "internal") {
        deps.log.error("operator_approval_failed", {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return refuse({
        code: bridge.code,
        message: deps.scrub(bridge.message),
        hint: deps.scrub(bridge.hint),
      });
    } finally {
      clearTimeout(timer);
      deps.answered();
    }
  };
}

const HINT =
  'Send {"instance": <name>, "id": <the approval\'s id>, "decision": "allow-once" | "allow-always" | "deny"}.';

/**
 * Whether the request's `Origin` is the page's own: the request's origin
 * (`https` too behind a trusted proxy saying so), or a configured one
 * (never the `*` pattern).
 */
function sameOrigin(c: Context, deps: Pick<AnswerDeps, "origins" | "trustProxy">): boolean {
  const origin = c.req.header("origin");
  if (!origin || origin === "null") return false;
  const own = new URL(c.req.url);
  if (origin === own.origin) return true;
  if (deps.trustProxy > 0) {
    const proto = c.req.header("x-forwarded-proto")?.split(",")[0].trim().toLowerCase();
    if (proto === "https" && origin === `https://${own.host}`) return true;
  }
  return deps.origins.some((p) => p !== "*" && originMatches(origin, p));
}
