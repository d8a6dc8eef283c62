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
import type { Instance } from "../config.ts";
import { readChatStream } from "./chat_stream.ts";
import { badReplyError, statusError } from "./errors.ts";
import { type HealthReport, listAgents, probeHealth } from "./health.ts";
import { type ChatReply, parseCompletion } from "./reply.ts";
import {
  GatewayCall,
  gatewayHeaders,
  type GatewayRequestRecord,
  type GatewayTarget,
  MAX_REPLY_BYTES,
} from "./request.ts";

export type { GatewayRequestRecord } from "./request.ts";

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
}

/** A client for one gateway instance. */
export class GatewayClient {
  /** The instance this client talks to. */
  readonly instance: Instance;
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
      return await readChatStream(response, { call, onDelta: request.onDelta });
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
   * The gateway's agents, from `GET /v1/models`.
   *
   * @throws {BridgeError} when the gateway cannot be asked.
   */
  agents(signal?: AbortSignal): Promise<string[]> {
    return listAgents(this.#target, signal);
  }
}
