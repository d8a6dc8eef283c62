/** `readCapped`: bodies within the cap are read whole; past it, refused and cancelled. */
import assert from "node:assert/strict";
import { BodyTooLarge, readCapped } from "../src/read_capped.ts";

/** A streamed body of `chunks`, recording whether the reader cancelled it. */
function streamed(chunks: string[]) {
  const state = { cancelled: false, pulled: 0 };
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks.length) return controller.close();
      controller.enqueue(encoder.encode(chunks[state.pulled++]));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { response: new Response(body), state };
}

Deno.test("readCapped: a body within the cap is read whole, across chunks and multi-byte characters", async () => {
  const { response } = streamed(["héllo ", "wörld"]);
  assert.equal(await readCapped(response, 1_000), "héllo wörld");
  // "é" is two bytes: split across chunks it still decodes.
  const bytes = new TextEncoder().encode("é");
  const split = new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(bytes.slice(0, 1));
        c.enqueue(bytes.slice(1));
        c.close();
      },
    }),
  );
  assert.equal(await readCapped(split, 2), "é");
  assert.equal(await readCapped(new Response(null), 0), "");
});

Deno.test("readCapped: exactly the cap is fine, one byte more is not", async () => {
  assert.equal(await readCapped(new Response("x".repeat(10)), 10), "x".repeat(10));
  await assert.rejects(readCapped(new Response("x".repeat(11)), 10), BodyTooLarge);
});

Deno.test("readCapped: a Content-Length over the cap is refused before reading", async () => {
  const { response, state } = streamed(["small"]);
  const declared = new Response(response.body, { headers: { "content-length": "5000" } });
  const error = await readCapped(declared, 100).catch((e) => e);
  assert.ok(error instanceof BodyTooLarge);
  assert.equal(error.message, "body larger than 100 bytes");
  assert.ok(state.cancelled, "the body is cancelled");
});

Deno.test("readCapped: a streamed body that grows past the cap is cancelled mid-way", async () => {
  const { response, state } = streamed(["1234", "5678", "9abc", "never read"]);
  await assert.rejects(readCapped(response, 6), BodyTooLarge);
  assert.ok(state.cancelled);
  assert.ok(state.pulled < 4, `stopped reading (${state.pulled} chunks pulled)`);
});
