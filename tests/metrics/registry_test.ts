import assert from "node:assert/strict";
import {
  CONTENT_TYPE,
  escapeHelp,
  escapeLabelValue,
  formatValue,
  OTHER,
  Registry,
} from "../../src/metrics/registry.ts";
import { parseMetrics } from "../helpers/prometheus.ts";

Deno.test("registry: the exposition is exact: HELP, TYPE, series sorted, a line feed at the end", async () => {
  const registry = new Registry();
  const calls = registry.counter({
    name: "demo_calls_total",
    help: "Calls by outcome.",
    labels: { tool: ["b", "a"], outcome: ["ok", "failed"] },
  });
  const up = registry.gauge({ name: "demo_up", help: "Up." });
  calls.inc({ tool: "b", outcome: "ok" });
  calls.inc({ tool: "a", outcome: "failed" }, 2);
  calls.inc({ tool: "a", outcome: "failed" });
  up.set(undefined, 1);
  assert.equal(
    await registry.expose(),
    [
      "# HELP demo_calls_total Calls by outcome.",
      "# TYPE demo_calls_total counter",
      'demo_calls_total{tool="a",outcome="failed"} 3',
      'demo_calls_total{tool="b",outcome="ok"} 1',
      "# HELP demo_up Up.",
      "# TYPE demo_up gauge",
      "demo_up 1",
      "",
    ].join("\n"),
  );
  assert.equal(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("registry: label values and help text are escaped per the text format", async () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
  const registry = new Registry();
  const strange = 'C:\\dir "quoted"\nnext';
  registry.gauge({ name: "demo_path", help: "Line one\nline \\two", labels: { path: [strange] } })
    .set({ path: strange }, 2);
  assert.equal(
    await registry.expose(),
    [
      "# HELP demo_path Line one\\nline \\\\two",
      "# TYPE demo_path gauge",
      'demo_path{path="C:\\\\dir \\"quoted\\"\\nnext"} 2',
      "",
    ].join("\n"),
  );
  const parsed = await parseMetrics(await registry.expose());
  assert.equal(parsed.value("demo_path", { path: strange }), 2, "a scraper reads the value back");
});

Deno.test("registry: histograms count cumulatively, end with +Inf, _sum and _count", async () => {
  const registry = new Registry();
  const seconds = registry.histogram({
    name: "demo_duration_seconds",
    help: "Durations.",
    labels: { tool: ["x"] },
    buckets: [0.1, 1, 10],
  });
  for (const value of [0.05, 0.1, 0.5, 3, 42]) seconds.observe({ tool: "x" }, value);
  seconds.observe({ tool: "x" }, NaN);
  assert.equal(seconds.count({ tool: "x" }), 5, "NaN is not an observation");
  assert.equal(
    await registry.expose(),
    [
      "# HELP demo_duration_seconds Durations.",
      "# TYPE demo_duration_seconds histogram",
      'demo_duration_seconds_bucket{tool="x",le="0.1"} 2',
      'demo_duration_seconds_bucket{tool="x",le="1"} 3',
      'demo_duration_seconds_bucket{tool="x",le="10"} 4',
      'demo_duration_seconds_bucket{tool="x",le="+Inf"} 5',
      'demo_duration_seconds_sum{tool="x"} 45.65',
      'demo_duration_seconds_count{tool="x"} 5',
      "",
    ].join("\n"),
  );
});

Deno.test("registry: a histogram without labels shows its zero buckets from the start", async () => {
  const registry = new Registry();
  registry.histogram({ name: "demo_wait_seconds", help: "Waits.", buckets: [1] });
  assert.equal(
    await registry.expose(),
    [
      "# HELP demo_wait_seconds Waits.",
      "# TYPE demo_wait_seconds histogram",
      'demo_wait_seconds_bucket{le="1"} 0',
      'demo_wait_seconds_bucket{le="+Inf"} 0',
      "demo_wait_seconds_sum 0",
      "demo_wait_seconds_count 0",
      "",
    ].join("\n"),
  );
});

Deno.test("registry: a value a label does not declare is counted as other, so clients mint no series", async () => {
  const registry = new Registry();
  const calls = registry.counter({
    name: "demo_total",
    help: "Calls.",
    labels: { tool: ["known"] },
  });
  for (let i = 0; i < 1_000; i++) calls.inc({ tool: `made-up-${i}` });
  calls.inc({ tool: "known" });
  calls.inc({} as { tool: string });
  assert.equal(calls.get({ tool: OTHER }), 1_001);
  assert.equal(calls.get({ tool: "known" }), 1);
  const lines = (await registry.expose()).trim().split("\n");
  assert.deepEqual(lines.slice(2), ['demo_total{tool="known"} 1', 'demo_total{tool="other"} 1001']);
});

Deno.test("registry: callback gauges are read at each scrape; a failing one keeps its header", async () => {
  const failures: string[] = [];
  const registry = new Registry({ onCollectError: (name) => failures.push(name) });
  let open = 3;
  registry.callbackGauge({
    name: "demo_open",
    help: "Open.",
    collect: () => [{ labels: {}, value: open }],
  });
  registry.callbackGauge<"status">({
    name: "demo_tasks",
    help: "Tasks.",
    labels: { status: ["pending"] },
    collect: () => Promise.reject(new Error("kv down")),
  });
  assert.match(await registry.expose(), /^demo_open 3$/m);
  open = 5;
  const text = await registry.expose();
  assert.match(text, /^demo_open 5$/m);
  assert.match(text, /# HELP demo_tasks Tasks\.\n# TYPE demo_tasks gauge\n$/);
  assert.deepEqual(failures, ["demo_tasks", "demo_tasks"]);
});

Deno.test("registry: names, labels, buckets and amounts are checked", () => {
  const registry = new Registry();
  assert.throws(() => registry.counter({ name: "bad-name", help: "" }), TypeError);
  assert.throws(
    () => registry.counter({ name: "demo_a_total", help: "", labels: { __x: [] } }),
    TypeError,
  );
  assert.throws(
    () => registry.histogram({ name: "demo_h", help: "", labels: { le: [] }, buckets: [1] }),
    TypeError,
  );
  assert.throws(() => registry.histogram({ name: "demo_h", help: "", buckets: [] }), TypeError);
  assert.throws(() => registry.histogram({ name: "demo_h", help: "", buckets: [2, 1] }), TypeError);
  assert.throws(
    () => registry.histogram({ name: "demo_h", help: "", buckets: [1, Infinity] }),
    TypeError,
  );
  registry.histogram({ name: "demo_h", help: "", buckets: [1] });
  assert.throws(() => registry.counter({ name: "demo_h_count", help: "" }), /declared twice/);
  const counter = registry.counter({ name: "demo_b_total", help: "" });
  assert.throws(() => counter.inc(undefined, -1), RangeError);
  assert.throws(() => counter.inc(undefined, Infinity), RangeError);
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(0.25), "0.25");
});
