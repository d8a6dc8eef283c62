/**
 * `deno task bench`: side-by-side figures for (a) a direct gateway call,
 * (b) this server and (c) the Node `openclaw-mcp@1.7.0` server (installed by
 * the harness with npm into a temp folder; skipped, saying why, if npm
 * cannot), all against the loopback test gateway, measured in the same run
 * and interleaved (a b c a b c) so machine drift affects all alike.
 *
 * A second table sets the two protocol eras side by side on the same HTTP
 * server, both through the v2 client (`@modelcontextprotocol/client`):
 * (m) pinned to 2026-07-28 (stateless: each call answered by a fresh server,
 * no session) and (l) pinned to 2025-11-25 (initialize, one session).
 *
 * Run with `--v8-flags=--expose-gc` (as `deno task bench` does) for the
 * in-process session leak rows; without it they are skipped, saying why.
 *
 * Options: `--quick` (small counts), `--latency-ms N` (gateway delay),
 * `--no-stream`, `--no-real` (skip the real OpenClaw gateway row),
 * `--claims-only` (only the claim fairness rows), `--memory-only` (only the
 * RSS/heap rows; prints, does not write the results file).
 * Prints a table; writes `bench/results/latest.json`.
 *
 * @module
 */
import { parseArgs } from "node:util";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { createServer, createToolset } from "../src/server.ts";
import { SessionManager } from "../src/http/sessions.ts";
import { GatewayClient } from "../src/gateway/client.ts";
import { GatewayRegistry } from "../src/gateway/registry.ts";
import { silentLogger } from "../src/log.ts";
import { TaskRunner } from "../src/tasks/runner.ts";
import { isTerminal, TaskStore } from "../src/tasks/store.ts";
import { TestGateway } from "../testing/test_gateway.ts";
import { baseEnv, DENO_RUN, INITIALIZE, startHttp } from "../testing/spawn.ts";
import { FakeLlm } from "../testing/fake_llm.ts";
import { findOpenclaw, freePort, startRealGateway } from "../testing/real_gateway.ts";
import { connectV2Http, type V2Session } from "../testing/v2_client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    "latency-ms": { type: "string" },
    "no-stream": { type: "boolean" },
    "no-real": { type: "boolean" },
    "claims-only": { type: "boolean" },
    "memory-only": { type: "boolean" },
  },
});
const QUICK = !!flags.quick;
const ROUNDS = QUICK ? 60 : 300;
const STORE_N = QUICK ? 2_000 : 10_000;
const SESSIONS = QUICK ? 300 : 2_000;
const GATEWAY_DELAY = Number(flags["latency-ms"] ?? 0);
const ACCEPT = "application/json, text/event-stream";
/** `main.ts` plus a SIGUSR2 trigger that forces GC and reports memory (bench only). */
const GC_MAIN = new URL("./gc_main.ts", import.meta.url).pathname;

/** One figure for up to three targets. */
interface Row {
  figure: string;
  unit: string;
  a?: number;
  b: number;
  c?: number;
  note?: string;
}
const rows: Row[] = [];

/** One figure for the two protocol eras (same server, same v2 client), with the direct call. */
interface EraRow {
  figure: string;
  unit: string;
  a?: number;
  /** Modern: 2026-07-28, stateless. */
  m: number;
  /** Legacy: 2025-11-25, one session. */
  l: number;
}
const eraRows: EraRow[] = [];
const notes: string[] = [];

function percentile(samples: number[], p: number): number {
  const sorted = samples.toSorted((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

type Target = "a" | "b" | "c";
type Call = () => Promise<unknown>;

/** Runs the calls interleaved, `rounds` times each, after a warm-up; returns the samples. */
async function interleave<K extends string = Target>(
  calls: Partial<Record<K, Call>>,
  rounds: number,
): Promise<Partial<Record<K, number[]>>> {
  const samples: Partial<Record<K, number[]>> = {};
  const entries = Object.entries(calls) as [K, Call][];
  for (const [, fn] of entries) for (let i = 0; i < 20; i++) await fn();
  for (const [name] of entries) samples[name] = [];
  for (let i = 0; i < rounds; i++) {
    for (const [name, fn] of entries) {
      const t = performance.now();
      await fn();
      samples[name]!.push(performance.now() - t);
    }
  }
  return samples;
}

function latencyRows(label: string, samples: Partial<Record<Target, number[]>>) {
  for (const p of [50, 95, 99]) {
    rows.push({
      figure: `${label} chat latency p${p}`,
      unit: "ms",
      a: samples.a && percentile(samples.a, p),
      b: percentile(samples.b!, p),
      c: samples.c && percentile(samples.c, p),
    });
  }
}

// ---------------------------------------------------------------- the old server

interface OldServer {
  node: string;
  entry: string;
}

async function installOld(): Promise<OldServer | null> {
  const dir = await Deno.makeTempDir({ prefix: "openclaw-mcp-old-" });
  const out = await new Deno.Command("npm", {
    args: ["install", "--prefix", dir, "--no-audit", "--no-fund", "openclaw-mcp@1.7.0"],
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => null);
  const entry = `${dir}/node_modules/openclaw-mcp/dist/index.js`;
  if (!out?.success || !(await Deno.stat(entry).then(() => true, () => false))) {
    notes.push("old server (c) skipped: npm could not install openclaw-mcp@1.7.0");
    return null;
  }
  return { node: "node", entry };
}

function oldEnv(gatewayUrl: string): Record<string, string> {
  return { ...baseEnv(), OPENCLAW_URL: gatewayUrl, OPENCLAW_GATEWAY_TOKEN: "test-token" };
}

async function startOldHttp(old: OldServer, gatewayUrl: string) {
  const port = freePort();
  const child = new Deno.Command(old.node, {
    args: [old.entry, "--transport", "http", "--host", "127.0.0.1", "--port", String(port)],
    env: oldEnv(gatewayUrl),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`old server exited: ${seen}`);
    seen += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

function stdioClient(command: string, args: string[], env: Record<string, string>) {
  return new StdioClientTransport({ command, args, env, stderr: "ignore" });
}

async function connect(
  transport: StdioClientTransport | StreamableHTTPClientTransport | InMemoryTransport,
) {
  const client = new Client({ name: "bench", version: "0" });
  await client.connect(transport);
  return client;
}

function chat(client: Client, i: number): Promise<unknown> {
  return client.callTool({ name: "openclaw_chat", arguments: { message: `bench ${i}` } });
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function openAbandonedSessions(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, () =>
      fetch(`${url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: ACCEPT },
        body: JSON.stringify(INITIALIZE),
      }).then((r) => r.body?.cancel())));
  }
}

// ---------------------------------------------------------------- sections

async function transportFigures(gateway: TestGateway, old: OldServer | null) {
  const instance = gateway.instance({ timeoutMs: 60_000 });
  const direct = new GatewayClient(instance);
  const directCall = (i: number) => direct.chat({ message: `bench ${i}` });
  const env = {
    OPENCLAW_URL: gateway.url,
    OPENCLAW_GATEWAY_TOKEN: "test-token",
    MCP_RATE_LIMIT: "0",
  };

  // In-process: client and server over an in-memory transport, no process hop.
  // This is the bridge's own cost (protocol, validation, tools); the rows below
  // add the pipe or HTTP hop and a second process.
  const embedded = createServer({ gateways: new GatewayRegistry([instance]), log: silentLogger });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await embedded.connect(serverSide);
  const bMemory = await connect(clientSide);
  let n = 0;
  latencyRows(
    "in-process (in-memory transport)",
    await interleave({ a: () => directCall(n++), b: () => chat(bMemory, n++) }, ROUNDS),
  );
  await bMemory.close();

  // stdio
  const bStdio = await connect(stdioClient(Deno.execPath(), DENO_RUN, { ...baseEnv(), ...env }));
  const cStdio = old
    ? await connect(stdioClient(old.node, [old.entry], oldEnv(gateway.url)))
    : null;
  latencyRows(
    "stdio",
    await interleave({
      a: () => directCall(n++),
      b: () => chat(bStdio, n++),
      ...(cStdio ? { c: () => chat(cStdio, n++) } : {}),
    }, ROUNDS),
  );
  await bStdio.close();
  await cStdio?.close();

  // HTTP
  const bServer = await startHttp({ env: { ...env, MCP_MAX_SESSIONS: "100000" } });
  const cServer = old ? await startOldHttp(old, gateway.url) : null;
  const http = (url: string) => connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  const bHttp = await http(bServer.url);
  const cHttp = cServer ? await http(cServer.url) : null;
  latencyRows(
    "HTTP",
    await interleave({
      a: () => directCall(n++),
      b: () => chat(bHttp, n++),
      ...(cHttp ? { c: () => chat(cHttp, n++) } : {}),
    }, ROUNDS),
  );

  // Throughput with 1, 8, 32 concurrent clients, each with its own session.
  const total = QUICK ? 160 : 640;
  for (const concurrency of [1, 8, 32]) {
    const make = async (url: string) =>
      await Promise.all(Array.from({ length: concurrency }, () => http(url)));
    const bClients = await make(bServer.url);
    const cClients = cServer ? await make(cServer.url) : null;
    const run = async (fn: (worker: number, i: number) => Promise<unknown>) => {
      const t = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
        for (let i = 0; i < total / concurrency; i++) await fn(w, i);
      }));
      return total / ((performance.now() - t) / 1000);
    };
    const result: Partial<Record<Target, number>> = {};
    for (let round = 0; round < 2; round++) {
      const a = await run((_w, i) => directCall(i));
      const b = await run((w, i) => chat(bClients[w], i));
      const c = cClients ? await run((w, i) => chat(cClients[w], i)) : undefined;
      if (round === 1) Object.assign(result, { a, b, c });
    }
    rows.push({
      figure: `HTTP throughput, ${concurrency} concurrent client${concurrency > 1 ? "s" : ""}`,
      unit: "calls/s",
      a: result.a,
      b: result.b!,
      c: result.c,
    });
    await Promise.all([...bClients, ...(cClients ?? [])].map((c) => c.close()));
  }

  // connect + initialize
  const connects = await interleave({
    b: async () => await (await http(bServer.url)).close(),
    ...(cServer ? { c: async () => await (await http(cServer.url)).close() } : {}),
  }, QUICK ? 20 : 60);
  rows.push({
    figure: "HTTP connect + initialize p50",
    unit: "ms",
    b: percentile(connects.b!, 50),
    c: connects.c && percentile(connects.c, 50),
  });
  await eraFigures(`${bServer.url}/mcp`, directCall);
  await bHttp.close();
  await cHttp?.close();
  await bServer.stop();
  await cServer?.stop();
}

function chatV2(session: V2Session, i: number): Promise<unknown> {
  return session.client.callTool({ name: "openclaw_chat", arguments: { message: `bench ${i}` } });
}

/**
 * The two eras on one HTTP server through the same v2 client: latency of
 * the same `openclaw_chat` call (a modern call builds a server per request,
 * a legacy one reuses its session's), throughput at 32 concurrent clients,
 * and the cost of connecting (`server/discover` vs the initialize handshake).
 */
async function eraFigures(url: string, directCall: (i: number) => Promise<unknown>) {
  const started = performance.now();
  const connectEra = (era: "modern" | "legacy") => connectV2Http(url, { era });
  const modern = await connectEra("modern");
  const legacy = await connectEra("legacy");
  if (modern.era !== "modern" || legacy.era !== "legacy") {
    throw new Error(`era pinning failed: got ${modern.era} and ${legacy.era}`);
  }
  let n = 0;
  const samples = await interleave({
    a: () => directCall(n++),
    m: () => chatV2(modern, n++),
    l: () => chatV2(legacy, n++),
  }, ROUNDS);
  for (const p of [50, 95, 99]) {
    eraRows.push({
      figure: `HTTP chat latency p${p}`,
      unit: "ms",
      a: percentile(samples.a!, p),
      m: percentile(samples.m!, p),
      l: percentile(samples.l!, p),
    });
  }
  await modern.close();
  await legacy.close();

  // Same pattern as the v1 throughput rows: two rounds, the second counts.
  const concurrency = 32, total = QUICK ? 160 : 640;
  const modernClients = await Promise.all(
    Array.from({ length: concurrency }, () => connectEra("modern")),
  );
  const legacyClients = await Promise.all(
    Array.from({ length: concurrency }, () => connectEra("legacy")),
  );
  const run = async (fn: (worker: number, i: number) => Promise<unknown>) => {
    const t = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; i < total / concurrency; i++) await fn(w, i);
    }));
    return total / ((performance.now() - t) / 1000);
  };
  let rates = { a: 0, m: 0, l: 0 };
  for (let round = 0; round < 2; round++) {
    rates = {
      a: await run((_w, i) => directCall(i)),
      m: await run((w, i) => chatV2(modernClients[w], i)),
      l: await run((w, i) => chatV2(legacyClients[w], i)),
    };
  }
  eraRows.push({
    figure: `HTTP throughput, ${concurrency} concurrent clients`,
    unit: "calls/s",
    ...rates,
  });
  await Promise.all([...modernClients, ...legacyClients].map((c) => c.close()));

  const connects = await interleave({
    m: async () => await (await connectEra("modern")).close(),
    l: async () => await (await connectEra("legacy")).close(),
  }, QUICK ? 20 : 60);
  eraRows.push({
    figure: "HTTP connect p50 (modern: server/discover; legacy: initialize, session)",
    unit: "ms",
    m: percentile(connects.m!, 50),
    l: percentile(connects.l!, 50),
  });
  notes.push(`protocol era rows took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function startupFigures(gateway: TestGateway, old: OldServer | null) {
  const env = { OPENCLAW_URL: gateway.url, OPENCLAW_GATEWAY_TOKEN: "test-token" };
  const runs = QUICK ? 3 : 7;
  const stdio: Partial<Record<Target, number[]>> = { b: [], c: [] };
  const http: Partial<Record<Target, number[]>> = { b: [], c: [] };
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const b = await connect(
      stdioClient(Deno.execPath(), DENO_RUN, {
        ...baseEnv(),
        ...env,
        OPENCLAW_KV_PATH: ":memory:",
      }),
    );
    stdio.b!.push(performance.now() - t);
    await b.close();
    if (old) {
      t = performance.now();
      const c = await connect(stdioClient(old.node, [old.entry], oldEnv(gateway.url)));
      stdio.c!.push(performance.now() - t);
      await c.close();
    }
    for (const target of ["b", "c"] as const) {
      if (target === "c" && !old) continue;
      const port = freePort();
      t = performance.now();
      const child = target === "b"
        ? new Deno.Command(Deno.execPath(), {
          args: [...DENO_RUN, "-t", "http", "-p", String(port)],
          env: { ...baseEnv(), ...env, OPENCLAW_KV_PATH: ":memory:" },
          clearEnv: true,
          stdout: "null",
          stderr: "null",
        }).spawn()
        : new Deno.Command(old!.node, {
          args: [old!.entry, "-t", "http", "--host", "127.0.0.1", "-p", String(port)],
          env: oldEnv(gateway.url),
          clearEnv: true,
          stdout: "null",
          stderr: "null",
        }).spawn();
      while (true) {
        const ok = await fetch(`http://127.0.0.1:${port}/mcp`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: ACCEPT },
          body: JSON.stringify(INITIALIZE),
        }).then(async (r) => {
          await r.body?.cancel();
          return r.ok;
        }, () => false);
        if (ok) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      http[target]!.push(performance.now() - t);
      child.kill("SIGTERM");
      await child.status;
    }
  }
  rows.push({
    figure: "start to first initialize response, stdio (p50)",
    unit: "ms",
    b: percentile(stdio.b!, 50),
    c: old ? percentile(stdio.c!, 50) : undefined,
  });
  rows.push({
    figure: "start to first initialize response, HTTP (p50)",
    unit: "ms",
    b: percentile(http.b!, 50),
    c: old ? percentile(http.c!, 50) : undefined,
  });
}

/** Memory of a process: RSS as is, then RSS and live JS heap after a forced GC (ours only). */
interface MemoryReading {
  rss: number;
  gcRss?: number;
  heapUsed?: number;
  heapTotal?: number;
  external?: number;
}

/**
 * Asks `bench/gc_main.ts` (SIGUSR2) to collect garbage and report
 * `Deno.memoryUsage()` on stderr; resolves with that line (bytes).
 */
async function benchMemory(
  server: { child: Deno.ChildProcess; stderr(): string },
): Promise<Omit<MemoryReading, "rss">> {
  const count = () => server.stderr().split('"event":"bench_memory"').length;
  const before = count();
  server.child.kill("SIGUSR2");
  const deadline = performance.now() + 5_000;
  while (count() === before) {
    if (performance.now() > deadline) throw new Error("no bench_memory line from the server");
    await new Promise((r) => setTimeout(r, 10));
  }
  const lines = server.stderr().split("\n").filter((l) => l.includes('"event":"bench_memory"'));
  const usage = JSON.parse(lines.at(-1)!);
  if (!usage.gc) throw new Error("bench/gc_main.ts runs without --v8-flags=--expose-gc");
  return {
    gcRss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
  };
}

/**
 * Longest the memory rows watch RSS after the sessions expired, in seconds:
 * V8's memory reducer shrinks an idle heap some 10-25 s after the load
 * stops. The watch ends sooner once our RSS has given back half of what it
 * gained and held still for 3 s.
 */
const SETTLE_MAX_S = 40;

/**
 * RSS of our server and the Node one, idle, after SESSIONS abandoned
 * sessions (initialize, never used again), right after those expired, after
 * up to SETTLE_MAX_S s more of idleness, and after a second round; ours also after a
 * forced GC, with the live JS heap, so a leak (live heap up) can be told
 * from memory V8 or the allocator keeps (RSS up, live heap back). RSS is
 * read before the forced GC at each stage, and none is forced between the
 * expiry and the end of the settling window, so the RSS rows are what an
 * unprompted process holds.
 */
async function memoryFigures(gateway: TestGateway, old: OldServer | null) {
  const idleMs = 4_000;
  const b = await startHttp({
    run: ["run", "-A", "--quiet", "--v8-flags=--expose-gc", GC_MAIN],
    args: ["--debug"],
    env: {
      OPENCLAW_URL: gateway.url,
      OPENCLAW_GATEWAY_TOKEN: "test-token",
      MCP_RATE_LIMIT: "0",
      MCP_MAX_SESSIONS: "100000",
      MCP_SESSION_IDLE_MS: String(idleMs),
    },
  });
  const c = old ? await startOldHttp(old, gateway.url) : null;
  await new Promise((r) => setTimeout(r, 500));
  const rss = () => ({ b: rssKiB(b.child.pid) * 1024, c: c ? rssKiB(c.pid) * 1024 : undefined });
  const expire = async () => {
    const deadline = performance.now() + idleMs * 4;
    while (performance.now() < deadline) {
      const health = await (await fetch(`${b.url}/health`)).json();
      if (health.sessions === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 500));
  };
  /**
   * Watches RSS each second (see SETTLE_MAX_S); returns the last reading,
   * how long the watch took, and when each server fell within 20 % of idle.
   */
  const settle = async (idle: { b: number; c?: number }) => {
    const within: { b?: number; c?: number } = {};
    const t = performance.now();
    const start = rss();
    const seen = [start.b];
    let last = start;
    while (performance.now() - t < SETTLE_MAX_S * 1000) {
      await new Promise((r) => setTimeout(r, 1_000));
      last = rss();
      seen.push(last.b);
      const s = (performance.now() - t) / 1000;
      if (within.b === undefined && last.b <= idle.b * 1.2) within.b = s;
      if (c && within.c === undefined && last.c! <= idle.c! * 1.2) within.c = s;
      const recent = seen.slice(-4);
      const gaveBack = start.b - last.b >= (start.b - idle.b) / 2;
      if (gaveBack && Math.max(...recent) - Math.min(...recent) < 2 ** 20) break;
    }
    return { ...last, within, seconds: (performance.now() - t) / 1000 };
  };
  const idle = rss();
  const idleGc = await benchMemory(b);
  await openAbandonedSessions(b.url, SESSIONS);
  if (c) await openAbandonedSessions(c.url, SESSIONS);
  const after = rss();
  const afterGc = await benchMemory(b);
  await expire();
  const expired = rss();
  const settled = await settle(idle);
  const settledGc = await benchMemory(b);
  // A second round: a leak would add as much again; V8 reuses the freed heap instead.
  await openAbandonedSessions(b.url, SESSIONS);
  if (c) await openAbandonedSessions(c.url, SESSIONS);
  await expire();
  const second = await settle(idle);
  const secondGc = await benchMemory(b);
  await b.stop();
  await c?.stop();
  const mib = (bytes?: number) => bytes === undefined ? undefined : bytes / 2 ** 20;
  const pct = (x: number, y: number) => `${x >= y ? "+" : ""}${((x / y - 1) * 100).toFixed(0)} %`;
  const when = (s?: number) => s === undefined ? "not" : `after ${s.toFixed(0)} s`;
  const stages: [string, { b: number; c?: number }][] = [
    ["idle", idle],
    [`after ${SESSIONS} abandoned sessions`, after],
    [`right after they expired (ours: idle ${idleMs / 1000} s; old: same wait)`, expired],
    [
      `${
        settled.seconds.toFixed(0)
      } s later, no request (V8 shrinks an idle heap; Node: same wait)`,
      settled,
    ],
    [`after a second round of ${SESSIONS}, expiry and ${second.seconds.toFixed(0)} s`, second],
  ];
  for (const [stage, r] of stages) {
    rows.push({ figure: `RSS ${stage}`, unit: "MiB", b: mib(r.b)!, c: mib(r.c) });
  }
  const gcStages: [string, Omit<MemoryReading, "rss">][] = [
    ["idle", idleGc],
    [`${SESSIONS} sessions open`, afterGc],
    [`expired + ${settled.seconds.toFixed(0)} s`, settledGc],
    ["second round, expired (flat = no leak)", secondGc],
  ];
  for (const [stage, r] of gcStages) {
    rows.push({
      figure: `live JS heap after forced GC, ${stage} (ours)`,
      unit: "MiB",
      b: mib(r.heapUsed)!,
      note: `heap committed ${mib(r.heapTotal)!.toFixed(1)} MiB, RSS then ${
        mib(r.gcRss)!.toFixed(1)
      } MiB`,
    });
  }
  notes.push(
    `RSS after ${SESSIONS} abandoned sessions expired, over idle (goal <= +20 %): ours ${
      pct(expired.b, idle.b)
    } at once, ${pct(settled.b, idle.b)} ${settled.seconds.toFixed(0)} s later (within 20 % ${
      when(settled.within.b)
    }), live JS heap ${pct(settledGc.heapUsed!, idleGc.heapUsed!)}${
      c ? `; Node 1.7.0 ${pct(expired.c!, idle.c!)} at once, ${pct(settled.c!, idle.c!)} then` : ""
    }`,
  );
}

async function makespan(): Promise<void> {
  const K = 20, D = 300, C = 4;
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "delay", ms: D };
  const kv = await Deno.openKv(":memory:");
  const store = new TaskStore(kv);
  const gateways = new GatewayRegistry([gateway.instance({ timeoutMs: 30_000 })]);
  const ids = [];
  for (let i = 0; i < K; i++) {
    ids.push((await store.submit("o", { message: `k${i}`, instance: "default" })).id);
  }
  const runner = new TaskRunner({
    store,
    gateways,
    log: silentLogger,
    concurrency: C,
    watchMs: 50,
  });
  const t = performance.now();
  runner.start();
  for (const id of ids) {
    while (!isTerminal((await store.get("o", id)).status)) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const took = performance.now() - t;
  await runner.stop();
  kv.close();
  await gateway.close();
  rows.push({
    figure: `async makespan K=${K} x D=${D} ms at C=${C} (a = ideal ceil(K/C)*D)`,
    unit: "ms",
    a: Math.ceil(K / C) * D,
    b: took,
    note: "old server runs one task at a time: ideal K*D = 6000 ms",
  });
}

async function storeFigures(): Promise<void> {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/bench.kv`);
  const store = new TaskStore(kv);
  let t = performance.now();
  for (let i = 0; i < STORE_N; i++) {
    await store.submit("bench", { message: `message ${i}`, instance: "default", priority: i % 7 });
  }
  rows.push({
    figure: `task submit rate (${STORE_N} sequential, file KV)`,
    unit: "/s",
    b: STORE_N / (performance.now() - t) * 1000,
  });
  const list: number[] = [];
  for (let i = 0; i < 50; i++) {
    t = performance.now();
    await store.list("bench", { limit: 50 });
    list.push(performance.now() - t);
  }
  rows.push({
    figure: `task list p50, newest 50 of ${STORE_N}`,
    unit: "ms",
    b: percentile(list, 50),
  });
  t = performance.now();
  let claimed = 0;
  while (await store.claim("r", 60_000)) claimed++;
  rows.push({
    figure: `task claim rate (${claimed} sequential, priority order)`,
    unit: "/s",
    b: claimed / (performance.now() - t) * 1000,
  });
  kv.close();
  await Deno.remove(dir, { recursive: true });
}

/**
 * Claiming at STORE_N pending across 10 instances, the oldest tenth on `i0`
 * capped at 1 (held running), the rest spread over `i1`..`i9` and completed
 * as soon as claimed, four principals: claims per second until every
 * uncapped task ran (or nothing runnable is found), and how long the first
 * task of an uncapped instance waited for its claim.
 */
async function claimFairness(): Promise<void> {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/claims.kv`);
  const store = new TaskStore(kv);
  const perInstance = STORE_N / 10;
  for (let i = 0; i < STORE_N; i++) {
    const instance = i < perInstance ? "i0" : `i${1 + i % 9}`;
    await store.submit(`p${i % 4}`, { message: `m${i}`, instance });
  }
  let heldOnCapped = 0;
  // Limits go both ways: `canRun` for a store that filters per process,
  // `instanceConcurrency` for one that keeps the slots in KV.
  const options = {
    canRun: (instance: string) => instance !== "i0" || heldOnCapped < 1,
    instanceConcurrency: { i0: 1 },
  };
  let claims = 0, uncapped = 0, claimMs = 0;
  let firstUncapped: { ms: number; claims: number } | null = null;
  const start = performance.now();
  while (uncapped < STORE_N - perInstance) {
    const t = performance.now();
    const claim = await store.claim("bench", 600_000, options);
    claimMs += performance.now() - t;
    if (!claim) break;
    claims++;
    if (claim.task.instance === "i0") {
      heldOnCapped++;
      continue;
    }
    uncapped++;
    firstUncapped ??= { ms: performance.now() - start, claims };
    await store.complete(claim, "ok", { model: "m", usage: null, finishReason: "stop" });
  }
  const stalled = uncapped < STORE_N - perInstance;
  rows.push({
    figure: `task claim rate, ${STORE_N} pending on 10 instances (one capped at 1)`,
    unit: "/s",
    b: claims / claimMs * 1000,
    note: stalled
      ? `stalled after ${claims} claims: ${
        STORE_N - perInstance - uncapped
      } runnable tasks never claimed`
      : `${claims} claims`,
  });
  rows.push({
    figure: "wait of the first task of an uncapped instance behind the capped one",
    unit: "ms",
    b: firstUncapped?.ms ?? Infinity,
    note: firstUncapped ? `claim #${firstUncapped.claims}` : "never claimed (starved)",
  });
  kv.close();
  await Deno.remove(dir, { recursive: true });
}

/**
 * In process, on a clock we move: SESSIONS sessions opened and abandoned, then
 * expired and swept. The RSS rows above cannot tell a leak from V8 keeping
 * freed heap; counting the MCP servers still reachable after GC (weak
 * references) can: anything above 0 is a leak.
 */
async function sessionLeakFigures(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    notes.push("session leak rows skipped: run with --v8-flags=--expose-gc (deno task bench does)");
    return;
  }
  const gateways = new GatewayRegistry([{
    name: "default",
    url: "http://127.0.0.1:9",
    timeoutMs: 1_000,
    isDefault: true,
    model: "openclaw",
  }]);
  const toolset = createToolset({ gateways });
  const shutdown = new AbortController();
  const servers: WeakRef<object>[] = [];
  const clock = { t: Date.now() };
  const idleMs = 60_000;
  const sessions = new SessionManager({
    createServer: (owner) => {
      const server = createServer({
        gateways,
        log: silentLogger,
        owner,
        toolset,
        shutdown: shutdown.signal,
      });
      servers.push(new WeakRef(server));
      return server;
    },
    idleMs,
    max: SESSIONS,
    log: silentLogger,
    now: () => clock.t,
  });
  const heapMiB = () => {
    gc();
    return Deno.memoryUsage().heapUsed / 2 ** 20;
  };
  const base = heapMiB();
  for (let i = 0; i < SESSIONS; i++) {
    const response = await sessions.handle(
      new Request("http://bench/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", accept: ACCEPT },
        body: JSON.stringify(INITIALIZE),
      }),
      "bench",
      INITIALIZE,
    );
    await response.body?.cancel();
  }
  const open = heapMiB() - base;
  clock.t += idleMs + 1;
  sessions.sweep();
  // Closing transports settles over a few turns of the event loop.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  const expired = heapMiB() - base;
  const reachable = servers.filter((ref) => ref.deref()).length;
  await sessions.close();
  rows.push({
    figure: `JS heap over baseline, ${SESSIONS} sessions open (in process)`,
    unit: "MiB",
    b: open,
  });
  rows.push({
    figure: "JS heap over baseline after they expired (in process)",
    unit: "MiB",
    b: expired,
  });
  rows.push({
    figure:
      `MCP servers still reachable after ${SESSIONS} sessions expired and GC (0 = none leaked)`,
    unit: "servers",
    b: reachable,
  });
}

async function realGateway(): Promise<void> {
  const found = await findOpenclaw();
  if ("missing" in found) {
    notes.push(`real-gateway row skipped: ${found.missing}`);
    return;
  }
  const llm = FakeLlm.start();
  const gateway = await startRealGateway({ llmUrl: llm.url });
  try {
    const direct = new GatewayClient({
      name: "real",
      url: gateway.url,
      token: gateway.token,
      timeoutMs: 60_000,
      isDefault: true,
      model: "openclaw",
      agent: "main",
    });
    const client = await connect(stdioClient(Deno.execPath(), DENO_RUN, {
      ...baseEnv(),
      OPENCLAW_INSTANCES: JSON.stringify([{
        name: "real",
        url: gateway.url,
        token: gateway.token,
        agent: "main",
      }]),
    }));
    let i = 0;
    const samples = await interleave({
      a: () => direct.chat({ message: `d [[m:d${i++}]]` }),
      b: () => chat(client, i++).then(() => {}),
    }, QUICK ? 5 : 20);
    await client.close();
    rows.push({
      figure: "real OpenClaw gateway chat p50 (warm), stdio",
      unit: "ms",
      a: percentile(samples.a!, 50),
      b: percentile(samples.b!, 50),
    });
  } finally {
    await gateway.stop();
    await llm.close();
  }
}

// ---------------------------------------------------------------- main

if (flags["claims-only"]) {
  await claimFairness();
  for (const r of rows) console.log(`| ${r.figure} (${r.note}) | ${r.unit} | ${r.b.toFixed(2)} |`);
  Deno.exit(0);
}
const gateway = await TestGateway.start();
if (GATEWAY_DELAY) gateway.fault = { kind: "delay", ms: GATEWAY_DELAY };
if (flags["no-stream"]) gateway.fault = { kind: "json" };
const old = await installOld();
const only = !!flags["memory-only"];
if (!only) await transportFigures(gateway, old);
if (!only) await startupFigures(gateway, old);
await memoryFigures(gateway, old);
await gateway.close();
if (!only) {
  await makespan();
  await storeFigures();
  await claimFairness();
  await sessionLeakFigures();
  if (!flags["no-real"]) await realGateway();
}

const machine =
  `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`;
const date = new Date().toISOString();
const fmt = (v: number | undefined, unit: string) =>
  v === undefined ? "" : `${v.toFixed(unit === "ms" || unit === "MiB" ? 2 : 0)}`;
console.log(`\n@openclaw/mcp benchmarks, ${date}, ${machine}${QUICK ? " (quick)" : ""}`);
console.log(
  `gateway: loopback test double, ${GATEWAY_DELAY} ms delay, ${
    flags["no-stream"] ? "JSON" : "streaming"
  }\n`,
);
console.log("| figure | unit | (a) direct | (b) this server | (c) Node 1.7.0 | b - a | c / b |");
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  const diff = r.a !== undefined ? (r.b - r.a).toFixed(2) : "";
  const ratio = r.c !== undefined ? (r.c / r.b).toFixed(2) : "";
  console.log(
    `| ${r.figure}${r.note ? ` (${r.note})` : ""} | ${r.unit} | ${fmt(r.a, r.unit)} | ${
      fmt(r.b, r.unit)
    } | ${fmt(r.c, r.unit)} | ${diff} | ${ratio} |`,
  );
}
console.log(
  "\nprotocol eras, same HTTP server, v2 client (@modelcontextprotocol/client) pinned to each:\n",
);
console.log(
  "| figure | unit | (a) direct | (m) modern 2026-07-28 | (l) legacy 2025-11-25 | m - a | l - a | m / l |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of eraRows) {
  const over = (v: number) => r.a !== undefined ? (v - r.a).toFixed(2) : "";
  console.log(
    `| ${r.figure} | ${r.unit} | ${fmt(r.a, r.unit)} | ${fmt(r.m, r.unit)} | ${
      fmt(r.l, r.unit)
    } | ${over(r.m)} | ${over(r.l)} | ${(r.m / r.l).toFixed(2)} |`,
  );
}
for (const note of notes) console.log(`note: ${note}`);
if (only) Deno.exit(0);
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./results/latest.json", import.meta.url),
  JSON.stringify(
    { date, machine, quick: QUICK, gatewayDelayMs: GATEWAY_DELAY, rows, eraRows, notes },
    null,
    2,
  ) + "\n",
);
