/**
 * A task's text (message, reply, reply so far) cut into chunks that fit
 * KV's 64 KiB value cap, written and read back whole.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import { chunkKey, type ChunkKind, chunkPrefix, partialKey } from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";
import type { TaskRecord } from "./task.ts";

/** Characters per stored chunk: two-byte strings stay under KV's 64 KiB value cap. */
export const CHUNK_CHARS = 30_000;
/** Chunks written per atomic commit (KV caps a commit at 800 KiB). */
export const CHUNKS_PER_COMMIT = 10;

/** Where a text's chunks go: the task, the kind of text and the attempt. */
export interface TextAt {
  /** The task the text belongs to. */
  id: string;
  /** Which text: the message, the final reply, or the reply so far. */
  kind: ChunkKind;
  /** Attempt the text belongs to (0 for the message). */
  attempt: number;
}

/** `text` cut into chunks of {@linkcode CHUNK_CHARS} characters (none for ""). */
export function chunk(text: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK_CHARS) parts.push(text.slice(i, i + CHUNK_CHARS));
  return parts;
}

/** Sets `parts` in `op` as chunks `first`, `first + 1`, ... of the text at `at`. */
export function setChunks(
  op: Deno.AtomicOperation,
  at: TextAt,
  options: { parts: string[]; first?: number },
): void {
  const first = options.first ?? 0;
  options.parts.forEach((part, i) =>
    op.set(chunkKey(at.id, { kind: at.kind, attempt: at.attempt, index: first + i }), part)
  );
}

/**
 * Writes `parts` in commits of {@linkcode CHUNKS_PER_COMMIT} (a reply too
 * large for the commit that makes it visible).
 */
export async function writeChunks(kv: Deno.Kv, at: TextAt, parts: string[]): Promise<void> {
  for (let i = 0; i < parts.length; i += CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    setChunks(op, at, { parts: parts.slice(i, i + CHUNKS_PER_COMMIT), first: i });
    await retryBusy(() => op.commit());
  }
}

/**
 * The text at `at`, joined from its `chunks` chunks.
 *
 * @throws {BridgeError} `internal` when a chunk is missing.
 */
export async function readText(kv: Deno.Kv, at: TextAt & { chunks: number }): Promise<string> {
  const parts: string[] = [];
  const iter = kv.list<string>({ prefix: chunkPrefix(at.id, at) });
  for await (const entry of iter) parts[entry.key[4] as number] = entry.value;
  // An index loop, not `some`: `some` skips the holes a missing middle chunk leaves.
  let complete = parts.length >= at.chunks;
  for (let i = 0; complete && i < at.chunks; i++) complete = parts[i] !== undefined;
  if (!complete) {
    throw new BridgeError("internal", `Stored ${at.kind} of task ${at.id} is incomplete.`, "");
  }
  return parts.slice(0, at.chunks).join("");
}

/** The reply so far of a running task's current attempt ("" if none yet). */
export async function readPartial(kv: Deno.Kv, task: TaskRecord): Promise<string> {
  const meta = await kv.get<{ attempt: number; chunks: number }>(partialKey(task.id));
  if (!meta.value || meta.value.attempt !== task.attempt) return "";
  return await readText(kv, {
    id: task.id,
    kind: "partial",
    attempt: task.attempt,
    chunks: meta.value.chunks,
  }).catch(() => "");
}

/** The start of the text at `at` (at most `chars` characters): its first chunk only. */
export async function readHead(kv: Deno.Kv, at: TextAt, chars: number): Promise<string> {
  const first = await kv.get<string>(chunkKey(at.id, { ...at, index: 0 }));
  return (first.value ?? "").slice(0, chars);
}

/** The end of a running task's reply so far, and the length of the whole. */
export interface PartialTail {
  /** The last characters (at most the number asked for); "" if nothing yet. */
  text: string;
  /** Characters of the reply so far. */
  chars: number;
}

/**
 * The last `chars` characters of the reply so far of the task's current
 * attempt, reading only the chunks that hold them (every chunk but the
 * last is full), so a large growing reply costs the same as a small one.
 */
export async function readPartialTail(
  kv: Deno.Kv,
  task: TaskRecord,
  chars: number,
): Promise<PartialTail> {
  const meta = await kv.get<{ attempt: number; chunks: number }>(partialKey(task.id));
  if (!meta.value || meta.value.attempt !== task.attempt || meta.value.chunks === 0) {
    return { text: "", chars: 0 };
  }
  const { chunks } = meta.value;
  const first = Math.max(0, chunks - 1 - Math.ceil(chars / CHUNK_CHARS));
  const at = { kind: "partial" as const, attempt: task.attempt };
  const parts: string[] = [];
  const iter = kv.list<string>({
    start: chunkKey(task.id, { ...at, index: first }),
    end: chunkKey(task.id, { ...at, index: chunks }),
  });
  for await (const entry of iter) parts.push(entry.value);
  const last = parts.at(-1) ?? "";
  const text = parts.join("");
  return {
    text: text.slice(Math.max(0, text.length - chars)),
    chars: (chunks - 1) * CHUNK_CHARS + last.length,
  };
}

/**
 * Saves the reply so far. Only chunks from `options.fromChars` on are
 * rewritten, so frequent saves of a growing reply stay cheap.
 */
export async function savePartial(
  kv: Deno.Kv,
  task: TaskRecord,
  options: { text: string; fromChars?: number },
): Promise<void> {
  const fromChars = options.fromChars ?? 0;
  const first = Math.floor(fromChars / CHUNK_CHARS);
  const parts = chunk(options.text);
  const at: TextAt = { id: task.id, kind: "partial", attempt: task.attempt };
  for (let i = first; i < parts.length; i += CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    setChunks(op, at, { parts: parts.slice(i, i + CHUNKS_PER_COMMIT), first: i });
    if (i + CHUNKS_PER_COMMIT >= parts.length) {
      op.set(partialKey(task.id), { attempt: task.attempt, chunks: parts.length });
    }
    await retryBusy(() => op.commit());
  }
}
