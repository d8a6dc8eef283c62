/**
 * `main.ts` for the bench's memory rows: the same server, plus a trigger
 * that exists only here (nothing in `main.ts` or `src/` can reach it). On
 * SIGUSR2 it forces a full GC and writes one line to stderr:
 * `{"event":"bench_memory","rss":…,"heapTotal":…,"heapUsed":…,"external":…,
 * "malloced":…,"spaces":{"old_space":[committed,used],…}}` (bytes,
 * `Deno.memoryUsage()` and V8's heap statistics after the GC). Run it with
 * `--v8-flags=--expose-gc`; without it the line says `"gc":false` and the
 * figures are read without collecting.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/gc_main.ts --transport http
 * kill -USR2 <pid>
 * ```
 *
 * @module
 */
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";
import { main } from "../main.ts";

const gc = (globalThis as { gc?: (options?: unknown) => unknown }).gc;
Deno.addSignalListener("SIGUSR2", () => {
  // Twice: weak references and finalizers freed by the first are collected by the second.
  gc?.();
  gc?.();
  const usage = Deno.memoryUsage();
  // Committed and used bytes per V8 space, and V8's own malloc (not the heap).
  const spaces = Object.fromEntries(
    getHeapSpaceStatistics().filter((s) => s.space_size > 0).map((
      s,
    ) => [s.space_name, [s.space_size, s.space_used_size]]),
  );
  const malloced = getHeapStatistics().malloced_memory;
  console.error(JSON.stringify({ event: "bench_memory", gc: !!gc, ...usage, malloced, spaces }));
});

Deno.exit(await main(Deno.args));
