/**
 * The "fake LLM": a loopback OpenAI-compatible model provider for the real
 * OpenClaw gateway. It finds our marker `[[m:<text>]]` in what the model
 * receives (the gateway wraps the user turn in much more) and answers
 * `ECHO <text> TURNS=<n>`, n being how many of our markers it saw in user
 * messages: the earlier turns of the same session show up there.
 * `[[slow]]` in the message streams one word every 200 ms.
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
    for (const m of body.messages ?? []) {
      if (m.role !== "user") continue;
      const content = typeof m.content === "string"
        ? m.content
        : (m.content ?? []).map((p: { text?: string }) => p.text ?? "").join(" ");
      userTexts.push(content);
    }
    const all = userTexts.join("\n");
    const markers = [...all.matchAll(/\[\[m:([^\]]+)\]\]/g)].map((m) => m[1]);
    const record: LlmRequest = { markers, stream: !!body.stream, aborted: false };
    this.requests.push(record);
    info.completed.catch(() => {
      record.aborted = true;
    });
    const last = markers.at(-1) ?? "no-marker";
    const reply = `ECHO ${last} TURNS=${new Set(markers).size}`;
    // The gateway adds user messages of its own after ours: look at the one
    // that carries the latest marker.
    const ours = userTexts.findLast((text) => text.includes("[[m:"));
    const slow = ours?.includes("[[slow]]") ?? false;
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
}
