/**
 * A fetch-based client for one OpenClaw gateway (OpenAI-compatible HTTP API).
 *
 * Chat streams by default and reports deltas through a callback; a gateway
 * that answers plain JSON is read as such. Every failure becomes a
 * {@linkcode BridgeError} with a stable code and a hint naming the fix
 * (worded in `errors.ts`); replies are validated in `reply.ts`, streams read
 * in `chat_stream.ts`, the probes live in `health.ts`.
 *
 * @module
 */
import type { GatewayApprovals } from "./approvals.ts";
import type { Instance } from "../config.ts";
import { readChatStream } from "./chat_stream.ts";
import { badReplyError, statusError } from "./errors.ts";
import { type HealthReport, listAgents, probeHealth } from "./health.ts";
import { type ChatReply, parseCompletion } from "./reply.ts";
import { type HistoryPage, parseHistory, parseSessionList, type SessionPage } from "./recall.ts";
import { invokeTool, ToolFailure } from "./tools_invoke.ts";
import { BridgeError } from "../errors.ts";
import {
  GatewayCall,
  gatewayHeaders,
  type GatewayRequestRecord,
  type GatewayTarget,
  MAX_REPLY_BYTES,
} from "./request.ts";

export type { GatewayRequestRecord } from "./request.ts";

/** What {@linkcode GatewayClient.sessions} asks for. */
export interface SessionListRequest {
  /** Rows per page (the gateway caps it at 200). */
  limit: number;
  /** Rows to skip, newest first. */
  offset?: number;
  /** The gateway's own filter: a substring of the key or label. */
  search?: string;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** What {@linkcode GatewayClient.history} asks for. */
export interface HistoryRequest {
  /** The session key, as `x-openclaw-session-key` carried it or as sessions_list gave it. */
  key: string;
  /** Messages in the page. */
  limit: number;
  /** Newest messages to skip (a page's `nextOffset`). */
  offset?: number;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** What {@linkcode GatewayClient.chat} needs. */
export interface ChatRequest {
  /** Sent as the request's only user message; earlier turns live in the gateway's session. */
  message: string;
  /** Conversation key, sent as `x-openclaw-session-key`. */
  sessionId?: string;
  /** Agent id, sent as `x-openclaw-agent-id` and `model: openclaw/<agent>`. */
  agent?: string;
  /** Aborts the request (MCP cancellation, shutdown). */
  signal?: AbortSignal;
  /** Called with each streamed delta and the text so far. */
  onDelta?: (delta: string, text: string) => void;
  /** Called once with the gateway's run id (the completion id) as soon as the stream names it. */
  onRunId?: (id: string) => void;
}

/** Effects the client uses; tests pass real ones. */
export interface GatewayClientOptions {
  /** The fetch to use; default global `fetch`. */
  fetch?: typeof fetch;
  /** Monotonic-ish clock in ms; default `performance.now`. */
  now?: () => number;
  /** Body cap in bytes; default {@linkcode MAX_REPLY_BYTES}. */
  maxReplyBytes?: number;
  /** Told how each request ended: its path and status (the bridge's metrics); must not throw. */
  onRequest?: (record: GatewayRequestRecord) => void;
  /** Makes the instance's approvals (over its WebSocket); none: approvals are off. */
  approvals?: (instance: Instance) => GatewayApprovals;
}

/** A client for one gateway instance. */
export class GatewayClient {
  /** The instance this client talks to. */
  readonly instance: Instance;
  /** The instance's pending approvals; undefined when approvals are off. */
  readonly approvals: GatewayApprovals | undefined;
  #target: GatewayTarget;
  #now: () => number;

  /** Creates a client for `instance`. */
  constructor(instance: Instance, options: GatewayClientOptions = {}) {
    this.instance = instance;
    this.#target = {
      instance,
      fetch: options.fetch ?? fetch,
      maxReplyBytes: options.maxReplyBytes ?? MAX_REPLY_BYTES,
      onRequest: options.onRequest,
    };
    this.#now = options.now ?? (() => performance.now());
    this.approvals = options.approvals?.(instance);
  }

  /**
   * Sends one user message and returns the reply, streaming deltas to
   * `request.onDelta` as they arrive.
   *
   * @throws {BridgeError} on every failure, with a stable code.
   */
  async chat(request: ChatRequest): Promise<ChatReply> {
    const headers = gatewayHeaders(this.instance, { "content-type": "application/json" });
    if (request.sessionId) headers["x-openclaw-session-key"] = request.sessionId;
    const agent = request.agent ?? this.instance.agent;
    if (agent) headers["x-openclaw-agent-id"] = agent;
    const body = JSON.stringify({
      model: agent ? `openclaw/${agent}` : this.instance.model,
      messages: [{ role: "user", content: request.message }],
      stream: true,
    });
    using call = new GatewayCall(this.#target, request.signal);
    const response = await call.send("/v1/chat/completions", { method: "POST", headers, body });
    if (!response.ok) {
      throw await statusError(response, {
        instance: this.instance,
        endpoint: "chat",
        agents: () => this.agents(),
      });
    }
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream")) {
      return await readChatStream(response, {
        call,
        onDelta: request.onDelta,
        onRunId: request.onRunId,
      });
    }
    const reply = parseCompletion(await call.readJson(response), this.instance.model);
    if (!reply) throw badReplyError(this.instance, "the chat reply has no choices[0].message");
    if (reply.reply) request.onDelta?.(reply.reply, reply.reply);
    return reply;
  }

  /**
   * Probes the gateway without running an agent (see `health.ts`): tells ok
   * from a bad token, a disabled endpoint, a wrong URL, a starting gateway
   * and an unreachable or slow one. Lists the gateway's agents.
   */
  health(signal?: AbortSignal): Promise<HealthReport> {
    return probeHealth(this.#target, { signal, now: this.#now });
  }

  /**
   * A page of the gateway's conversations, newest first (`sessions_list`
   * over `/tools/invoke`), with derived titles and last-message previews.
   *
   * @throws {BridgeError} on every failure, with a stable code.
   */
  async sessions(request: SessionListRequest): Promise<SessionPage> {
    const args: Record<string, unknown> = {
      limit: request.limit,
      includeDerivedTitles: true,
      includeLastMessage: true,
    };
    if (request.offset) args.offset = request.offset;
    if (request.search) args.search = request.search;
    try {
      const details = await invokeTool(this.#target, {
        tool: "sessions_list",
        args,
        signal: request.signal,
      });
      return parseSessionList(details, this.instance);
    } catch (error) {
      if (!(error instanceof ToolFailure)) throw error;
      throw new BridgeError(
        "gateway_rejected",
        `The gateway for instance "${this.instance.name}" could not list conversations: ${error.message}.`,
        "Check the gateway's log.",
      );
    }
  }

  /**
   * A page of one conversation's transcript, oldest first
   * (`sessions_history` over `/tools/invoke`).
   *
   * @throws {BridgeError} `not_found` for a conversation the gateway does not have; others on failure.
   */
  async history(request: HistoryRequest): Promise<HistoryPage> {
    try {
      const details = await invokeTool(this.#target, {
        tool: "sessions_history",
        args: { sessionKey: request.key, limit: request.limit, offset: request.offset ?? 0 },
        signal: request.signal,
      });
      return parseHistory(details, this.instance);
    } catch (error) {
      if (!(error instanceof ToolFailure)) throw error;
      // 2026.9.6 says "No session found: <key>" for a full key, "Session not found: <key> (...)" for a bare one.
      if (/\b(no session|session not) found\b/i.test(error.message)) {
        throw conversationNotFound(this.instance.name);
      }
      throw new BridgeError(
        "gateway_rejected",
        `The gateway for instance "${this.instance.name}" could not read the conversation: ${error.message}.`,
        "Check the gateway's log.",
      );
    }
  }

  /**
   * The gateway's agents, from `GET /v1/models`.
   *
   * @throws {BridgeError} when the gateway cannot be asked.
   */
  agents(signal?: AbortSignal): Promise<string[]> {
    return listAgents(this.#target, signal);
  }
}

/**
 * The one answer for a conversation that does not exist and for one the
 * caller may not see: the two are never told apart.
 */
export function conversationNotFound(instance: string): BridgeError {
  return new BridgeError(
    "not_found",
    `No such conversation on instance "${instance}".`,
    "Use a key or session_id from openclaw_sessions.",
  );
}
