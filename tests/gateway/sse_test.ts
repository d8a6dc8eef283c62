import assert from "node:assert/strict";
import { SseParser } from "../../src/gateway/sse.ts";

function feed(chunks: string[]) {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

Deno.test("sse: events split at every possible byte boundary parse the same", () => {
  const stream = 'data: {"a":1}\n\nevent: note\ndata: two\n\ndata: [DONE]\n\n';
  const expected = [{ event: undefined, data: '{"a":1}' }, { event: "note", data: "two" }, {
    event: undefined,
    data: "[DONE]",
  }];
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(feed([stream.slice(0, i), stream.slice(i)]), expected, `split at ${i}`);
  }
  assert.deepEqual(feed([...stream]), expected, "one character at a time");
});

Deno.test("sse: multi-line data joins with newlines", () => {
  assert.deepEqual(feed(["data: line one\ndata: line two\ndata:\ndata:x\n\n"]), [{
    event: undefined,
    data: "line one\nline two\n\nx",
  }]);
});

Deno.test("sse: CRLF and CR line endings, including CRLF split across chunks", () => {
  assert.deepEqual(feed(["data: a\r\n\r\ndata: b\r\rdata: c\r", "\n\r", "\n"]), [
    { event: undefined, data: "a" },
    { event: undefined, data: "b" },
    { event: undefined, data: "c" },
  ]);
});

Deno.test("sse: comments, unknown fields and empty events are ignored; an unterminated event is dropped", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(": keep-alive\nid: 7\nretry: 10\n\n\ndata: tail"), []);
  assert.deepEqual(parser.end(), []);
});
