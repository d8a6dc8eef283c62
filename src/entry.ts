/**
 * What the entry points (`main.ts`, `deploy.ts`) share: a bad configuration
 * ends the program with one line on stderr and exit code 2, never a stack.
 *
 * @module
 */
import { ConfigError } from "./config.ts";

/** The exit code for a bad configuration (flags, env, file, bind address). */
export const CONFIG_EXIT_CODE = 2;

/**
 * Runs an entry point's work and returns its exit code: what `run` returns
 * (0 when it returns nothing), or {@linkcode CONFIG_EXIT_CODE} after printing
 * `openclaw-mcp: <message>` for a {@linkcode ConfigError} thrown at any point.
 * Any other error propagates.
 *
 * @example
 * ```ts
 * Deno.exit(await runEntry(() => main(Deno.args)));
 * ```
 */
export async function runEntry(run: () => Promise<number | void>): Promise<number> {
  try {
    return (await run()) ?? 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`openclaw-mcp: ${error.message}`);
    return CONFIG_EXIT_CODE;
  }
}
