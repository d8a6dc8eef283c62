/**
 * Gateway faults during sync and async calls over HTTP: each gives its
 * error code, the server keeps serving, and no task is left running.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Fault, TestGateway } from "../../testing/test_gateway.ts";
import { startHttp } from "../../testing/spawn.ts";

type Result = { isError?: boolean; structuredContent?: Record<string, unknown> };
const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "reliability: every gateway fault, sync and async, gives its code; nothing stuck",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const live = await TestGateway.start();
    const down = await TestGateway.start();
    await down.close();
    const server = await startHttp({
      env: {
        OPENCLAW_INSTANCES: JSON.stringify([
          { name: "faulty", url: gateway.url, token: "test-token", default: true },
          { name: "down", url: down.url, token: "test-token" },
          { name: "live", url: live.url, token: "test-token" },
        ]),
        OPENCLAW_TIMEOUT_MS: "800",
        MCP_RATE_LIMIT: "0",
      },
    });
    const client = new Client({ name: "faults", version: "0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    const call = async (name: string, args: Record<string, unknown>) =>
      await client.callTool({ name, arguments: args }, undefined, { timeout: 20_000 }) as Result;
    const codeOf = (r: Result) =>
      (r.structuredContent?.error as { code: string } | undefined)?.code;
    try {
      const cases: [string, Fault | "down", string][] = [
        ["down", "down", "gateway_unreachable"],
        ["slow beyond timeout", { kind: "delay", ms: 3_000 }, "gateway_timeout"],
        ["500", { kind: "status", status: 500 }, "gateway_error"],
        ["502", { kind: "status", status: 502 }, "gateway_error"],
        ["429", { kind: "status", status: 429, retryAfter: "3" }, "gateway_rate_limited"],
        ["garbage JSON", { kind: "garbage" }, "gateway_bad_reply"],
        ["reset mid-stream", { kind: "reset", afterChunks: 1 }, "gateway_disconnected"],
        ["50 MB body", { kind: "huge", bytes: 50 * 1024 * 1024 }, "gateway_bad_reply"],
        ["SSE that never ends", { kind: "hang" }, "gateway_timeout"],
        ["error event in the stream", { kind: "sse_error" }, "gateway_error"],
      ];
      const taskIds: [string, string][] = [];
      for (const [label, fault, code] of cases) {
        gateway.fault = fault === "down" ? { kind: "none" } : fault;
        const instance = fault === "down" ? "down" : "faulty";
        const [sync, other] = await Promise.all([
          call("openclaw_chat", { message: `sync ${label}`, instance }),
          call("openclaw_chat", { message: `meanwhile ${label}`, instance: "live" }),
        ]);
        assert.equal(codeOf(sync), code, `sync: ${label}`);
        assert.equal(
          (other.structuredContent as { reply: string }).reply,
          `echo: meanwhile ${label}`,
        );
        const task = await call("openclaw_chat_async", { message: `async ${label}`, instance });
        const id = (task.structuredContent as { task_id: string }).task_id;
        let status: Record<string, unknown> = {};
        for (let i = 0; i < 100; i++) {
          status = (await call("openclaw_task_status", { task_id: id })).structuredContent!;
          if (status.status === "failed" || status.status === "completed") break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(status.status, "failed", `async: ${label}`);
        assert.equal((status.error as { code: string }).code, code, `async: ${label}`);
        taskIds.push([label, id]);
      }
      gateway.fault = { kind: "none" };
      const list = await call("openclaw_task_list", { limit: 200 });
      const counts = list.structuredContent!.counts as Record<string, number>;
      assert.equal(counts.running, 0, "no task stuck in running");
      assert.equal(counts.pending, 0);
      assert.equal(counts.failed, cases.length);
      const ok = await call("openclaw_chat", { message: "healthy again" });
      assert.equal((ok.structuredContent as { reply: string }).reply, "echo: healthy again");
    } finally {
      await client.close();
      await server.stop();
      await gateway.close();
      await live.close();
    }
  },
);
