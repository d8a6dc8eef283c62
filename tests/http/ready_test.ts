/**
 * `readyHandler` through Hono's `app.request()`: the verdict and its
 * reasons, and the probe cache (one probe per window, shared while in
 * flight, a rejected probe not kept). Gateways are plain probe objects; the
 * store is a real in-memory KV.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import type { HealthReport, HealthStatus } from "../../src/gateway/health.ts";
import { type ProbedGateway, READY_PROBE_TTL_MS, readyHandler } from "../../src/http/ready.ts";

/** A gateway whose verdict the test sets, counting its probes. */
function gateway(name: string, status: HealthStatus = "ok") {
  const g = {
    status,
    probes: 0,
    fail: false,
    instance: { name },
    async health(): Promise<HealthReport> {
      g.probes++;
      await Promise.resolve();
      if (g.fail) throw new Error("probe crashed");
      return { status: g.status, latencyMs: 7, httpStatus: 200, message: "", agents: [] };
    },
  };
  return g;
}

function readyApp(gateways: ProbedGateway[], kv: Deno.Kv, clock = { t: 0 }) {
  const app = new Hono();
  app.get("/ready", readyHandler({ gateways: { list: () => gateways }, kv, now: () => clock.t }));
  return {
    clock,
    hit: async () => {
      const response = await app.request("/ready");
      return { status: response.status, body: await response.json() };
    },
  };
}

Deno.test("ready: 200 while one gateway is healthy, with every gateway's status and latency", async () => {
  using kv = await Deno.openKv(":memory:");
  const { hit } = readyApp([gateway("a", "unreachable"), gateway("b")], kv);
  assert.deepEqual(await hit(), {
    status: 200,
    body: {
      status: "ready",
      gateways: [
        { name: "a", status: "unreachable", latency_ms: 7 },
        { name: "b", status: "ok", latency_ms: 7 },
      ],
    },
  });
});

Deno.test("ready: 503 with a reason per failing dependency", async () => {
  const kv = await Deno.openKv(":memory:");
  const { hit } = readyApp([gateway("a", "unauthorized")], kv);
  assert.deepEqual(await hit(), {
    status: 503,
    body: {
      status: "not_ready",
      reasons: ["no gateway instance is healthy"],
      gateways: [{ name: "a", status: "unauthorized", latency_ms: 7 }],
    },
  });
  kv.close();
  const closed = await hit();
  assert.equal(closed.status, 503);
  assert.deepEqual(closed.body.reasons, [
    "task store (Deno KV) is not readable",
    "no gateway instance is healthy",
  ]);
});

Deno.test("ready: one probe per window, shared by concurrent hits; the next window probes again", async () => {
  using kv = await Deno.openKv(":memory:");
  const g = gateway("a");
  const { hit, clock } = readyApp([g], kv);
  const first = await Promise.all(Array.from({ length: 10 }, hit));
  assert.deepEqual(new Set(first.map((r) => r.status)), new Set([200]));
  assert.equal(g.probes, 1, "concurrent hits share the probe in flight");

  g.status = "timeout";
  clock.t += READY_PROBE_TTL_MS - 1;
  assert.equal((await hit()).status, 200, "still the cached verdict");
  assert.equal(g.probes, 1);
  clock.t += 1;
  assert.equal((await hit()).status, 503, "a new window sees the change");
  assert.equal(g.probes, 2);
});

Deno.test("ready: a probe that crashes is not kept; the next hit probes again", async () => {
  using kv = await Deno.openKv(":memory:");
  const g = gateway("a");
  g.fail = true;
  const app = new Hono();
  app.get("/ready", readyHandler({ gateways: { list: () => [g] }, kv, now: () => 0 }));
  app.onError(() => new Response("crashed", { status: 500 }));
  assert.equal((await app.request("/ready")).status, 500);
  g.fail = false;
  const response = await app.request("/ready");
  assert.equal(response.status, 200);
  assert.equal((await response.json()).status, "ready");
  assert.equal(g.probes, 2);
});
