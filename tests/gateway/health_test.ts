import assert from "node:assert/strict";
import type { Instance } from "../../src/config.ts";
import { BridgeError } from "../../src/errors.ts";
import { listAgents, probeHealth } from "../../src/gateway/health.ts";
import type { GatewayTarget } from "../../src/gateway/request.ts";
import { TestGateway } from "../../testing/test_gateway.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function target(url: string, extra: Partial<Instance> = {}): GatewayTarget {
  return {
    instance: {
      name: "t",
      url,
      token: "test-token",
      timeoutMs: 2_000,
      isDefault: true,
      model: "openclaw",
      ...extra,
    },
    fetch,
    maxReplyBytes: 100_000,
  };
}

/** A clock that moves by `step` ms on every read. */
function ticking(step: number): () => number {
  let t = 1_000;
  return () => (t += step) - step;
}

Deno.test(
  "health: agents are listed from /v1/models; failures are bridge errors",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    try {
      assert.deepEqual(await listAgents(target(gateway.url)), ["coder", "main"]);
      await assert.rejects(
        listAgents(target(gateway.url, { token: "wrong" })),
        (e) =>
          e instanceof BridgeError && e.code === "gateway_unauthorized" && e.httpStatus === 401,
      );
    } finally {
      await gateway.close();
    }
  },
);

Deno.test("health: ok with agents; latency comes from the clock passed in", opts, async () => {
  const gateway = await TestGateway.start();
  try {
    const report = await probeHealth(target(gateway.url), { now: ticking(25) });
    assert.deepEqual(report, {
      status: "ok",
      latencyMs: 25,
      httpStatus: 200,
      message: "Gateway reachable and token accepted.",
      agents: ["coder", "main"],
    });
    gateway.fault = { kind: "status", status: 404 };
    const missing = await probeHealth(target(gateway.url), { now: ticking(1) });
    assert.equal(missing.status, "not_found");
    assert.equal(missing.httpStatus, 404);
    assert.match(missing.message, /no \/v1\/models/);
  } finally {
    await gateway.close();
  }
});

Deno.test("health: a model list that is not one is an error verdict", opts, async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ models: [] }),
  );
  try {
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
    await assert.rejects(
      listAgents(target(url)),
      (e) => e instanceof BridgeError && e.code === "gateway_bad_reply",
    );
    const report = await probeHealth(target(url), { now: ticking(0) });
    assert.equal(report.status, "error");
    assert.equal(report.httpStatus, null);
    assert.match(report.message, /not a model list/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("health: nothing listening is unreachable; a caller's abort is an error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const down = await probeHealth(target(url), { now: ticking(0) });
  assert.equal(down.status, "unreachable");
  assert.deepEqual(down.agents, []);
  const cancelled = await probeHealth(target(url), {
    now: ticking(0),
    signal: AbortSignal.abort(),
  });
  assert.equal(cancelled.status, "error");
  assert.match(cancelled.message, /cancelled/);
});
