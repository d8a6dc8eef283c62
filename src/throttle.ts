/**
 * Rate-limits a stream of updates (progress notifications, partial saves).
 *
 * @module
 */

/**
 * Calls `send` with the latest value at most once per `intervalMs`, keeping
 * the last value for a trailing call; `stop()` drops anything pending.
 */
export function throttle<T>(
  intervalMs: number,
  send: (value: T) => void,
): { push(value: T): void; stop(): void } {
  let last = -Infinity;
  let pending: T | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    if (pending === undefined) return;
    last = performance.now();
    const value = pending;
    pending = undefined;
    send(value);
  };
  return {
    push(value) {
      pending = value;
      const wait = last + intervalMs - performance.now();
      if (wait <= 0) flush();
      else timer ??= setTimeout(flush, wait);
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}
