/**
 * Retrying a Deno KV operation while SQLite reports the database busy: two
 * processes on one KV file take turns at its write lock, and the loser gets
 * "database is locked" rather than a wait.
 *
 * @module
 */

/** How {@linkcode retryBusy} retries. */
export interface RetryBusyOptions {
  /** Retries after the first try before the busy error is thrown. Default 50. */
  attempts?: number;
}

/** Whether `error` is SQLite's "busy" / "database is locked", which a retry can cure. */
export function isBusyError(error: unknown): boolean {
  return error instanceof Error && /database is locked|busy/i.test(error.message);
}

/**
 * Runs `operation`, and again while it fails busy, with a short jittered
 * backoff that grows with each try (5 to 25 ms at first, at most 205 ms).
 * Any other error is thrown at once.
 *
 * @example
 * ```ts ignore
 * const entry = await retryBusy(() => kv.get(["task", id]));
 * ```
 */
export async function retryBusy<T>(
  operation: () => Promise<T>,
  options: RetryBusyOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 50;
  for (let i = 0;; i++) {
    try {
      return await operation();
    } catch (error) {
      if (!isBusyError(error) || i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * Math.min(i + 1, 10)));
    }
  }
}
