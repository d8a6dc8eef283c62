/**
 * A test double of the OpenClaw gateway: a real HTTP server on 127.0.0.1
 * (port 0) speaking the OpenAI-compatible API, streaming and not, that
 * records every request and can be switched into fault modes.
 *
 * The reply to a message is `echo: <message>`, streamed word by word.
 *
 * @module
 */
import type { Instance } from "../src/config.ts";
import { Transcripts } from "./_transcripts.ts";

import { ApprovalDouble } from "./approval_double.ts";
export { ApprovalDouble } from "./approval_double.ts";
export { resolveKey, type StoredMessage, type StoredSession } from "./_transcripts.ts";

/** How the gateway misbehaves; `none` answers normally. */
export type Fault =
  | { kind: "none" }
  | { kind: "delay"; ms: number }
  | { kind: "status"; status: number; retryAfter?: string }
  | { kind: "garbage" }
  | { kind: "huge"; bytes: number }
  | { kind: "reset"; afterChunks: number }
  | { kind: "sse_error" }
  | { kind: "json" }
  | { kind: "hang" };

/** One request as the gateway saw it. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** URL path. */
  path: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON body, or null. */
  body: Record<string, unknown> | null;
  /** The client went away before the response was complete. */
  aborted: boolean;
  /** The response was sent completely. */
  finished: boolean;
  /** When it finished or was aborted (performance.now()), else null. */
  endedAt: number | null;
  /** When the request arrived (performance.now()). */
  at: number;
}

/** Options for {@linkcode TestGateway.start}. */
export interface TestGatewayOptions {
  /** Bearer token required; null for none. Default `test-token`. */
  token?: string | null;
  /** Delay between streamed chunks. Default 0. */
  chunkDelayMs?: number;
}

const encoder = new TextEncoder();

function errorResponse(status: number, message: string, type: string, headers = {}): Response {
  return Response.json({ error: { message, type } }, { status, headers });
}

/** The running test gateway. */
export class TestGateway {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Token the gateway accepts (null: no auth). */
  token: string | null;
  /** Current fault mode. */
  fault: Fault = { kind: "none" };
  /** Delay between streamed chunks. */
  chunkDelayMs: number;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Agents listed by /v1/models (and accepted in chat). */
  agents = ["main", "coder"];
  /** Agent used when a chat names none; null: refuse like a multi-agent gateway does. */
  defaultAgent: string | null = "main";
  /**
   * Conversations of chats that carried `x-openclaw-session-key`, served by
   * `POST /tools/invoke` (`sessions_list`, `sessions_history`).
   */
  readonly transcripts: Transcripts = new Transcripts();
  /**
   * The operator WebSocket (approvals). A chat whose message holds
   * `[approval:<command>]` raises an exec approval for its conversation
   * after its reply's words and waits for it before finishing.
   */
  readonly approvals: ApprovalDouble;
  /** How long a raised approval waits before the gateway gives up. */
  approvalTimeoutMs = 120_000;
  #server: Deno.HttpServer;
  #waiters: (() => void)[] = [];

  private constructor(server: Deno.HttpServer, url: string, options: TestGatewayOptions) {
    this.#server = server;
    this.url = url;
    this.token = options.token === undefined ? "test-token" : options.token;
    this.chunkDelayMs = options.chunkDelayMs ?? 0;
    this.approvals = new ApprovalDouble(this.token);
  }

  /** Starts a gateway on a free loopback port. */
  static start(options: TestGatewayOptions = {}): Promise<TestGateway> {
    let gateway: TestGateway;
    return new Promise((resolve) => {
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: () => {},
        // The "reset" fault errors a response stream on purpose: Deno reports
        // such errors here, and the connection is cut, which is the point.
        onError: (error) => {
          if (!(error instanceof Error && error.message === RESET_MESSAGE)) throw error;
          return new Response(null, { status: 500 });
        },
      }, (request, info) => gateway.#handle(request, info));
      const addr = server.addr as Deno.NetAddr;
      gateway = new TestGateway(server, `http://127.0.0.1:${addr.port}`, options);
      resolve(gateway);
    });
  }

  /**
   * A bridge instance pointing at this gateway with the token it expects
   * (`default`, 10 s timeout, the default instance), with `extra` on top.
   */
  instance(extra: Partial<Instance> = {}): Instance {
    return {
      name: "default",
      url: this.url,
      token: this.token ?? undefined,
      timeoutMs: 10_000,
      isDefault: true,
      model: "openclaw",
      ...extra,
    };
  }

  /** Chat requests only. */
  get chats(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === "/v1/chat/completions");
  }

  /** Chat requests grouped by the user message they carried. */
  chatsByMessage(): Map<string, RecordedRequest[]> {
    const groups = new Map<string, RecordedRequest[]>();
    for (const chat of this.chats) {
      const messages = chat.body?.messages as { content?: string }[] | undefined;
      const key = String(messages?.[0]?.content);
      groups.set(key, [...(groups.get(key) ?? []), chat]);
    }
    return groups;
  }

  /** Resolves when a recorded request satisfies `predicate` (polls, bounded). */
  async waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > deadline) throw new Error("TestGateway.waitFor timed out");
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  #notify(): void {
    const waiters = this.#waiters.splice(0);
    for (const wake of waiters) wake();
  }

  /** Stops the server, dropping open connections. */
  async close(): Promise<void> {
    this.approvals.close();
    await this.#server.shutdown().catch(() => {});
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      this.approvals.token = this.token;
      return this.approvals.upgrade(request);
    }
    const url = new URL(request.url);
    const record: RecordedRequest = {
      method: request.method,
      path: url.pathname,
      headers: Object.fromEntries(request.headers),
      body: null,
      aborted: false,
      finished: false,
      endedAt: null,
      at: performance.now(),
    };
    if (request.method === "POST") {
      try {
        record.body = JSON.parse(await request.text());
      } catch {
        record.body = null;
      }
    }
    this.requests.push(record);
    // Settles once the response was delivered in full, or not.
    info.completed.then(
      () => finish(record),
      () => abort(record),
    ).finally(() => this.#notify());
    this.#notify();
    try {
      return await this.#route(request, url, record);
    } catch {
      // The client went away during a delay; nobody reads this response.
      return new Response(null, { status: 499 });
    }
  }

  async #route(request: Request, url: URL, record: RecordedRequest): Promise<Response> {
    if (url.pathname === "/readyz") {
      finish(record);
      return Response.json({ ready: true });
    }
    if (this.token !== null && request.headers.get("authorization") !== `Bearer ${this.token}`) {
      return errorResponse(401, "Unauthorized", "unauthorized");
    }
    const fault = this.fault;
    if (fault.kind === "delay") await sleep(fault.ms, request.signal);
    if (fault.kind === "status") {
      const headers = fault.retryAfter ? { "retry-after": fault.retryAfter } : {};
      return errorResponse(fault.status, `test fault ${fault.status}`, "test_fault", headers);
    }
    if (url.pathname === "/v1/models" && request.method === "GET") {
      finish(record);
      return Response.json({
        object: "list",
        data: ["openclaw", "openclaw/default", ...this.agents.map((a) => `openclaw/${a}`)].map((
          id,
        ) => ({ id, object: "model", owned_by: "openclaw" })),
      });
    }
    if (url.pathname === "/health") return Response.json({ ok: true, status: "live" });
    if (url.pathname === "/tools/invoke" && request.method === "POST") {
      finish(record);
      return this.transcripts.invoke(record.body);
    }
    if (url.pathname !== "/v1/chat/completions" || request.method !== "POST") {
      return errorResponse(404, "Not Found", "not_found");
    }
    const body = record.body;
    const messages = Array.isArray(body?.messages) ? body.messages : [];
    const user = messages.findLast((m: { role?: string }) => m?.role === "user") as
      | { content?: unknown }
      | undefined;
    if (!body || typeof user?.content !== "string") {
      return errorResponse(400, "Missing user message in `messages`.", "invalid_request_error");
    }
    const agent = request.headers.get("x-openclaw-agent-id") ??
      (/^openclaw[/:](.+)$/.exec(String(body.model))?.[1]) ?? this.defaultAgent;
    if (agent === null) {
      return errorResponse(
        400,
        "Multiple agents are configured, but this operation has no explicit owner. Select an agent explicitly.",
        "invalid_request_error",
      );
    }
    if (agent !== "default" && !this.agents.includes(agent)) {
      return errorResponse(400, `Unknown agent '${agent}'.`, "invalid_request_error");
    }
    const reply = `echo: ${user.content}`;
    const sessionKey = request.headers.get("x-openclaw-session-key");
    if (sessionKey) {
      this.transcripts.record(
        sessionKey,
        agent === "default" ? "main" : agent,
        user.content,
        reply,
      );
    }
    const model = typeof body.model === "string" ? body.model : "openclaw";
    if (fault.kind === "garbage") {
      finish(record);
      return new Response("this is {not json", { headers: { "content-type": "application/json" } });
    }
    if (fault.kind === "huge") {
      finish(record);
      const filler = "x".repeat(fault.bytes);
      return new Response(
        `{"choices":[{"message":{"role":"assistant","content":"${filler}"}}]}`,
        { headers: { "content-type": "application/json" } },
      );
    }
    if (body.stream !== true || fault.kind === "json") {
      finish(record);
      return Response.json({
        id: "chatcmpl-test",
        object: "chat.completion",
        model,
        choices: [{
          index: 0,
          message: { role: "assistant", content: reply },
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      });
    }
    // Each completion has its own id: OpenClaw's run id, named in every chunk.
    const runId = `chatcmpl-${crypto.randomUUID()}`;
    const marker = /\[approval:([^\]]+)\]/.exec(user.content);
    const gate = marker
      ? () => this.#askApproval(request, marker[1], agent === "default" ? "main" : agent, runId)
      : undefined;
    return this.#stream(request, record, { reply, model, runId }, fault, gate);
  }

  /**
   * What the claw does when the model wants to run `command` and exec asks:
   * raises an approval for the conversation, waits for it (or for the
   * client to go away), and says how it ended.
   */
  async #askApproval(
    request: Request,
    command: string,
    agent: string,
    runId: string,
  ): Promise<string> {
    const key = request.headers.get("x-openclaw-session-key");
    const approval = this.approvals.raise("exec", {
      command,
      cwd: "/srv/claw",
      host: "gateway",
      security: "full",
      ask: "always",
      allowedDecisions: ["allow-once", "allow-always", "deny"],
      agentId: agent,
      sessionKey: `agent:${agent}:${key ?? `openai:${crypto.randomUUID()}`}`,
      runId,
    }, this.approvalTimeoutMs);
    const gone = new Promise<null>((resolve) =>
      request.signal.addEventListener("abort", () => resolve(null), { once: true })
    );
    const decision = await Promise.race([approval.decided, gone]);
    if (request.signal.aborted) throw new Error("client gone");
    if (decision === null) return ` [approval timed out: ${command}]`;
    return decision === "deny"
      ? ` [denied: ${command}]`
      : ` [approved ${decision}: ran ${command}]`;
  }

  #stream(
    request: Request,
    record: RecordedRequest,
    completion: { reply: string; model: string; runId: string },
    fault: Fault,
    gate?: () => Promise<string>,
  ): Response {
    const { reply, model, runId } = completion;
    const words = reply.match(/\S+\s*/g) ?? [reply];
    const delay = this.chunkDelayMs;
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      encoder.encode(
        `data: ${
          JSON.stringify({
            id: runId,
            object: "chat.completion.chunk",
            model,
            choices: [{ index: 0, delta, finish_reason: finish }],
          })
        }\n\n`,
      );
    const stream = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        try {
          controller.enqueue(chunk({ role: "assistant" }));
          if (fault.kind === "sse_error") {
            controller.enqueue(
              encoder.encode(
                `data: ${
                  JSON.stringify({ error: { message: "provider down", type: "api_error" } })
                }\n\n`,
              ),
            );
            controller.enqueue(encoder.encode("data: [DONE]\n\n"));
            finish(record);
            controller.close();
            return;
          }
          let sent = 0;
          for (const word of words) {
            if (fault.kind === "reset" && sent === fault.afterChunks) {
              controller.error(new Error(RESET_MESSAGE));
              return;
            }
            if (delay > 0) await sleep(delay, request.signal);
            controller.enqueue(chunk({ content: word }));
            sent++;
          }
          if (fault.kind === "hang") {
            await sleep(3_600_000, request.signal);
          }
          if (gate) controller.enqueue(chunk({ content: await gate() }));
          controller.enqueue(chunk({}, "stop"));
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          finish(record);
          this.#notify();
          controller.close();
        } catch {
          // The client went away mid-stream; the abort listener recorded it.
        }
      },
      cancel: () => {
        if (!record.finished) abort(record);
        this.#notify();
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
}

function finish(record: RecordedRequest): void {
  if (record.aborted) return;
  record.finished = true;
  record.endedAt ??= performance.now();
}

function abort(record: RecordedRequest): void {
  if (record.finished) return;
  record.aborted = true;
  record.endedAt ??= performance.now();
}

/** The error a "reset" fault cuts its stream with. */
const RESET_MESSAGE = "test fault: reset";

/** Sleeps, or throws when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error("aborted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(new Error("aborted"));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
