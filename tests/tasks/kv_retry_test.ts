import assert from "node:assert/strict";
import { isBusyError, retryBusy } from "../../src/tasks/kv_retry.ts";

/** An operation that fails with `error` `times` times, then returns "done". */
function failing(times: number, error: Error): { run: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    run: () => {
      calls++;
      return calls <= times ? Promise.reject(error) : Promise.resolve("done");
    },
    calls: () => calls,
  };
}

Deno.test("kv retry: SQLite's busy errors are the retryable ones", () => {
  assert.equal(isBusyError(new Error("database is locked")), true);
  assert.equal(isBusyError(new Error("SQLITE_BUSY: Busy")), true);
  assert.equal(isBusyError(new Error("value too large")), false);
  assert.equal(isBusyError("database is locked"), false);
});

Deno.test("kv retry: a busy operation is tried again until it succeeds", async () => {
  const op = failing(3, new Error("database is locked"));
  assert.equal(await retryBusy(op.run), "done");
  assert.equal(op.calls(), 4);
});

Deno.test("kv retry: other errors are thrown at once", async () => {
  const op = failing(1, new TypeError("bad key"));
  await assert.rejects(retryBusy(op.run), TypeError);
  assert.equal(op.calls(), 1);
});

Deno.test("kv retry: past its attempts the busy error is thrown", async () => {
  const op = failing(10, new Error("database is locked"));
  await assert.rejects(retryBusy(op.run, { attempts: 2 }), /database is locked/);
  assert.equal(op.calls(), 3);
});

Deno.test("kv retry: works on a real KV operation", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await retryBusy(() => kv.set(["k"], 1));
    assert.equal((await retryBusy(() => kv.get<number>(["k"]))).value, 1);
  } finally {
    kv.close();
  }
});
