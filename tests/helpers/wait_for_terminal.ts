/**
 * Waiting, in tests, for a task to finish: the product never waits on a
 * task (clients poll `openclaw_task_status` or `tasks/get`), so this lives
 * with the tests.
 *
 * @module
 */
import { isTerminal, type TaskStore } from "../../src/tasks/store.ts";

/** How {@linkcode waitForTerminal} polls. */
export interface WaitOptions {
  /** Stops waiting (without an error) when aborted. */
  signal?: AbortSignal;
  /** Time between reads. Default 100 ms. */
  intervalMs?: number;
}

/**
 * Resolves once task `id` is completed, failed or cancelled, or is gone,
 * reading the store every `intervalMs`.
 */
export async function waitForTerminal(
  store: TaskStore,
  id: string,
  options: WaitOptions = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 100;
  while (!options.signal?.aborted) {
    const found = await store.read(id);
    if (!found || isTerminal(found.task.status)) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
