/**
 * Crash recovery: 100 async tasks, SIGKILL the server mid-run, restart on the
 * same KV: every task ends completed, failed(interrupted) or pending by the
 * documented rule, none is lost, and the gateway never saw one task run
 * twice at the same time.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { connectStdio, gatewayEnv, type StdioSession } from "../../testing/spawn.ts";
import { scale } from "./scale.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function tool(session: StdioSession, name: string, args: Record<string, unknown>) {
  const result = await session.client.callTool({ name, arguments: args }, undefined, {
    timeout: 30_000,
  });
  return result.structuredContent as Record<string, unknown>;
}

const N = scale(100, 1_000);

Deno.test(
  `reliability: SIGKILL with ${N} tasks in flight; restart finishes all by the rule`,
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const gateway = await TestGateway.start();
    gateway.fault = { kind: "delay", ms: 150 };
    const env = {
      ...gatewayEnv(gateway.url),
      OPENCLAW_KV_PATH: `${dir}/tasks.kv`,
      OPENCLAW_TASK_LEASE_MS: "1000",
      OPENCLAW_TASK_CONCURRENCY: "8",
    };
    try {
      const first = await connectStdio({ env });
      const ids: string[] = [];
      for (let i = 0; i < N; i += 25) {
        const batch = await Promise.all(
          Array.from(
            { length: Math.min(25, N - i) },
            (_, j) => tool(first, "openclaw_chat_async", { message: `crash-${i + j}` }),
          ),
        );
        ids.push(...batch.map((t) => t.task_id as string));
      }
      await gateway.waitFor(() => gateway.chats.filter((c) => c.finished).length >= 10, 30_000);
      Deno.kill(first.pid!, "SIGKILL");
      await first.close().catch(() => {});
      const killedAt = performance.now();

      const second = await connectStdio({ env });
      try {
        const deadline = performance.now() + 120_000;
        let counts: Record<string, number> = {};
        while (performance.now() < deadline) {
          counts = (await tool(second, "openclaw_task_list", { limit: 1 })).counts as Record<
            string,
            number
          >;
          if (counts.pending === 0 && counts.running === 0) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(counts.pending + counts.running, 0, `not settled: ${JSON.stringify(counts)}`);
        assert.equal(counts.completed + counts.failed, N, `none lost: ${JSON.stringify(counts)}`);
        for (const id of ids) {
          const status = await tool(second, "openclaw_task_status", { task_id: id });
          if (status.status === "failed") {
            assert.equal((status.error as { code: string }).code, "interrupted", `task ${id}`);
          } else {
            assert.equal(status.status, "completed", `task ${id}`);
          }
        }
        let retried = 0;
        for (const [message, requests] of gateway.chatsByMessage()) {
          // A run killed after the gateway answered but before its result was
          // stored is run again (the lease rule): at most two runs, never at once.
          assert.ok(requests.length <= 2, `${message} ran ${requests.length} times`);
          const sorted = requests.toSorted((a, b) => a.at - b.at);
          for (let i = 1; i < sorted.length; i++) {
            assert.ok(
              sorted[i - 1].endedAt !== null && sorted[i - 1].endedAt! <= sorted[i].at,
              `${message} ran twice at once`,
            );
            assert.ok(sorted[i].at >= killedAt, `${message}: the retry came after the kill`);
            retried++;
          }
        }
        assert.equal(gateway.chatsByMessage().size, N, "every task reached the gateway");
        console.log(
          `crash: ${N} tasks, ${JSON.stringify(counts)}, ${retried} retried after the kill`,
        );
      } finally {
        await second.close();
      }
    } finally {
      await gateway.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
