import assert from "node:assert/strict";
import { Hono } from "hono";
import { createOAuth } from "../../src/auth/oauth.ts";
import { startBridge } from "../../src/bridge.ts";
import { loadConfig } from "../../src/config.ts";
import { BridgeError } from "../../src/errors.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { createLogger, observeLogger, silentLogger } from "../../src/log.ts";
import {
  BridgeMetrics,
  DURATION_BUCKETS,
  TASK_COUNTS_TTL_MS,
} from "../../src/metrics/bridge_metrics.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import type { TaskStatus } from "../../src/tasks/task.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv } from "../../testing/spawn.ts";
import { pkce } from "../helpers/oauth.ts";
import { parseMetrics } from "../helpers/prometheus.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOOLS = ["openclaw_chat", "openclaw_status"];
const ZERO: Record<TaskStatus, number> = {
  pending: 0,
  running: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
};

function metrics(extra: Partial<ConstructorParameters<typeof BridgeMetrics>[0]> = {}) {
  return new BridgeMetrics({ tools: TOOLS, instances: ["default", "prod"], ...extra });
}

async function scrape(m: BridgeMetrics) {
  return await parseMetrics(await m.expose());
}

Deno.test("bridge metrics: every name has the prefix, every family HELP and TYPE; counters end in _total", async () => {
  const m = metrics({ taskCounts: () => Promise.resolve(ZERO) });
  const { families } = await scrape(m);
  assert.deepEqual(families.map((f) => `${f.name} ${f.type}`), [
    "openclaw_mcp_build_info gauge",
    "openclaw_mcp_tool_calls_total counter",
    "openclaw_mcp_tool_call_duration_seconds histogram",
    "openclaw_mcp_gateway_requests_total counter",
    "openclaw_mcp_tasks gauge",
    "openclaw_mcp_task_queue_wait_seconds histogram",
    "openclaw_mcp_task_run_duration_seconds histogram",
    "openclaw_mcp_sessions_open gauge",
    "openclaw_mcp_oauth_grants_total counter",
    "openclaw_mcp_oauth_refusals_total counter",
  ]);
  assert.equal(m.contentType, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("bridge metrics: the existing log events feed the counters and histograms", async () => {
  const m = metrics();
  const log = observeLogger(silentLogger, (event, fields) => m.record(event, fields));
  log.info("tool_call", { tool: "openclaw_chat", outcome: "ok", ms: 1200 });
  log.info("tool_call", { tool: "openclaw_chat", outcome: "gateway_error", ms: 3 });
  log.info("tool_call", { tool: "openclaw_chat", outcome: "invalid_argument" });
  log.info("tool_call", { tool: "not_ours", outcome: "made_up" });
  log.info("task_created", { tool: "openclaw_chat", task: "t1", era: "legacy" });
  log.info("task_started", { task: "t1", instance: "prod", attempt: 1, wait_ms: 2500 });
  log.info("task_started", { task: "t1", instance: "prod", attempt: 2 });
  log.info("task_finished", { task: "t1", instance: "prod", outcome: "completed", ms: 40 });
  log.info("oauth_tokens_issued", { client: "c", grant: "authorization_code" });
  log.info("oauth_tokens_issued", { client: "c", grant: "refresh_token" });
  log.debug("oauth_refused", { endpoint: "token", reason: "invalid_grant", status: 400 });
  log.info("listening", { url: "http://127.0.0.1:1" });
  const s = await scrape(m);
  const calls = "openclaw_mcp_tool_calls_total";
  assert.equal(s.value(calls, { tool: "openclaw_chat", outcome: "ok" }), 1);
  assert.equal(s.value(calls, { tool: "openclaw_chat", outcome: "gateway_error" }), 1);
  assert.equal(s.value(calls, { tool: "openclaw_chat", outcome: "invalid_argument" }), 1);
  assert.equal(s.value(calls, { tool: "openclaw_chat", outcome: "task_created" }), 1);
  assert.equal(s.value(calls, { tool: "other", outcome: "other" }), 1, "bounded: other");
  const duration = "openclaw_mcp_tool_call_duration_seconds";
  assert.equal(s.count(duration, { tool: "openclaw_chat" }), 2, "only calls that ran");
  assert.deepEqual(s.buckets(duration, { tool: "openclaw_chat" }), {
    ...Object.fromEntries(
      DURATION_BUCKETS.map((b) => [String(b), b < 0.005 ? 0 : b < 1.2 ? 1 : 2]),
    ),
    "+Inf": 2,
  });
  assert.equal(s.count("openclaw_mcp_task_queue_wait_seconds", { instance: "prod" }), 1);
  assert.equal(s.count("openclaw_mcp_task_run_duration_seconds", { instance: "prod" }), 1);
  assert.equal(s.value("openclaw_mcp_oauth_grants_total", { grant_type: "authorization_code" }), 1);
  assert.equal(s.value("openclaw_mcp_oauth_grants_total", { grant_type: "refresh_token" }), 1);
  assert.equal(
    s.value("openclaw_mcp_oauth_refusals_total", { endpoint: "token", reason: "invalid_grant" }),
    1,
  );
});

Deno.test("bridge metrics: observeLogger hears debug events that are not printed, and a failing observer costs no line", () => {
  const lines: string[] = [];
  const heard: string[] = [];
  const base = createLogger({ level: "info", write: (line) => lines.push(line) });
  const log = observeLogger(base, (event, _fields, level) => {
    heard.push(`${level}:${event}`);
    throw new Error("observer bug");
  });
  log.debug("quiet");
  log.info("loud", { token: "secret-value" });
  assert.deepEqual(heard, ["debug:quiet", "info:loud"]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /"event":"loud","token":"\[redacted\]"/);
});

Deno.test(
  "bridge metrics: gateway requests by instance, path and status, failures included",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const m = metrics();
    const registry = new GatewayRegistry([
      gateway.instance(),
      gateway.instance({ name: "prod", isDefault: false, timeoutMs: 200 }),
      { ...gateway.instance({ name: "gone", isDefault: false }), url: "http://127.0.0.1:9" },
    ], { onRequest: m.gatewayRequest });
    try {
      await registry.get().chat({ message: "hi" });
      gateway.fault = { kind: "status", status: 401 };
      await assert.rejects(registry.get().chat({ message: "hi" }), BridgeError);
      gateway.fault = { kind: "status", status: 500 };
      await assert.rejects(registry.get("prod").chat({ message: "hi" }), BridgeError);
      gateway.fault = { kind: "delay", ms: 2_000 };
      await assert.rejects(
        registry.get("prod").agents(),
        (e: BridgeError) => e.code === "gateway_timeout",
      );
      gateway.fault = { kind: "none" };
      await assert.rejects(registry.get("gone").agents(), BridgeError);
      const cancelled = new AbortController();
      cancelled.abort();
      await assert.rejects(registry.get().agents(cancelled.signal), BridgeError);
      const s = await scrape(m);
      const requests = (instance: string, endpoint: string, status: string) =>
        s.value("openclaw_mcp_gateway_requests_total", { instance, endpoint, status });
      assert.equal(requests("default", "/v1/chat/completions", "200"), 1);
      assert.equal(requests("default", "/v1/chat/completions", "401"), 1);
      assert.equal(requests("prod", "/v1/chat/completions", "500"), 1);
      assert.equal(requests("prod", "/v1/models", "timeout"), 1);
      // "gone" is no configured name of these metrics: it is counted as other.
      assert.equal(requests("other", "/v1/models", "unreachable"), 1);
      assert.equal(requests("default", "/v1/models", "cancelled"), 1);
    } finally {
      await gateway.close();
    }
  },
);

Deno.test("bridge metrics: task counts are read at scrape at most once per TTL, shared, failures not kept", async () => {
  let t = 0;
  let reads = 0;
  let fail = false;
  const warnings: string[] = [];
  let counts = { ...ZERO, pending: 2 };
  const m = metrics({
    now: () => t,
    log: createLogger({ write: (line) => warnings.push(JSON.parse(line).event) }),
    taskCounts: () => {
      reads++;
      return fail ? Promise.reject(new Error("kv down")) : Promise.resolve({ ...counts });
    },
  });
  const [a, b] = await Promise.all([scrape(m), scrape(m)]);
  assert.equal(reads, 1, "concurrent scrapes share one read");
  assert.equal(a.value("openclaw_mcp_tasks", { status: "pending" }), 2);
  assert.equal(b.value("openclaw_mcp_tasks", { status: "cancelled" }), 0);
  counts = { ...ZERO, pending: 1, completed: 1 };
  t += TASK_COUNTS_TTL_MS - 1;
  assert.equal((await scrape(m)).value("openclaw_mcp_tasks", { status: "pending" }), 2, "cached");
  t += 1;
  const fresh = await scrape(m);
  assert.equal(reads, 2);
  assert.equal(fresh.value("openclaw_mcp_tasks", { status: "completed" }), 1);
  fail = true;
  t += TASK_COUNTS_TTL_MS;
  const failed = await m.expose();
  assert.match(failed, /# TYPE openclaw_mcp_tasks gauge\n# HELP openclaw_mcp_task_queue/);
  assert.match(failed, /openclaw_mcp_sessions_open 0/, "the rest is still served");
  assert.deepEqual(warnings, ["metrics_collect_failed"]);
  fail = false;
  await scrape(m);
  assert.equal(reads, 4, "a failed read is not cached");
});

Deno.test("bridge metrics: the sessions gauge reads the session table at scrape", async () => {
  const m = metrics();
  let open = 3;
  m.watchSessions(() => open);
  assert.equal((await scrape(m)).value("openclaw_mcp_sessions_open"), 3);
  open = 0;
  assert.equal((await scrape(m)).value("openclaw_mcp_sessions_open"), 0);
});

Deno.test("bridge metrics: TaskStore.countAll sums every owner's counts", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new TaskStore(kv);
    await store.submit("a", { message: "1", instance: "default" });
    await store.submit("a", { message: "2", instance: "default" });
    const b = await store.submit("b", { message: "3", instance: "default" });
    await store.cancel("b", b.id);
    assert.deepEqual(await store.countAll(), { ...ZERO, pending: 2, cancelled: 1 });
  } finally {
    kv.close();
  }
});

Deno.test("bridge metrics: OAuth grants and refusals by reason, from the OAuth app's own events", async () => {
  const client = { id: "static-client", secret: "s".repeat(40) };
  const callback = "http://127.0.0.1:9/callback";
  const command = loadConfig({
    args: ["--transport", "http"],
    env: {
      AUTH_ENABLED: "true",
      MCP_CLIENT_ID: client.id,
      MCP_CLIENT_SECRET: client.secret,
      MCP_REDIRECT_URIS: callback,
    },
  });
  assert.ok(command.kind === "run");
  const kv = await Deno.openKv(":memory:");
  const m = metrics();
  const log = observeLogger(silentLogger, (event, fields) => m.record(event, fields));
  const app = new Hono();
  const base = "http://127.0.0.1:9999";
  app.route("/", createOAuth({ config: command.config, kv, issuer: () => base, log }).app);
  const request = (path: string, init?: RequestInit) => app.request(`${base}${path}`, init);
  const form = (fields: Record<string, string>) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  try {
    const { verifier, challenge } = await pkce();
    const query = new URLSearchParams({
      response_type: "code",
      client_id: client.id,
      redirect_uri: callback,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const code = new URL((await request(`/authorize?${query}`)).headers.get("location")!)
      .searchParams.get("code")!;
    const redeem = {
      grant_type: "authorization_code",
      code,
      redirect_uri: callback,
      code_verifier: verifier,
      client_id: client.id,
      client_secret: client.secret,
    };
    const tokens = await (await request("/token", form(redeem))).json();
    assert.ok(tokens.refresh_token);
    const refreshed = await request(
      "/token",
      form({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: client.id,
        client_secret: client.secret,
      }),
    );
    assert.equal(refreshed.status, 200);
    assert.equal((await request("/token", form(redeem))).status, 400, "code replayed");
    assert.equal(
      (await request("/token", form({ ...redeem, client_secret: "wrong" }))).status,
      401,
    );
    assert.equal((await request("/register", { method: "POST", body: "{}" })).status, 404);
    query.set("client_id", "nobody");
    assert.equal((await request(`/authorize?${query}`)).status, 400, "an error page");
    query.set("client_id", client.id);
    query.set("code_challenge_method", "plain");
    assert.equal((await request(`/authorize?${query}`)).status, 302, "an error redirect");
    const s = await scrape(m);
    const grants = (grant_type: string) =>
      s.value("openclaw_mcp_oauth_grants_total", { grant_type });
    assert.equal(grants("authorization_code"), 1);
    assert.equal(grants("refresh_token"), 1);
    const refusals = (endpoint: string, reason: string) =>
      s.value("openclaw_mcp_oauth_refusals_total", { endpoint, reason });
    assert.equal(refusals("token", "invalid_grant"), 1);
    assert.equal(refusals("token", "invalid_client"), 1);
    assert.equal(refusals("register", "registration_disabled"), 1);
    assert.equal(refusals("authorize", "invalid_request"), 2, "a page and a redirect");
    const total = s.family("openclaw_mcp_oauth_refusals_total").data
      .reduce((sum, series) => sum + (series.value ?? 0), 0);
    assert.equal(total, 5, "successes are no refusals");
  } finally {
    kv.close();
  }
});

Deno.test(
  "bridge metrics: startBridge feeds its metrics from its logger and gateway clients",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const command = loadConfig({ args: [], env: gatewayEnv(gateway.url) });
    assert.ok(command.kind === "run");
    const kv = await Deno.openKv(":memory:");
    const bridge = startBridge(command.config, { kv, log: silentLogger });
    try {
      await bridge.gateways.get().chat({ message: "hello" });
      bridge.log.info("tool_call", { tool: "openclaw_task_list", outcome: "ok", ms: 1 });
      const s = await scrape(bridge.metrics);
      assert.equal(
        s.value("openclaw_mcp_gateway_requests_total", {
          instance: "default",
          endpoint: "/v1/chat/completions",
          status: "200",
        }),
        1,
      );
      assert.equal(
        s.value("openclaw_mcp_tool_calls_total", { tool: "openclaw_task_list", outcome: "ok" }),
        1,
        "every tool of the toolset is a known label value",
      );
    } finally {
      bridge.shutdown.abort();
      await bridge.stop();
      kv.close();
      await gateway.close();
    }
  },
);
