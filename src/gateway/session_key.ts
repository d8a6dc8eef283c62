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
 * e.g. `agent:main:main`, and keys with an `incognito-` segment), the bare
 * keys the gateway maps onto its own sessions (`main` is the agent's main
 * conversation `agent:<agentId>:main`; `global` and `unknown` are shared
 * keys; any case, as the gateway lowercases keys) and keys shaped like the
 * bridge's own namespaced keys (`mcp-<16 hex>:`, which a raw key would
 * otherwise reach on a bridge that does not namespace) are refused unless
 * the operator allows them; the namespaces the gateway itself rejects
 * (`subagent:`, `cron:`, `acp:`) are refused by the argument schema.
 *
 * One module for the direct chat tool and the task runner: both send the
 * same key for the same principal and `session_id`.
 *
 * @module
 */
import { hex } from "../auth/crypto.ts";
import { BridgeError } from "../errors.ts";

/** Starts every namespaced key (`mcp-<principal digest>:<session_id>`), so they are told from OpenClaw's own. */
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
  /** Stdio has one principal (the local user), so `auto` never namespaces it. */
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

/**
 * Bare keys the gateway resolves to its own sessions: `main` becomes the
 * agent's main conversation (the same as `agent:<agentId>:main`), `global`
 * and `unknown` are kept as shared keys. Measured against OpenClaw
 * 2026.9.6: a turn sent with key `main` (or `MAIN`, ` main `) continued the
 * conversation of `agent:main:main`.
 */
const GATEWAY_ALIASES = new Set(["main", "global", "unknown"]);

/** The shape of a key this module namespaced (see {@linkcode SessionKeys.toGateway}). */
const NAMESPACED_SHAPE = /^mcp-[0-9a-f]{16}:/;

/**
 * True for keys that reach OpenClaw's own sessions or the bridge's
 * namespaced ones when sent raw: `agent:<id>:<rest>`, an `incognito-`
 * segment, the bare aliases `main`, `global` and `unknown`, and
 * `mcp-<16 hex>:<rest>`. Compared as the gateway does: trimmed, in any case.
 */
export function isInternalSessionKey(sessionId: string): boolean {
  const lower = sessionId.trim().toLowerCase();
  if (GATEWAY_ALIASES.has(lower)) return true;
  if (/^agent:[^:]+:/.test(lower)) return true;
  if (NAMESPACED_SHAPE.test(lower)) return true;
  return lower.split(":").some((segment) => segment.startsWith("incognito-"));
}

async function digest(principal: string): Promise<string> {
  const bytes = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(principal)),
  );
  return hex(bytes.slice(0, 8));
}

/**
 * The gateway's session key without its agent: `agent:<id>:<rest>` →
 * `<rest>` (the key the bridge sent); any other key unchanged.
 */
export function withoutAgent(key: string): string {
  return /^agent:[^:]+:(.*)$/s.exec(key)?.[1] ?? key;
}

/**
 * The prefix of every key namespaced for `principal`: `mcp-<16 hex>:`. The
 * recall tools show a non-owner only the conversations under it.
 */
export async function namespacePrefix(principal: string): Promise<string> {
  return `${NAMESPACE_PREFIX}${await digest(principal)}:`;
}

/** What the tools and the runner need of a {@linkcode SessionKeys}. */
export interface SessionKeyPolicy {
  /** Throws `invalid_argument` for a refused session_id. */
  check(sessionId: string | null | undefined): void;
  /** The key sent to the gateway: namespaced per principal, or unchanged; undefined without a session_id. */
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
      "session_id is shaped like one of OpenClaw's own session keys (agent:<agentId>:<rest>, an incognito- segment, or the gateway's bare main, global or unknown) or like a key this bridge namespaces (mcp-<16 hex>:); such keys are refused so that a caller cannot join the gateway's internal conversations or another caller's.",
      "Choose another key (for example without the agent: prefix, or 'main-chat' instead of 'main'); the operator can allow such keys with MCP_ALLOW_INTERNAL_SESSION_KEYS=true.",
    );
  }

  /**
   * The key sent to the gateway for `principal`'s `session_id` (undefined
   * stays undefined). Applies {@linkcode SessionKeys.check} too, so a task
   * queued before a key shape was refused does not reach the gateway with it.
   *
   * @throws {BridgeError} `invalid_argument` for a refused session_id.
   */
  async toGateway(
    principal: string,
    sessionId: string | null | undefined,
  ): Promise<string | undefined> {
    if (!sessionId) return undefined;
    this.check(sessionId);
    if (!this.namespaced) return sessionId;
    return `${NAMESPACE_PREFIX}${await digest(principal)}:${sessionId}`;
  }
}
