/**
 * `ProbeCache`: one probe per window shared by concurrent askers, a crashed
 * probe not kept, and the last settled verdicts readable without probing.
 */
import assert from "node:assert/strict";
import type { HealthReport } from "../../src/gateway/health.ts";
import { PROBE_TTL_MS, ProbeCache } from "../../src/gateway/probe_cache.ts";

function gateway(name: string) {
  const g = {
    probes: 0,
    fail: false,
    latency: 7,
    instance: { name },
    async health(): Promise<HealthReport> {
      g.probes++;
      await Promise.resolve();
      if (g.fail) throw new Error("probe crashed");
      return { status: "ok", latencyMs: g.latency, httpStatus: 200, message: "", agents: ["main"] };
    },
  };
  return g;
}

Deno.test("probe cache: one probe per window, shared while in flight; latest() never probes", async () => {
  const clock = { t: 0 };
  const a = gateway("a");
  const probes = new ProbeCache({ list: () => [a] }, { now: () => clock.t });
  assert.equal(probes.latest(), null, "nothing settled yet");
  assert.equal(a.probes, 0, "latest() does not probe");
  const all = await Promise.all([probes.reports(), probes.reports(), probes.reports()]);
  assert.equal(a.probes, 1);
  assert.deepEqual(all[0], [{
    name: "a",
    status: "ok",
    latencyMs: 7,
    httpStatus: 200,
    message: "",
    agents: ["main"],
  }]);
  assert.deepEqual(probes.latest(), { reports: all[0], at: 0 });

  a.latency = 9;
  clock.t = PROBE_TTL_MS - 1;
  assert.equal((await probes.reports())[0].latencyMs, 7, "still the kept verdict");
  clock.t = PROBE_TTL_MS;
  const next = probes.reports();
  assert.equal(probes.latest()?.reports[0].latencyMs, 7, "the old verdict while the probe runs");
  assert.equal((await next)[0].latencyMs, 9);
  assert.equal(probes.latest()?.at, PROBE_TTL_MS);
  assert.equal(a.probes, 2);
});

Deno.test("probe cache: a probe that crashes is not kept, and leaves latest() as it was", async () => {
  const a = gateway("a");
  const probes = new ProbeCache({ list: () => [a] }, { now: () => 0 });
  a.fail = true;
  await assert.rejects(probes.reports(), /probe crashed/);
  assert.equal(probes.latest(), null);
  a.fail = false;
  assert.equal((await probes.reports())[0].status, "ok");
  assert.equal(a.probes, 2);
});
