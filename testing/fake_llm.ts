/**
 * The "fake LLM": a loopback OpenAI-compatible model provider for the real
 * OpenClaw gateway. It finds our marker `[[m:<text>]]` in what the model
 * receives (the gateway wraps the user turn in much more) and answers
 * `ECHO <text> TURNS=<n>`, n being how many of our markers it saw in user
 * messages: the earlier turns of the same session show up there.
 * `[[slow]]` in the message streams one word every 200 ms.
 *
 * Tool calls: `[[exec:<command>]]` in the latest user turn makes the model
 * answer with an OpenAI tool call of the gateway's `exec` tool
 * (`{"command": "<command>"}`) instead of text. When the next request carries
 * that call's tool result (a `tool` message after that user turn), it answers
 * `TOOL <verdict> <result>`: verdict
 * `DENIED` when the result says the command was denied (approval refused,
 * expired or blocked by policy), `RAN` otherwise; result is the tool result's
 * text with whitespace collapsed, cut to 300 characters.
 *
 * @module
 */

/** One request as the model provider saw it. */
export interface LlmRequest {
  /** Every marker text, in order. */
  markers: string[];
  /** Was it streamed. */
  stream: boolean;
  /** Did the caller go away before the end. */
  aborted: boolean;
  /** Names of the tools the gateway offered the model. */
  tools: string[];
  /** What the model answered: text, or a tool call (`exec`). */
  answer: "text" | "tool_call";
  /** The tool result this request carried (its text), if its last message was one. */
  toolResult?: string;
}

/** Text of a chat message's content (string or parts). */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((p: { text?: string }) => p?.text ?? "").join(" ");
}

/** Does an exec tool result say the command did not run because it was refused? */
export function isDenial(result: string): boolean {
  return /\b(denied|deny|rejected|not approved|approval (?:timed out|expired)|refused)\b/i.test(
    result,
  );
}

/** The running fake model provider. */
export class FakeLlm {
  /** Base URL, e.g. http://127.0.0.1:4321/v1 */
  readonly url: string;
  /** Every chat request. */
  readonly requests: LlmRequest[] = [];
  #server: Deno.HttpServer;

  private constructor(server: Deno.HttpServer, url: string) {
    this.#server = server;
    this.url = url;
  }

  /** Starts on a free loopback port. */
  static start(): FakeLlm {
    // deno-lint-ignore prefer-const -- assigned once the server exists; the handler runs later.
    let llm: FakeLlm;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => llm.#handle(req, info),
    );
    llm = new FakeLlm(server, `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/v1`);
    return llm;
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await this.#server.shutdown().catch(() => {});
  }

  async #handle(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path.endsWith("/models")) {
      return Response.json({ object: "list", data: [{ id: "echo", object: "model" }] });
    }
    if (!path.endsWith("/chat/completions")) return new Response("not found", { status: 404 });
    const body = await req.json();
    const userTexts: string[] = [];
    const messages: { role: string; content?: unknown; tool_calls?: unknown[] }[] = body.messages ??
      [];
    for (const m of messages) {
      if (m.role === "user") userTexts.push(textOf(m.content));
    }
    const all = userTexts.join("\n");
    const markers = [...all.matchAll(/\[\[m:([^\]]+)\]\]/g)].map((m) => m[1]);
    const tools = (body.tools ?? []).map((t: { function?: { name?: string } }) =>
      t.function?.name ?? "?"
    );
    // The tool result of our exec call: the gateway appends an internal-context
    // user message after it, so look for a tool message after our latest turn.
    const ourTurn = messages.findLastIndex((m) =>
      m.role === "user" && /\[\[(m|exec):/.test(textOf(m.content))
    );
    const toolMessage = messages.slice(ourTurn + 1).findLast((m) => m.role === "tool");
    const toolResult = toolMessage ? textOf(toolMessage.content) : undefined;
    const record: LlmRequest = {
      markers,
      stream: !!body.stream,
      aborted: false,
      tools,
      answer: "text",
      toolResult,
    };
    this.requests.push(record);
    info.completed.catch(() => {
      record.aborted = true;
    });
    const last = markers.at(-1) ?? "no-marker";
    // The gateway adds user messages of its own after ours: look at the one
    // that carries the latest marker.
    const ours = userTexts.findLast((text) => text.includes("[[m:") || text.includes("[[exec:"));
    const slow = ours?.includes("[[slow]]") ?? false;
    const execCommand = ours?.match(/\[\[exec:(.+?)\]\]/)?.[1];
    let reply = `ECHO ${last} TURNS=${new Set(markers).size}`;
    if (toolResult !== undefined) {
      const flat = toolResult.replace(/\s+/g, " ").trim().slice(0, 300);
      reply = `TOOL ${isDenial(toolResult) ? "DENIED" : "RAN"} ${flat}`;
    } else if (execCommand !== undefined) {
      record.answer = "tool_call";
      return this.#toolCall(!!body.stream, execCommand, record);
    }
    if (!body.stream) {
      return Response.json({
        id: "fake",
        object: "chat.completion",
        model: "echo",
        choices: [{
          index: 0,
          message: { role: "assistant", content: reply },
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    }
    const words = slow
      ? [...reply.split(" "), ...Array.from({ length: 40 }, (_, i) => `w${i}`)]
      : reply.split(" ");
    const encoder = new TextEncoder();
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      encoder.encode(`data: ${
        JSON.stringify({
          id: "fake",
          object: "chat.completion.chunk",
          model: "echo",
          choices: [{ index: 0, delta, finish_reason: finish }],
        })
      }\n\n`);
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        try {
          controller.enqueue(chunk({ role: "assistant" }));
          for (const [i, word] of words.entries()) {
            if (slow) await new Promise((r) => setTimeout(r, 200));
            controller.enqueue(chunk({ content: (i ? " " : "") + word }));
          }
          controller.enqueue(chunk({}, "stop"));
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
        } catch {
          record.aborted = true;
        }
      },
      cancel() {
        record.aborted = true;
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  }

  /** Answers with one `exec` tool call (SSE deltas when streaming, as OpenAI does). */
  #toolCall(stream: boolean, command: string, record: LlmRequest): Response {
    const id = `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
    const args = JSON.stringify({ command });
    if (!stream) {
      return Response.json({
        id: "fake",
        object: "chat.completion",
        model: "echo",
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: null,
            tool_calls: [{ id, type: "function", function: { name: "exec", arguments: args } }],
          },
          finish_reason: "tool_calls",
        }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    }
    const encoder = new TextEncoder();
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      encoder.encode(`data: ${
        JSON.stringify({
          id: "fake",
          object: "chat.completion.chunk",
          model: "echo",
          choices: [{ index: 0, delta, finish_reason: finish }],
        })
      }\n\n`);
    const half = Math.ceil(args.length / 2);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk({ role: "assistant", content: null }));
        controller.enqueue(chunk({
          tool_calls: [{
            index: 0,
            id,
            type: "function",
            function: { name: "exec", arguments: args.slice(0, half) },
          }],
        }));
        controller.enqueue(
          chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }),
        );
        controller.enqueue(chunk({}, "tool_calls"));
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
      },
      cancel() {
        record.aborted = true;
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }
}
