/**
 * The conversation key sent to the gateway as `x-openclaw-session-key`.
 *
 * A gateway keeps one conversation (memory, transcript) per key, so on a
 * bridge that serves several principals the caller's `session_id` is
 * namespaced per principal: `mcp-<first 16 hex of SHA-256(principal)>:<session_id>`.
 * The principal itself is never sent (it may carry a token id). Where only
 * one principal can exist (stdio, HTTP without auth, one static token) the
 * key is sent unchanged so existing conversations continue.
 *
 * Keys shaped like OpenClaw's own session keys (`agent:<agentId>:<rest>`,
 * e.g. `agent:main:main`, and keys with an `incognito-` segment) are refused
 * unless the operator allows them; the namespaces the gateway itself rejects
 * (`subagent:`, `cron:`, `acp:`) are refused by the argument schema.
 *
 * One module for the direct chat tool and the task runner: both send the
 * same key for the same principal and `session_id`.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";

/** Prefix of namespaced keys. */
export const NAMESPACE_PREFIX = "mcp-";

/** How session keys are built; see {@linkcode SessionKeys}. */
export interface SessionKeyOptions {
  /** Prefix keys with a digest of the principal. Default false. */
  namespaced?: boolean;
  /** Accept keys shaped like OpenClaw's own. Default false. */
  allowInternalKeys?: boolean;
}

/** What decides the `auto` namespace mode. */
export interface PrincipalSetup {
  /** `MCP_SESSION_NAMESPACE`: auto, on or off. */
  mode: "auto" | "on" | "off";
  /** The transport. */
  transport: "stdio" | "http";
  /** OAuth on (every login is its own principal). */
  oauth: boolean;
  /** Number of static bearer tokens (each is its own principal). */
  staticTokens: number;
}

/**
 * Whether keys are namespaced: `on` always, `off` never, `auto` when more
 * than one principal can exist (HTTP with OAuth, or with more than one
 * static token).
 */
export function namespaceSessions(setup: PrincipalSetup): boolean {
  if (setup.mode !== "auto") return setup.mode === "on";
  return setup.transport === "http" && (setup.oauth || setup.staticTokens > 1);
}

/** True for keys shaped like OpenClaw's own session keys (`agent:<id>:<rest>`, `incognito-`). */
export function isInternalSessionKey(sessionId: string): boolean {
  const lower = sessionId.toLowerCase();
  if (/^agent:[^:]+:/.test(lower)) return true;
  return lower.split(":").some((segment) => segment.startsWith("incognito-"));
}

async function digest(principal: string): Promise<string> {
  const bytes = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(principal)),
  );
  return [...bytes.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the tools and the runner need of a {@linkcode SessionKeys}. */
export interface SessionKeyPolicy {
  /** Throws `invalid_argument` for a refused session_id. */
  check(sessionId: string | null | undefined): void;
  /** The key sent to the gateway. */
  toGateway(principal: string, sessionId: string | null | undefined): Promise<string | undefined>;
}

/** The session-key policy of one bridge. */
export class SessionKeys implements SessionKeyPolicy {
  /** Whether keys are prefixed per principal. */
  readonly namespaced: boolean;
  /** Whether internal-looking keys are accepted. */
  readonly allowInternalKeys: boolean;

  /** Creates the policy; the defaults send keys unchanged and refuse internal ones. */
  constructor(options: SessionKeyOptions = {}) {
    this.namespaced = options.namespaced ?? false;
    this.allowInternalKeys = options.allowInternalKeys ?? false;
  }

  /**
   * Refuses a `session_id` shaped like OpenClaw's own keys unless allowed.
   *
   * @throws {BridgeError} `invalid_argument`.
   */
  check(sessionId: string | null | undefined): void {
    if (!sessionId || this.allowInternalKeys || !isInternalSessionKey(sessionId)) return;
    throw new BridgeError(
      "invalid_argument",
      "session_id is shaped like one of OpenClaw's own session keys (agent:<agentId>:<rest>, or an incognito- segment); such keys are refused so that a caller cannot join the gateway's internal conversations.",
      "Choose another key (for example without the agent: prefix); the operator can allow such keys with MCP_ALLOW_INTERNAL_SESSION_KEYS=true.",
    );
  }

  /** The key sent to the gateway for `principal`'s `session_id` (undefined stays undefined). */
  async toGateway(
    principal: string,
    sessionId: string | null | undefined,
  ): Promise<string | undefined> {
    if (!sessionId) return undefined;
    if (!this.namespaced) return sessionId;
    return `${NAMESPACE_PREFIX}${await digest(principal)}:${sessionId}`;
  }
}
