/**
 * A fetch-based client for one OpenClaw gateway (OpenAI-compatible HTTP API).
 *
 * Chat streams by default and reports deltas through a callback; a gateway
 * that answers plain JSON is read as such. Every failure becomes a
 * {@linkcode BridgeError} with a stable code and a hint naming the fix.
 *
 * @module
 */
import { z } from "zod";
import { BridgeError } from "../errors.ts";
import type { Instance } from "../config.ts";
import { SseParser } from "./sse.ts";
import { BodyTooLarge, readCapped } from "../read_capped.ts";

/** Replies larger than this are refused (bytes of body). */
export const MAX_REPLY_BYTES = 10 * 1024 * 1024;

/** Token usage as the gateway reports it. */
export interface Usage {
  /** Prompt tokens. */
  prompt_tokens?: number;
  /** Completion tokens. */
  completion_tokens?: number;
  /** Total tokens. */
  total_tokens?: number;
}

/** What {@linkcode GatewayClient.chat} needs. */
export interface ChatRequest {
  /** The user's message. */
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

/** A completed chat reply. */
export interface ChatReply {
  /** The assistant's text. */
  reply: string;
  /** The model the gateway says answered. */
  model: string;
  /** Token usage, when reported. */
  usage: Usage | null;
  /** Why generation stopped, when reported. */
  finishReason: string | null;
}

/** Outcome of a health probe. */
export type HealthStatus =
  | "ok"
  | "unauthorized"
  | "not_found"
  | "not_ready"
  | "unreachable"
  | "timeout"
  | "error";

/** One instance's health. */
export interface HealthReport {
  /** Overall verdict. */
  status: HealthStatus;
  /** Round-trip time of the probe. */
  latencyMs: number;
  /** HTTP status, when there was a response. */
  httpStatus: number | null;
  /** One line for the user. */
  message: string;
  /** Agents the gateway lists, when it answered. */
  agents: string[];
}

/** Effects the client uses; tests pass real ones. */
export interface GatewayClientOptions {
  /** The fetch to use; default global `fetch`. */
  fetch?: typeof fetch;
  /** Monotonic-ish clock in ms; default `performance.now`. */
  now?: () => number;
  /** Body cap in bytes; default {@linkcode MAX_REPLY_BYTES}. */
  maxReplyBytes?: number;
}

const usageSchema = z.object({
  prompt_tokens: z.number().optional(),
  completion_tokens: z.number().optional(),
  total_tokens: z.number().optional(),
}).passthrough().nullish();

const errorBodySchema = z.object({
  error: z.object({ message: z.string().optional(), type: z.string().optional() }).passthrough(),
});

const completionSchema = z.object({
  model: z.string().optional(),
  choices: z.array(
    z.object({
      message: z.object({ content: z.string().nullish() }).passthrough(),
      finish_reason: z.string().nullish(),
    }).passthrough(),
  ).min(1),
  usage: usageSchema,
}).passthrough();

const chunkSchema = z.object({
  model: z.string().optional(),
  choices: z.array(
    z.object({
      delta: z.object({ content: z.string().nullish() }).passthrough().optional(),
      finish_reason: z.string().nullish(),
    }).passthrough(),
  ).optional(),
  usage: usageSchema,
}).passthrough();

const modelsSchema = z.object({
  data: z.array(z.object({ id: z.string() }).passthrough()),
}).passthrough();

/** How a failed probe's error code reads as a health verdict. */
const HEALTH_BY_CODE: Partial<Record<BridgeError["code"], HealthStatus>> = {
  gateway_unauthorized: "unauthorized",
  gateway_not_found: "not_found",
  gateway_unreachable: "unreachable",
  gateway_timeout: "timeout",
};

/** Cleans a gateway-supplied message for display: one line, bounded. */
function gatewayMessage(text: string | undefined): string {
  if (!text) return "";
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? line.slice(0, 297) + "..." : line;
}

/** A client for one gateway instance. */
export class GatewayClient {
  /** The instance this client talks to. */
  readonly instance: Instance;
  #fetch: typeof fetch;
  #now: () => number;
  #maxBytes: number;

  /** Creates a client for `instance`. */
  constructor(instance: Instance, options: GatewayClientOptions = {}) {
    this.instance = instance;
    this.#fetch = options.fetch ?? fetch;
    this.#now = options.now ?? (() => performance.now());
    this.#maxBytes = options.maxReplyBytes ?? MAX_REPLY_BYTES;
  }

  /**
   * Sends one user message and returns the reply, streaming deltas to
   * `request.onDelta` as they arrive.
   *
   * @throws {BridgeError} on every failure, with a stable code.
   */
  async chat(request: ChatRequest): Promise<ChatReply> {
    const headers = this.#headers({ "content-type": "application/json" });
    if (request.sessionId) headers["x-openclaw-session-key"] = request.sessionId;
    const agent = request.agent ?? this.instance.agent;
    if (agent) headers["x-openclaw-agent-id"] = agent;
    const body = JSON.stringify({
      model: agent ? `openclaw/${agent}` : this.instance.model,
      messages: [{ role: "user", content: request.message }],
      stream: true,
    });
    const { signal, timedOut, dispose } = this.#signal(request.signal);
    try {
      const response = await this.#send(
        "/v1/chat/completions",
        { method: "POST", headers, body, signal },
        timedOut,
      );
      if (!response.ok) throw await this.#httpError(response, "chat");
      const type = response.headers.get("content-type") ?? "";
      if (type.includes("text/event-stream")) {
        return await this.#readStream(response, request.onDelta, timedOut, signal);
      }
      const json = await this.#readJson(response, timedOut, signal);
      const parsed = completionSchema.safeParse(json);
      if (!parsed.success) throw this.#badReply("the chat reply has no choices[0].message");
      const choice = parsed.data.choices[0];
      const reply = choice.message.content ?? "";
      if (reply) request.onDelta?.(reply, reply);
      return {
        reply,
        model: parsed.data.model ?? this.instance.model,
        usage: parsed.data.usage ?? null,
        finishReason: choice.finish_reason ?? null,
      };
    } finally {
      dispose();
    }
  }

  /**
   * Probes the gateway without running an agent: `GET /readyz` (no auth;
   * tells a starting gateway apart), then `GET /v1/models` (authenticated),
   * and tells ok from a bad token, a disabled endpoint, a wrong URL and an
   * unreachable or slow gateway. Lists the gateway's agents.
   */
  async health(signal?: AbortSignal): Promise<HealthReport> {
    const started = this.#now();
    const elapsed = () => Math.round(this.#now() - started);
    const scope = this.#signal(signal);
    try {
      const ready = await this.#send(
        "/readyz",
        { headers: { accept: "application/json" }, signal: scope.signal },
        scope.timedOut,
      );
      await ready.body?.cancel();
      if (ready.status === 503) {
        return {
          status: "not_ready",
          latencyMs: elapsed(),
          httpStatus: 503,
          message: "The gateway is up but not ready yet (starting); retry in a few seconds.",
          agents: [],
        };
      }
      // agents() applies its own timeout; given ours, a slow reply would read as "cancelled".
      const agents = await this.agents(signal);
      return {
        status: "ok",
        latencyMs: elapsed(),
        httpStatus: 200,
        message: "Gateway reachable and token accepted.",
        agents,
      };
    } catch (error) {
      const e = error instanceof BridgeError ? error : this.#badReply("unexpected failure");
      return {
        status: HEALTH_BY_CODE[e.code] ?? "error",
        latencyMs: elapsed(),
        httpStatus: e.httpStatus ?? null,
        message: `${e.message} ${e.hint}`.trim(),
        agents: [],
      };
    } finally {
      scope.dispose();
    }
  }

  #headers(extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json", ...extra };
    if (this.instance.token) headers.authorization = `Bearer ${this.instance.token}`;
    return headers;
  }

  /** Combines the caller's signal with this instance's timeout. */
  #signal(caller?: AbortSignal) {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.instance.timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timeout.signal]) : timeout.signal;
    return {
      signal,
      timedOut: () => timeout.signal.aborted && !caller?.aborted,
      dispose: () => clearTimeout(timer),
    };
  }

  async #send(
    path: string,
    init: RequestInit & { signal: AbortSignal },
    timedOut: () => boolean,
  ): Promise<Response> {
    try {
      return await this.#fetch(this.instance.url + path, { ...init, redirect: "manual" });
    } catch (error) {
      if (init.signal.aborted) throw this.#aborted(timedOut());
      const detail = error instanceof Error ? error.message : "";
      throw new BridgeError(
        "gateway_unreachable",
        `Cannot reach the OpenClaw gateway for instance "${this.instance.name}" at ${this.instance.url}${
          /refused/i.test(detail) ? " (connection refused)" : ""
        }.`,
        "Check that the gateway is running and that OPENCLAW_URL (or the instance's url) is right.",
      );
    }
  }

  #aborted(timedOut: boolean): BridgeError {
    return timedOut
      ? new BridgeError(
        "gateway_timeout",
        `The gateway for instance "${this.instance.name}" did not answer within ${this.instance.timeoutMs} ms.`,
        "Raise OPENCLAW_TIMEOUT_MS (or the instance's timeout), or use openclaw_chat_async for long jobs.",
      )
      : new BridgeError("cancelled", "The request was cancelled.", "");
  }

  #badReply(what: string): BridgeError {
    return new BridgeError(
      "gateway_bad_reply",
      `The gateway for instance "${this.instance.name}" sent a malformed reply: ${what}.`,
      "Check that the URL points at an OpenClaw gateway and that it is up to date.",
    );
  }

  async #httpError(response: Response, what: "chat" | "models"): Promise<BridgeError> {
    const error = await this.#httpErrorFor(response, what);
    error.httpStatus = response.status;
    return error;
  }

  async #httpErrorFor(response: Response, what: "chat" | "models"): Promise<BridgeError> {
    let detail = "";
    try {
      const text = await readCapped(response, 64 * 1024);
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) detail = gatewayMessage(parsed.data.error.message);
    } catch {
      // The body is only decoration for the message; its absence is fine.
    }
    const name = this.instance.name;
    const suffix = detail ? ` Gateway said: ${detail}` : "";
    const status = response.status;
    if (status === 401 || status === 403) {
      return new BridgeError(
        "gateway_unauthorized",
        `The gateway rejected the token for instance "${name}" (HTTP ${status}).`,
        this.instance.token
          ? "Check that OPENCLAW_GATEWAY_TOKEN (or the instance's token) matches gateway.auth.token in openclaw.json."
          : "No token is configured: set OPENCLAW_GATEWAY_TOKEN (or the instance's token) to gateway.auth.token from openclaw.json.",
      );
    }
    if (status === 404) {
      const endpoint = what === "chat" ? "/v1/chat/completions" : "/v1/models";
      return new BridgeError(
        "gateway_not_found",
        `The gateway for instance "${name}" has no ${endpoint} (HTTP 404).${suffix}`,
        'Enable it in openclaw.json with "gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": true}}}}, and check that OPENCLAW_URL points at the gateway.',
      );
    }
    if (status === 429) {
      const after = response.headers.get("retry-after");
      return new BridgeError(
        "gateway_rate_limited",
        `The gateway for instance "${name}" is rate limiting requests (HTTP 429).${suffix}`,
        after ? `Retry after ${gatewayMessage(after)} seconds.` : "Wait a moment and retry.",
      );
    }
    if (status === 408 || status === 504) {
      return new BridgeError(
        "gateway_timeout",
        `The gateway for instance "${name}" timed out waiting for its model (HTTP ${status}).${suffix}`,
        "Check the gateway's model provider; then retry.",
      );
    }
    if (status >= 500) {
      return new BridgeError(
        "gateway_error",
        `The gateway for instance "${name}" failed (HTTP ${status}).${suffix}`,
        "Check the gateway's log; retry once it is healthy.",
      );
    }
    if (status === 400 && what === "chat") {
      const unknown = /Unknown agent '([^']*)'/.exec(detail);
      if (unknown) {
        return new BridgeError(
          "unknown_agent",
          `The gateway for instance "${name}" has no agent "${unknown[1]}".`,
          await this.#agentHint(),
        );
      }
      if (/Multiple agents are configured/i.test(detail)) {
        return new BridgeError(
          "agent_required",
          `The gateway for instance "${name}" has several agents and none was chosen.`,
          `Pass agent, or set the instance's agent in OPENCLAW_INSTANCES (or mark a default agent in openclaw.json). ${await this
            .#agentHint()}`,
        );
      }
    }
    if (status >= 300 && status < 400) {
      return new BridgeError(
        "gateway_not_found",
        `The gateway for instance "${name}" answered with a redirect (HTTP ${status}).`,
        "Point OPENCLAW_URL (or the instance's url) at the gateway itself, not at a page that redirects.",
      );
    }
    return new BridgeError(
      "gateway_rejected",
      `The gateway for instance "${name}" rejected the request (HTTP ${status}).${suffix}`,
      "Check the message, agent and session id.",
    );
  }

  /** "Known agents: ..." from /v1/models, or a pointer to openclaw_agents if that fails. */
  async #agentHint(): Promise<string> {
    try {
      const agents = await this.agents();
      return agents.length ? `Known agents: ${agents.join(", ")}.` : "The gateway lists no agents.";
    } catch {
      return "See openclaw_agents for the agents this gateway has.";
    }
  }

  /**
   * The gateway's agents, from `GET /v1/models`.
   *
   * @throws {BridgeError} when the gateway cannot be asked.
   */
  async agents(signal?: AbortSignal): Promise<string[]> {
    const scope = this.#signal(signal);
    try {
      const response = await this.#send(
        "/v1/models",
        { headers: this.#headers({}), signal: scope.signal },
        scope.timedOut,
      );
      if (!response.ok) throw await this.#httpError(response, "models");
      const parsed = modelsSchema.safeParse(
        await this.#readJson(response, scope.timedOut, scope.signal),
      );
      if (!parsed.success) throw this.#badReply("/v1/models is not a model list");
      return agentsFromModels(parsed.data.data.map((m) => m.id));
    } finally {
      scope.dispose();
    }
  }

  async #readJson(
    response: Response,
    timedOut: () => boolean,
    signal: AbortSignal,
  ): Promise<unknown> {
    let text: string;
    try {
      text = await readCapped(response, this.#maxBytes);
    } catch (error) {
      throw this.#readError(error, timedOut, signal);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw this.#badReply("the body is not JSON");
    }
  }

  #readError(error: unknown, timedOut: () => boolean, signal: AbortSignal): BridgeError {
    if (error instanceof BridgeError) return error;
    if (error instanceof BodyTooLarge) {
      return this.#badReply(`the reply is larger than ${Math.round(this.#maxBytes / 1048576)} MB`);
    }
    if (signal.aborted) return this.#aborted(timedOut());
    return new BridgeError(
      "gateway_disconnected",
      `The gateway for instance "${this.instance.name}" closed the connection mid-reply.`,
      "Retry; if it keeps happening, check the gateway's log.",
    );
  }

  async #readStream(
    response: Response,
    onDelta: ChatRequest["onDelta"],
    timedOut: () => boolean,
    signal: AbortSignal,
  ): Promise<ChatReply> {
    const parser = new SseParser();
    let text = "";
    let model = this.instance.model;
    let usage: Usage | null = null;
    let finishReason: string | null = null;
    let done = false;
    let ended = false;
    let bytes = 0;
    const body = response.body;
    if (!body) throw this.#badReply("the stream has no body");
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      while (!done) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw this.#readError(error, timedOut, signal);
        }
        if (chunk.done) {
          ended = true;
          break;
        }
        bytes += chunk.value.length;
        if (bytes > this.#maxBytes) {
          throw this.#readError(new BodyTooLarge(this.#maxBytes), timedOut, signal);
        }
        for (const event of parser.push(chunk.value)) {
          if (event.data === "[DONE]") {
            done = true;
            break;
          }
          let json: unknown;
          try {
            json = JSON.parse(event.data);
          } catch {
            throw this.#badReply("a stream event is not JSON");
          }
          // Only error events carry "error"; parsing every chunk against the
          // error shape would build (costly) zod errors on the hot path.
          const error = json !== null && typeof json === "object" && "error" in json
            ? errorBodySchema.safeParse(json)
            : undefined;
          if (error?.success) {
            throw new BridgeError(
              "gateway_error",
              `The gateway for instance "${this.instance.name}" reported an error mid-stream: ${
                gatewayMessage(error.data.error.message) || "no detail"
              }.`,
              "Check the gateway's model provider and log; then retry.",
            );
          }
          const parsed = chunkSchema.safeParse(json);
          if (!parsed.success) throw this.#badReply("a stream event is not a chat chunk");
          if (parsed.data.model) model = parsed.data.model;
          if (parsed.data.usage) usage = parsed.data.usage;
          for (const choice of parsed.data.choices ?? []) {
            const delta = choice.delta?.content;
            if (delta) {
              text += delta;
              onDelta?.(delta, text);
            }
            if (choice.finish_reason) finishReason = choice.finish_reason;
          }
        }
      }
    } finally {
      // Release the connection when we stop early; a finished stream needs nothing.
      if (!ended) reader.cancel().catch(() => {});
    }
    if (!done && finishReason === null) {
      throw new BridgeError(
        "gateway_disconnected",
        `The gateway for instance "${this.instance.name}" ended the stream before the reply was complete.`,
        "Retry; if it keeps happening, check the gateway's log.",
      );
    }
    return { reply: text, model, usage, finishReason };
  }
}

/** Agent ids from `/v1/models` ids such as `openclaw/main`; `openclaw` and `openclaw/default` are aliases. */
export function agentsFromModels(ids: string[]): string[] {
  const agents = new Set<string>();
  for (const id of ids) {
    const match = /^openclaw[/:](.+)$/.exec(id);
    if (match && match[1] !== "default") agents.add(match[1]);
  }
  return [...agents].sort();
}
