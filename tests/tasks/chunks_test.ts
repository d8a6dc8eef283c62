import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import {
  chunk,
  CHUNK_CHARS,
  readPartial,
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
