/**
 * Token buckets per key: `perMinute` requests may come in a burst, and each
 * bucket refills evenly over the minute. Used for HTTP rate limits and for
 * OAuth password and registration attempts.
 *
 * @module
 */

/**
 * Most buckets kept. A new key past this drops the full (idle) buckets and,
 * if that is not enough, the least recently used ones down to 90 %: the
 * sweep runs at most once per tenth of the cap in new keys, never per take,
 * and memory stays bounded even when every bucket is busy (many addresses
 * at once). A dropped busy bucket comes back full: only a client holding
 * this many keys at once can reset its own, and it has that many already.
 */
export const MAX_BUCKETS = 10_000;

/**
 * The outcome of {@linkcode TokenBuckets.take}. `never` marks a take larger
 * than the bucket can ever hold: no wait makes it succeed, and its
 * `retryAfterSeconds` is a full refill (for a caller that only paces).
 */
export type Take =
  | { ok: true }
  | { ok: false; retryAfterSeconds: number; never?: true };

/** A token bucket per key. */
export class TokenBuckets {
  #capacity: number;
  #refillPerMs: number;
  #now: () => number;
  #buckets = new Map<string, { tokens: number; at: number }>();

  /** Creates buckets of `perMinute` tokens each. */
  constructor(perMinute: number, now: () => number = Date.now) {
    this.#capacity = perMinute;
    this.#refillPerMs = perMinute / 60_000;
    this.#now = now;
  }

  /**
   * Takes `count` tokens for `key` (all or none), or says how long until
   * that many are free. A `count` above the capacity never succeeds, even
   * from a full bucket: it is refused with `never: true` and a full refill
   * as its wait, and takes nothing.
   */
  take(key: string, count = 1): Take {
    const t = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      // Most recently used last: Map order is the eviction order.
      this.#buckets.delete(key);
    } else {
      if (this.#buckets.size >= MAX_BUCKETS) this.#shrink(t);
      bucket = { tokens: this.#capacity, at: t };
    }
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + (t - bucket.at) * this.#refillPerMs);
    bucket.at = t;
    this.#buckets.set(key, bucket);
    if (count > this.#capacity) {
      return { ok: false, retryAfterSeconds: this.#refillSeconds(this.#capacity), never: true };
    }
    if (bucket.tokens < count) {
      return { ok: false, retryAfterSeconds: this.#refillSeconds(count - bucket.tokens) };
    }
    bucket.tokens -= count;
    return { ok: true };
  }

  /** Whole seconds (at least one) until `missing` tokens have refilled. */
  #refillSeconds(missing: number): number {
    return Math.max(1, Math.ceil(missing / this.#refillPerMs / 1000));
  }

  /** Buckets held now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Drops full buckets, then the least recently used, to 90 % of the cap. */
  #shrink(t: number): void {
    // Full buckets carry no information.
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (t - b.at) * this.#refillPerMs >= this.#capacity) this.#buckets.delete(k);
    }
    const target = Math.floor(MAX_BUCKETS * 0.9);
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(k);
    }
  }

  /** Returns `count` tokens to `key`'s bucket (never above capacity). */
  give(key: string, count = 1): void {
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.#capacity, bucket.tokens + count);
  }
}
