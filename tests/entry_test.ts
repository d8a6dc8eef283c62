/** `runEntry`: the exit code of an entry point, and a bad configuration as one line and code 2. */
import assert from "node:assert/strict";
import { ConfigError } from "../src/config.ts";
import { CONFIG_EXIT_CODE, runEntry } from "../src/entry.ts";

/** Runs `fn` with console.error captured. */
async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string[] }> {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    return { value: await fn(), printed };
  } finally {
    console.error = original;
  }
}

Deno.test("runEntry: the work's own code, 0 when it returns nothing", async () => {
  assert.equal(await runEntry(() => Promise.resolve(3)), 3);
  assert.equal(await runEntry(() => Promise.resolve()), 0);
});

Deno.test("runEntry: a ConfigError is one line on stderr and exit code 2", async () => {
  const { value, printed } = await capture(() =>
    runEntry(() => Promise.reject(new ConfigError("PORT/--port=x: not a number")))
  );
  assert.equal(value, CONFIG_EXIT_CODE);
  assert.equal(CONFIG_EXIT_CODE, 2);
  assert.deepEqual(printed, ["openclaw-mcp: PORT/--port=x: not a number"]);
});

Deno.test("runEntry: any other error propagates untouched", async () => {
  const bug = new TypeError("a bug");
  const { printed } = await capture(async () => {
    await assert.rejects(runEntry(() => Promise.reject(bug)), (e) => e === bug);
  });
  assert.deepEqual(printed, []);
});
