import assert from "node:assert/strict";
import type { Instance } from "../../src/config.ts";
import { BridgeError } from "../../src/errors.ts";
import { readChatStream } from "../../src/gateway/chat_stream.ts";
import { GatewayCall } from "../../src/gateway/request.ts";
import { codeOf } from "../helpers/error_code.ts";

const instance: Instance = {
  name: "t",
  url: "http://127.0.0.1:9",
  timeoutMs: 2_000,
  isDefault: true,
  model: "openclaw",
};

/** An event-stream response of `events` (each one `data:` line), split into `pieces`. */
function stream(events: unknown[], options: { pieces?: number; fail?: boolean } = {}): Response {
  const text = events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`)
    .join("");
  const pieces = options.pieces ?? 1;
  const size = Math.ceil(text.length / pieces);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < text.length; i += size) {
        controller.enqueue(new TextEncoder().encode(text.slice(i, i + size)));
      }
      if (options.fail) controller.error(new TypeError("connection reset"));
      else controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

function delta(content: string, extra: Record<string, unknown> = {}): unknown {
  return { choices: [{ delta: { content } }], ...extra };
}

async function read(response: Response, maxReplyBytes = 10_000) {
  using call = new GatewayCall({ instance, fetch, maxReplyBytes });
  return await readChatStream(response, { call });
}

Deno.test("chat stream: deltas arrive in order; model, usage and finish reason are kept", async () => {
  using call = new GatewayCall({ instance, fetch, maxReplyBytes: 10_000 });
  const seen: [string, string][] = [];
  const reply = await readChatStream(
    stream([
      delta("he", { model: "openclaw/main" }),
      delta("llo"),
      { choices: [{ delta: {}, finish_reason: "stop" }], usage: { total_tokens: 4 } },
      "[DONE]",
    ], { pieces: 7 }),
    { call, onDelta: (d, text) => seen.push([d, text]) },
  );
  assert.deepEqual(seen, [["he", "he"], ["llo", "hello"]]);
  assert.deepEqual(reply, {
    reply: "hello",
    model: "openclaw/main",
    usage: { total_tokens: 4 },
    finishReason: "stop",
  });
});

Deno.test("chat stream: a finish reason without [DONE] is complete; neither is cut off", async () => {
  const finished = await read(stream([delta("a"), {
    choices: [{ delta: {}, finish_reason: "length" }],
  }]));
  assert.equal(finished.reply, "a");
  assert.equal(finished.model, "openclaw");
  assert.equal(await codeOf(read(stream([delta("a")]))), "gateway_disconnected");
  assert.equal(
    await codeOf(read(stream([delta("a")], { fail: true }))),
    "gateway_disconnected",
  );
});

Deno.test("chat stream: error events, junk events and oversize streams are refused", async () => {
  const failed = read(stream([delta("a"), { error: { message: "model down" } }]));
  await assert.rejects(failed, (e) => {
    assert.ok(e instanceof BridgeError);
    assert.equal(e.code, "gateway_error");
    assert.match(e.message, /mid-stream: model down\./);
    return true;
  });
  assert.equal(await codeOf(read(stream(["{not json"]))), "gateway_bad_reply");
  assert.equal(await codeOf(read(stream([{ choices: 3 }]))), "gateway_bad_reply");
  assert.equal(await codeOf(read(stream([delta("x".repeat(200))]), 100)), "gateway_bad_reply");
  assert.equal(await codeOf(read(new Response(null))), "gateway_bad_reply");
});

Deno.test("chat stream: a character split across network chunks arrives whole; the cap counts bytes", async () => {
  const text = `data: ${JSON.stringify(delta("héllo 😀"))}\n\ndata: [DONE]\n\n`;
  const bytes = new TextEncoder().encode(text);
  // Cut inside the "é" (2 bytes) and inside the emoji (4 bytes).
  const cuts = [text.indexOf("é") + 1, text.indexOf("😀") + 2].map((i) =>
    new TextEncoder().encode(text.slice(0, i)).length - (i === text.indexOf("é") + 1 ? 1 : 2)
  );
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let from = 0;
      for (const cut of [...cuts, bytes.length]) {
        controller.enqueue(bytes.slice(from, cut));
        from = cut;
      }
      controller.close();
    },
  });
  const reply = await read(
    new Response(body, { headers: { "content-type": "text/event-stream" } }),
  );
  assert.equal(reply.reply, "héllo 😀");
  // 9 characters of JSON text but more bytes: the cap is in bytes.
  const wide = stream([delta("€".repeat(400)), "[DONE]"]);
  assert.equal(await codeOf(read(wide, 1_000)), "gateway_bad_reply");
});

Deno.test("chat stream: the completion's id (the gateway's run id) is told once, as soon as a chunk names it", async () => {
  using call = new GatewayCall({ instance, fetch, maxReplyBytes: 10_000 });
  const ids: string[] = [];
  await readChatStream(
    stream([
      delta("a", { id: "chatcmpl-1" }),
      delta("b", { id: "chatcmpl-1" }),
      { choices: [{ delta: {}, finish_reason: "stop" }] },
      "[DONE]",
    ]),
    { call, onRunId: (id) => ids.push(id) },
  );
  assert.deepEqual(ids, ["chatcmpl-1"]);
});
