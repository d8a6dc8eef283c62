/** The session event store: bounded by events per stream, bytes, age and a grace window. */
import assert from "node:assert/strict";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import {
  BoundedEventStore,
  EVENT_BYTES_PER_SESSION,
  EVENT_MAX_AGE_MS,
  FINISHED_STREAM_GRACE_MS,
  PRUNE_INTERVAL_MS,
} from "../../src/http/event_store.ts";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

function progress(text: string): JSONRPCMessage {
  return {
    jsonrpc: "2.0",
    method: "notifications/progress",
    params: { progressToken: 1, progress: text.length, message: text },
  };
}

function result(id: number, text: string): JSONRPCMessage {
  return { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } };
}

async function replay(store: BoundedEventStore, after: string): Promise<string[]> {
  const sent: string[] = [];
  await store.replayEventsAfter(after, {
    send: (id) => Promise.resolve(void sent.push(id)),
  });
  return sent;
}

const bytesOf = (m: JSONRPCMessage) => new TextEncoder().encode(JSON.stringify(m)).length;

Deno.test("event store: counts serialized UTF-8 bytes and frees them with the events", async () => {
  const store = new BoundedEventStore({ perStream: 2 });
  const messages = [progress("a"), progress("ж".repeat(10)), progress("😀 wide"), result(1, "x")];
  for (const m of messages) await store.storeEvent("s", m);
  // Two per stream: the last two remain.
  assert.equal(store.size, 2);
  assert.equal(store.bytes, bytesOf(messages[2]) + bytesOf(messages[3]));
});

Deno.test("event store: the oldest events go first when a session passes its byte budget", async () => {
  const store = new BoundedEventStore({ maxBytes: 1_000 });
  const big = progress("x".repeat(300));
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await store.storeEvent("old", big));
  ids.push(await store.storeEvent("new", big));
  assert.ok(store.bytes <= 1_000, `${store.bytes} bytes`);
  assert.equal(store.size, 2, "two of ~360 bytes fit in 1,000");
  // The old stream is still held: a resume replays what is left of it.
  assert.equal(await store.getStreamIdForEventId(ids[0]), "old");
  assert.deepEqual(await replay(store, ids[0]), [ids[2]]);
  assert.deepEqual(await replay(store, ids[3]), []);
});

Deno.test("event store: a single event larger than the budget is not held", async () => {
  const store = new BoundedEventStore({ maxBytes: 100 });
  await store.storeEvent("s", result(1, "x".repeat(500)));
  assert.equal(store.bytes, 0);
  assert.equal(store.size, 0);
});

Deno.test("event store: a finished stream is dropped after the grace window, an open one is not", async () => {
  const c = clock();
  const store = new BoundedEventStore({ now: c.now });
  const first = await store.storeEvent("done", progress("working"));
  await store.storeEvent("done", result(1, "reply"));
  const open = await store.storeEvent("open", progress("still working"));
  c.t += FINISHED_STREAM_GRACE_MS - 1;
  store.prune();
  assert.equal(await store.getStreamIdForEventId(first), "done", "a reconnect in time replays");
  assert.equal((await replay(store, first)).length, 1);
  c.t += 1;
  store.prune();
  assert.equal(await store.getStreamIdForEventId(first), undefined, "then it is gone");
  assert.deepEqual(await replay(store, first), []);
  assert.equal(await store.getStreamIdForEventId(open), "open");
  assert.equal(store.bytes, bytesOf(progress("still working")));
});

Deno.test("event store: more events after a response keep the stream open (a batch)", async () => {
  const c = clock();
  const store = new BoundedEventStore({ now: c.now });
  const id = await store.storeEvent("batch", result(1, "first"));
  await store.storeEvent("batch", progress("second is running"));
  c.t += FINISHED_STREAM_GRACE_MS * 2;
  store.prune();
  assert.equal(await store.getStreamIdForEventId(id), "batch");
});

Deno.test("event store: events older than the age limit are dropped", async () => {
  const c = clock();
  const store = new BoundedEventStore({ now: c.now });
  const early = await store.storeEvent("_GET_stream", progress("early"));
  c.t += EVENT_MAX_AGE_MS / 2;
  const late = await store.storeEvent("_GET_stream", progress("late"));
  c.t += EVENT_MAX_AGE_MS / 2;
  store.prune();
  assert.deepEqual(await replay(store, early), [late], "only the late one is left");
  c.t += EVENT_MAX_AGE_MS / 2;
  store.prune();
  assert.equal(store.size, 0);
  assert.equal(store.bytes, 0);
  assert.equal(store.streams, 0, "a stream silent for the whole age limit is forgotten");
  assert.equal(await store.getStreamIdForEventId(late), undefined);
});

Deno.test("event store: ids never repeat, even for a stream seen again after it was dropped", async () => {
  const c = clock();
  const store = new BoundedEventStore({ now: c.now });
  const before = await store.storeEvent("s", result(1, "a"));
  c.t += FINISHED_STREAM_GRACE_MS;
  store.prune();
  const after = await store.storeEvent("s", progress("b"));
  assert.notEqual(before, after);
  assert.deepEqual(await replay(store, before), [after]);
});

Deno.test("event store: the default budget is a few MiB", () => {
  assert.ok(EVENT_BYTES_PER_SESSION >= 1024 * 1024 && EVENT_BYTES_PER_SESSION <= 4 * 1024 * 1024);
  assert.ok(FINISHED_STREAM_GRACE_MS >= 30_000 && FINISHED_STREAM_GRACE_MS <= 120_000);
});

Deno.test("event_store: streams are walked at most once a second; the byte budget always holds", () => {
  let t = 0;
  const store = new BoundedEventStore({ finishedGraceMs: 100, maxBytes: 400, now: () => t });
  const response = (id: number) => ({ jsonrpc: "2.0" as const, id, result: {} });
  const note = (text: string) => ({
    jsonrpc: "2.0" as const,
    method: "notifications/progress",
    params: { progressToken: 1, progress: 1, message: text },
  });
  store.storeEvent("a", response(1));
  t = 200;
  store.storeEvent("b", note("x"));
  assert.equal(store.streams, 2, "a is past its grace, but the walk waits for its interval");
  t = PRUNE_INTERVAL_MS;
  store.storeEvent("b", note("y"));
  assert.equal(store.streams, 1, "the next walk drops a");
  t = PRUNE_INTERVAL_MS + 10;
  for (let i = 0; i < 10; i++) store.storeEvent("b", note("z".repeat(100)));
  assert.ok(store.bytes <= 400, `within budget between walks: ${store.bytes}`);
});
