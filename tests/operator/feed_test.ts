/**
 * `OperatorFeeds`: SSE of snapshots (JSON or the page's HTML) sent on
 * change, heartbeats, and the bounds: caps per principal and per process,
 * an end after a while, an end when access is gone or the server stops.
 */
import assert from "node:assert/strict";
import { type FeedLimits, OperatorFeeds } from "../../src/operator/feed.ts";
import type { OperatorSnapshot } from "../../src/operator/snapshot.ts";
import { createLogger } from "../../src/log.ts";

const FAST: Partial<FeedLimits> = { intervalMs: 10, maxMs: 60_000, recheckMs: 20, heartbeatMs: 60 };

function feeds(
  state: { n: number; fail?: boolean },
  limits: Partial<FeedLimits> = {},
  logs: string[] = [],
) {
  return new OperatorFeeds({
    snapshot: () =>
      state.fail
        ? Promise.reject(new Error("store down"))
        : Promise.resolve({ now: state.n } as unknown as OperatorSnapshot),
    render: (s) => `<p>n=${s.now}</p>\n<p>second line</p>`,
    log: createLogger({ write: (line) => logs.push(line) }),
    limits: { ...FAST, ...limits },
  });
}

/** Reads the stream until `until` matches what came, or it ends. */
async function read(response: Response, until: RegExp): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!until.test(text)) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += value;
  }
  await reader.cancel();
  return text;
}

const allowed = () => Promise.resolve(true);
/** Reads to the end of the stream. */
const NEVER = /(?!)/;

Deno.test("feed: JSON snapshots on change, a heartbeat when quiet, HTML for the page", async () => {
  const state = { n: 1 };
  const f = feeds(state);
  const json = f.open({ principal: "p", format: "json", allowed });
  assert.equal(json.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(json.headers.get("cache-control"), "no-store");
  const first = await read(json, /: ping/);
  assert.equal(first.match(/event: snapshot/g)?.length, 1, "sent once while unchanged");
  assert.match(first, /^retry: 2000\n\nevent: snapshot\ndata: \{"now":1\}\n\n(: ping\n\n)+$/);

  const html = f.open({ principal: "p", format: "html", allowed });
  const sent = read(html, /n=2/);
  setTimeout(() => state.n = 2, 30);
  const text = await sent;
  assert.match(text, /event: html\ndata: <p>n=1<\/p>\ndata: <p>second line<\/p>\n\n/);
  assert.match(text, /event: html\ndata: <p>n=2<\/p>/);
  f.close();
});

Deno.test("feed: at most N per principal and M in all; a closed feed frees its place", async () => {
  const f = feeds({ n: 1 }, { perPrincipal: 2, total: 3 });
  const a1 = f.open({ principal: "a", format: "json", allowed });
  const a2 = f.open({ principal: "a", format: "json", allowed });
  const a3 = f.open({ principal: "a", format: "json", allowed });
  assert.equal(a3.status, 429);
  assert.equal((await a3.json()).error, "quota_exceeded");
  const b1 = f.open({ principal: "b", format: "json", allowed });
  const b2 = f.open({ principal: "b", format: "json", allowed });
  assert.equal(b2.status, 429, "the process's cap");
  assert.match((await b2.json()).message, /at most 3 open/);
  assert.equal(f.size, 3);
  await a1.body!.cancel();
  for (let i = 0; i < 100 && f.size === 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(f.size, 2);
  const again = f.open({ principal: "a", format: "json", allowed });
  assert.equal(again.status, 200);
  f.close();
  // Each stream ends (read to its end) once closed.
  for (const r of [a2, b1, again]) assert.match(await read(r, NEVER), /^retry: 2000\n\n/);
  assert.equal(f.size, 0, "close() ended every feed");
});

Deno.test("feed: ends after its time, and when its reader may no longer read", async () => {
  const state = { n: 1 };
  const expiring = feeds(state, { maxMs: 80 });
  const text = await read(expiring.open({ principal: "p", format: "json", allowed }), NEVER);
  assert.match(text, /event: end\ndata: \{"reason":"expired"\}\n\n$/);
  assert.equal(expiring.size, 0);

  let may = true;
  const f = feeds(state);
  const response = f.open({ principal: "p", format: "json", allowed: () => Promise.resolve(may) });
  setTimeout(() => may = false, 40);
  assert.match(await read(response, NEVER), /event: end\ndata: \{"reason":"signed_out"\}\n\n$/);
});

Deno.test("feed: a failing snapshot is logged and skipped; the feed goes on", async () => {
  const state = { n: 1, fail: true };
  const logs: string[] = [];
  const f = feeds(state, {}, logs);
  const response = f.open({ principal: "p", format: "json", allowed });
  setTimeout(() => state.fail = false, 40);
  const text = await read(response, /event: snapshot/);
  assert.match(text, /data: \{"now":1\}/);
  assert.ok(logs.some((l) => l.includes("operator_snapshot_failed") && l.includes("store down")));
  f.close();
});
