/**
 * `deno task bench`: measures, in one run, against baselines taken in the
 * same run:
 *
 * - chat latency: a direct gateway call vs `openclaw_chat` through the bridge
 *   over stdio (plain), vs the same tool as an MCP-native task;
 * - async makespan of K tasks x D ms at concurrency C vs the ideal;
 * - task store submit and claim rates and list latency over 10k tasks.
 *
 * Prints a table and writes `bench/results/latest.json`.
 *
 * @module
 */
import type { Instance } from "../src/config.ts";
import { GatewayClient } from "../src/gateway/client.ts";
import { GatewayRegistry } from "../src/gateway/registry.ts";
import { silentLogger } from "../src/log.ts";
import { TaskRunner, waitForTerminal } from "../src/tasks/runner.ts";
import { TaskStore } from "../src/tasks/store.ts";
import { TestGateway } from "../tests/helpers/test_gateway.ts";
import { connectStdio, gatewayEnv } from "../tests/helpers/spawn.ts";
import { FakeLlm } from "../tests/helpers/fake_llm.ts";
import { findOpenclaw, startRealGateway } from "../tests/helpers/real_gateway.ts";

const args = new Set(Deno.args);
const QUICK = args.has("--quick");
const ROUNDS = QUICK ? 40 : 200;
const STORE_N = QUICK ? 2_000 : 10_000;

interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline?: number;
  note?: string;
}
const rows: Row[] = [];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

function stats(samples: number[]) {
  const sorted = samples.toSorted((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

async function latency(): Promise<void> {
  const gateway = await TestGateway.start();
  const instance: Instance = {
    name: "default",
    url: gateway.url,
    token: "test-token",
    timeoutMs: 30_000,
    isDefault: true,
    model: "openclaw",
  };
  const direct = new GatewayClient(instance);
  const session = await connectStdio({ env: gatewayEnv(gateway.url) });
  const client = session.client;
  await client.listTools();
  const samples = { direct: [] as number[], bridge: [] as number[] };
  // Warm up both paths.
  for (let i = 0; i < 20; i++) {
    await direct.chat({ message: "warm" });
    await client.callTool({ name: "openclaw_chat", arguments: { message: "warm" } });
  }
  // Interleaved (A B A B) so drift affects both alike.
  for (let i = 0; i < ROUNDS; i++) {
    let t = performance.now();
    await direct.chat({ message: `m${i}` });
    samples.direct.push(performance.now() - t);
    t = performance.now();
    await client.callTool({ name: "openclaw_chat", arguments: { message: `m${i}` } });
    samples.bridge.push(performance.now() - t);
  }
  const task: number[] = [];
  for (let i = 0; i < (QUICK ? 3 : 10); i++) {
    const t = performance.now();
    const stream = client.experimental.tasks.callToolStream(
      { name: "openclaw_chat", arguments: { message: `task ${i}` } },
      undefined,
      { task: { ttl: 60_000 } },
    );
    for await (const _ of stream) { /* drain */ }
    task.push(performance.now() - t);
  }
  await session.close();
  await gateway.close();
  const d = stats(samples.direct), b = stats(samples.bridge), k = stats(task);
  for (const p of ["p50", "p95", "p99"] as const) {
    rows.push({
      figure: `chat latency ${p}: bridge (stdio, plain call) vs direct`,
      value: b[p],
      unit: "ms",
      baseline: d[p],
      note: `overhead ${(b[p] - d[p]).toFixed(2)} ms`,
    });
  }
  rows.push({
    figure: "chat latency p50: MCP-native task (create + poll) vs plain call",
    value: k.p50,
    unit: "ms",
    baseline: b.p50,
    note: "task path polls every 500 ms; plain calls never take it",
  });
}

async function makespan(): Promise<void> {
  const K = 20, D = 300, C = 4;
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "delay", ms: D };
  const kv = await Deno.openKv(":memory:");
  const store = new TaskStore(kv);
  const gateways = new GatewayRegistry([{
    name: "default",
    url: gateway.url,
    token: "test-token",
    timeoutMs: 30_000,
    isDefault: true,
    model: "openclaw",
  }]);
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
  for (const id of ids) await waitForTerminal(store, id, undefined, 5);
  const took = performance.now() - t;
  await runner.stop();
  kv.close();
  await gateway.close();
  rows.push({
    figure: `async makespan K=${K} x D=${D} ms at C=${C} vs ideal ceil(K/C)*D`,
    value: took,
    unit: "ms",
    baseline: Math.ceil(K / C) * D,
  });
}

async function store(): Promise<void> {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/bench.kv`);
  const store = new TaskStore(kv);
  let t = performance.now();
  for (let i = 0; i < STORE_N; i++) {
    await store.submit("bench", { message: `message ${i}`, instance: "default", priority: i % 7 });
  }
  const submitMs = performance.now() - t;
  rows.push({
    figure: `task submit rate (${STORE_N} sequential, file KV)`,
    value: STORE_N / submitMs * 1000,
    unit: "/s",
  });

  const listSamples: number[] = [];
  for (let i = 0; i < 50; i++) {
    t = performance.now();
    await store.list("bench", { limit: 50 });
    listSamples.push(performance.now() - t);
  }
  rows.push({
    figure: `task list latency p50, newest 50 of ${STORE_N}`,
    value: stats(listSamples).p50,
    unit: "ms",
  });
  const filtered: number[] = [];
  for (let i = 0; i < 10; i++) {
    t = performance.now();
    await store.list("bench", { status: "running", limit: 50 });
    filtered.push(performance.now() - t);
  }
  rows.push({
    figure: `task list latency p50, status filter matching none of ${STORE_N} (full scan)`,
    value: stats(filtered).p50,
    unit: "ms",
  });

  t = performance.now();
  let claimed = 0;
  while (await store.claim("r", 60_000)) claimed++;
  const claimMs = performance.now() - t;
  rows.push({
    figure: `task claim rate (${claimed} sequential, priority order)`,
    value: claimed / claimMs * 1000,
    unit: "/s",
  });
  kv.close();
  await Deno.remove(dir, { recursive: true });
}

async function realGateway(): Promise<void> {
  const found = await findOpenclaw();
  if ("missing" in found) {
    console.log(`real-gateway row skipped: ${found.missing}`);
    return;
  }
  const llm = FakeLlm.start();
  const gateway = await startRealGateway({ llmUrl: llm.url });
  try {
    const instance: Instance = {
      name: "real",
      url: gateway.url,
      token: gateway.token,
      timeoutMs: 60_000,
      isDefault: true,
      model: "openclaw",
      agent: "main",
    };
    const direct = new GatewayClient(instance);
    const session = await connectStdio({
      env: {
        OPENCLAW_INSTANCES: JSON.stringify([{
          name: "real",
          url: gateway.url,
          token: gateway.token,
          agent: "main",
        }]),
      },
    });
    const n = QUICK ? 5 : 20;
    const samples = { direct: [] as number[], bridge: [] as number[] };
    for (let i = 0; i < 3; i++) {
      await direct.chat({ message: `warm [[m:w${i}]]` });
      await session.client.callTool({
        name: "openclaw_chat",
        arguments: { message: `warm [[m:b${i}]]` },
      });
    }
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await direct.chat({ message: `direct [[m:d${i}]]` });
      samples.direct.push(performance.now() - t);
      t = performance.now();
      await session.client.callTool({
        name: "openclaw_chat",
        arguments: { message: `bridge [[m:x${i}]]` },
      });
      samples.bridge.push(performance.now() - t);
    }
    await session.close();
    const d = stats(samples.direct), b = stats(samples.bridge);
    rows.push({
      figure: `real OpenClaw gateway chat p50 (warm, ${n} calls): bridge (stdio) vs direct`,
      value: b.p50,
      unit: "ms",
      baseline: d.p50,
      note: `overhead ${(b.p50 - d.p50).toFixed(2)} ms`,
    });
  } finally {
    await gateway.stop();
    await llm.close();
  }
}

await latency();
await makespan();
await store();
if (!args.has("--no-real")) await realGateway();

const machine =
  `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`;
const date = new Date().toISOString();
console.log(`\n@openclaw/mcp benchmarks, ${date}, ${machine}${QUICK ? " (quick)" : ""}\n`);
console.log("| figure | value | baseline | ratio | note |\n| --- | ---: | ---: | ---: | --- |");
for (const row of rows) {
  const v = `${row.value.toFixed(row.unit === "/s" ? 0 : 2)} ${row.unit}`;
  const b = row.baseline === undefined ? "" : `${row.baseline.toFixed(2)} ${row.unit}`;
  const r = row.baseline ? (row.value / row.baseline).toFixed(2) : "";
  console.log(`| ${row.figure} | ${v} | ${b} | ${r} | ${row.note ?? ""} |`);
}
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./results/latest.json", import.meta.url),
  JSON.stringify({ date, machine, quick: QUICK, rows }, null, 2) + "\n",
);
