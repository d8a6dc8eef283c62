import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import {
  chunk,
  CHUNK_CHARS,
  readHead,
  readPartial,
  readPartialTail,
  readText,
  savePartial,
  writeChunks,
} from "../../src/tasks/chunks.ts";
import { keysUnder, taskRecord } from "../helpers/task_kv.ts";

Deno.test("chunks: text is cut at CHUNK_CHARS; nothing for an empty text", () => {
  assert.deepEqual(chunk(""), []);
  const parts = chunk("x".repeat(2 * CHUNK_CHARS + 1));
  assert.deepEqual(parts.map((p) => p.length), [CHUNK_CHARS, CHUNK_CHARS, 1]);
});

Deno.test("chunks: written in several commits, read back whole; a missing chunk is an error", async () => {
  await using kv = await Deno.openKv(":memory:");
  const text = Array.from({ length: 11 * CHUNK_CHARS + 3 }, (_, i) => "ab€😀"[i % 4]).join("");
  const at = { id: "t1", kind: "result" as const, attempt: 1 };
  const parts = chunk(text);
  await writeChunks(kv, at, parts);
  assert.equal(await readText(kv, { ...at, chunks: parts.length }), text);
  // A missing chunk in the middle is noticed (the text would come back silently shortened)...
  await kv.delete(["chunk", "t1", "result", 1, 5]);
  await assert.rejects(
    readText(kv, { ...at, chunks: parts.length }),
    (e) => e instanceof BridgeError && e.code === "internal",
  );
  // ...and so is a missing last one.
  await writeChunks(kv, at, parts);
  await kv.delete(["chunk", "t1", "result", 1, parts.length - 1]);
  await assert.rejects(
    readText(kv, { ...at, chunks: parts.length }),
    (e) => e instanceof BridgeError && e.code === "internal",
  );
});

Deno.test("chunks: the reply so far is tied to the attempt and rewritten from fromChars", async () => {
  await using kv = await Deno.openKv(":memory:");
  const task = taskRecord("t1", { status: "running", attempt: 1 });
  assert.equal(await readPartial(kv, task), "");
  const first = "p".repeat(CHUNK_CHARS + 5);
  await savePartial(kv, task, { text: first });
  assert.equal(await readPartial(kv, task), first);
  const more = first + "q".repeat(CHUNK_CHARS);
  await kv.set(["chunk", "t1", "partial", 1, 0], "stale");
  await savePartial(kv, task, { text: more, fromChars: first.length });
  // Chunk 0 was not rewritten: only from the chunk holding fromChars on.
  assert.equal((await readPartial(kv, task)).slice(0, 5), "stale");
  assert.equal((await keysUnder(kv, ["chunk", "t1", "partial", 1])).length, 3);
  assert.equal(await readPartial(kv, { ...task, attempt: 2 }), "");
});

Deno.test("chunks: readHead reads the first chunk only, cut to the length asked", async () => {
  await using kv = await Deno.openKv(":memory:");
  const at = { id: "t1", kind: "message" as const, attempt: 0 };
  assert.equal(await readHead(kv, at, 10), "", "no text yet");
  await writeChunks(kv, at, chunk("a".repeat(CHUNK_CHARS) + "b"));
  assert.equal(await readHead(kv, at, 5), "aaaaa");
  assert.equal((await readHead(kv, at, 2 * CHUNK_CHARS)).length, CHUNK_CHARS);
});

Deno.test("chunks: readPartialTail gives the end of the reply so far and its length", async () => {
  await using kv = await Deno.openKv(":memory:");
  const task = taskRecord("t1", { status: "running", attempt: 1 });
  assert.deepEqual(await readPartialTail(kv, task, 10), { text: "", chars: 0 });
  await savePartial(kv, task, { text: "hello world" });
  assert.deepEqual(await readPartialTail(kv, task, 5), { text: "world", chars: 11 });
  assert.deepEqual(await readPartialTail(kv, task, 100), { text: "hello world", chars: 11 });
  // Across chunk boundaries: only the chunks holding the tail are read.
  const long = "x".repeat(2 * CHUNK_CHARS) + "y".repeat(10) + "z".repeat(5);
  await savePartial(kv, task, { text: long });
  await kv.set(["chunk", "t1", "partial", 1, 0], "not read");
  assert.deepEqual(await readPartialTail(kv, task, 15), {
    text: "y".repeat(10) + "z".repeat(5),
    chars: long.length,
  });
  await savePartial(kv, task, { text: long });
  const wide = await readPartialTail(kv, task, CHUNK_CHARS + 20);
  assert.ok(wide.text === long.slice(-(CHUNK_CHARS + 20)), "a tail longer than a chunk");
  assert.deepEqual(await readPartialTail(kv, { ...task, attempt: 2 }, 5), { text: "", chars: 0 });
});
