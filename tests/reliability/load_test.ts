/**
 * Load: 200 concurrent HTTP clients x 25 calls with the gateway at 50 ms. All
 * succeed; p99 is reported; memory stays bounded.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, startHttp } from "../../testing/spawn.ts";
import { scale } from "./scale.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const CLIENTS = scale(200, 500);
const CALLS = scale(25, 100);

Deno.test(
  `reliability: ${CLIENTS} concurrent HTTP clients x ${CALLS} calls all succeed`,
  opts,
  async () => {
    const gateway = await TestGateway.start();
    gateway.fault = { kind: "delay", ms: 50 };
    const server = await startHttp({
      env: { ...gatewayEnv(gateway.url), MCP_RATE_LIMIT: "0", MCP_MAX_SESSIONS: "5000" },
    });
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${server.child.pid}/status`))![1]) /
      1024;
    try {
      const idle = rss();
      const clients = await Promise.all(Array.from({ length: CLIENTS }, async () => {
        const client = new Client({ name: "load", version: "0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
        return client;
      }));
      const latencies: number[] = [];
      let failures = 0;
      const started = performance.now();
      await Promise.all(clients.map(async (client, c) => {
        for (let i = 0; i < CALLS; i++) {
          const t = performance.now();
          const result = await client.callTool(
            { name: "openclaw_chat", arguments: { message: `load ${c}-${i}` } },
            undefined,
            { timeout: 60_000 },
          );
          latencies.push(performance.now() - t);
          if ((result.structuredContent as { reply?: string })?.reply !== `echo: load ${c}-${i}`) {
            failures++;
          }
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      const sorted = latencies.toSorted((a, b) => a - b);
      const p = (q: number) => sorted[Math.floor(q / 100 * (sorted.length - 1))].toFixed(1);
      const peak = rss();
      console.log(
        `load: ${latencies.length} calls in ${seconds.toFixed(1)} s (${
          (latencies.length / seconds).toFixed(0)
        }/s), ` +
          `p50 ${p(50)} ms, p99 ${p(99)} ms, RSS ${idle.toFixed(0)} -> ${peak.toFixed(0)} MiB`,
      );
      assert.equal(failures, 0);
      assert.equal(latencies.length, CLIENTS * CALLS);
      assert.ok(peak < 1024, `RSS stayed under 1 GiB (${peak.toFixed(0)} MiB)`);
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await server.stop();
      await gateway.close();
    }
  },
);
