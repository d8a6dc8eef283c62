/**
 * KvU64 counters (counts, quotas, slots): reading one as a number and
 * adding a signed amount in an atomic operation.
 *
 * @module
 */

const U64 = 1n << 64n;

/** A KvU64 counter as a number; a value that wrapped below zero reads as 0. */
export function counter(entry: Deno.KvEntryMaybe<Deno.KvU64>): number {
  const value = entry.value?.value ?? 0n;
  return value >= 1n << 63n ? 0 : Number(value);
}

/** Adds `delta` (may be negative) to a KvU64 counter in `op`; KV sums wrap modulo 2^64. */
export function add(op: Deno.AtomicOperation, key: Deno.KvKey, delta: number): void {
  if (delta === 0) return;
  op.sum(key, delta > 0 ? BigInt(delta) : U64 + BigInt(delta));
}
