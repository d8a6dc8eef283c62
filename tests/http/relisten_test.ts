/**
 * `relisten` with listeners the test controls: a failed listener is logged
 * and replaced on the same port after a doubling wait, a failed attempt to
 * listen counts as another failure, and stopping ends the loop at once,
 * even in the middle of a wait.
 */
import assert from "node:assert/strict";
import type { Logger } from "../../src/log.ts";
import {
  type Listener,
  relisten,
  RELISTEN_FIRST_MS,
  RELISTEN_MAX_MS,
} from "../../src/http/relisten.ts";

type Entry = { event: string; fields: Record<string, unknown> };

function recorder(): {
  log: Logger;
  entries: Entry[];
  waitFor(event: string, n?: number): Promise<void>;
} {
  const entries: Entry[] = [];
  const record = (event: string, fields: Record<string, unknown> = {}) => {
    entries.push({ event, fields });
  };
  const log = { debug: record, info: record, warn: record, error: record };
  const waitFor = async (event: string, n = 1) => {
    while (entries.filter((e) => e.event === event).length < n) {
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { log, entries, waitFor };
}

/** A listener that stays open until the test fails or closes it. */
function listener(): Listener & { close(): void; fail(error: Error): void } {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  return { finished: promise, close: () => resolve(), fail: reject };
}

Deno.test("relisten: a failed listener is logged with a hint and replaced on the same port", async () => {
  const { log, entries, waitFor } = recorder();
  const stopping = new AbortController();
  const first = listener();
  const ports: number[] = [];
  const opened: ReturnType<typeof listener>[] = [];
  const done = relisten(first, {
    port: 4321,
    signal: stopping.signal,
    log,
    listen(port, onListen) {
      ports.push(port);
      const next = listener();
      opened.push(next);
      onListen();
      return next;
    },
  });
  first.fail(new Error("Too many open files (os error 24)"));
  await waitFor("http_listener_resumed");
  assert.deepEqual(ports, [4321]);
  const failed = entries.find((e) => e.event === "http_listener_failed")!;
  assert.equal(failed.fields.error, "Error: Too many open files (os error 24)");
  assert.equal(failed.fields.port, 4321);
  assert.equal(failed.fields.failures, 1);
  assert.equal(failed.fields.retry_ms, RELISTEN_FIRST_MS);
  assert.match(String(failed.fields.hint), /out of file handles/);
  assert.deepEqual(entries.find((e) => e.event === "http_listener_resumed")!.fields, {
    port: 4321,
    failures: 1,
  });

  // A listener that merely closes counts too, without the file-handle hint.
  opened[0].close();
  await waitFor("http_listener_resumed", 2);
  const second = entries.filter((e) => e.event === "http_listener_failed")[1];
  assert.equal(second.fields.error, "Error: the listener closed");
  assert.equal(second.fields.failures, 2);
  assert.equal(second.fields.retry_ms, RELISTEN_FIRST_MS * 2);
  assert.equal(second.fields.hint, undefined);

  stopping.abort();
  await done;
  assert.equal(ports.length, 2, "no listening after the stop");
});

Deno.test("relisten: an attempt that throws waits longer, up to RELISTEN_MAX_MS", async () => {
  const { log, entries, waitFor } = recorder();
  const stopping = new AbortController();
  const first = listener();
  let attempts = 0;
  const done = relisten(first, {
    port: 1,
    signal: stopping.signal,
    log,
    listen(_port, onListen) {
      if (++attempts < 3) throw new Error("Address in use");
      onListen();
      return listener();
    },
  });
  first.fail(new Error("boom"));
  await waitFor("http_listener_resumed");
  const failed = entries.filter((e) => e.event === "http_listener_failed");
  assert.deepEqual(failed.map((e) => e.fields.retry_ms), [100, 200, 400]);
  assert.deepEqual(failed.map((e) => e.fields.error), [
    "Error: boom",
    "Error: Address in use",
    "Error: Address in use",
  ]);
  assert.ok(failed.every((e) => Number(e.fields.retry_ms) <= RELISTEN_MAX_MS));
  stopping.abort();
  await done;
});

Deno.test("relisten: stopping ends a wait at once and a stopped loop never listens", async () => {
  const { log } = recorder();
  const stopping = new AbortController();
  const first = listener();
  let attempts = 0;
  const options = {
    port: 1,
    signal: stopping.signal,
    log,
    listen: () => {
      attempts++;
      return listener();
    },
  };
  const done = relisten(first, options);
  first.fail(new Error("boom"));
  await new Promise((r) => setTimeout(r, 10));
  const started = performance.now();
  stopping.abort();
  await done;
  assert.ok(performance.now() - started < RELISTEN_FIRST_MS, "did not sit out the wait");
  assert.equal(attempts, 0);

  await relisten(listener(), options);
  assert.equal(attempts, 0, "already stopped: returns without listening");
});
