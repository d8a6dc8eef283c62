/**
 * Replicas on one KV (issue 13): three stateless HTTP servers share a KV
 * file and two gateways, instance `a` capped at 2 and `b` at 5. The caps
 * hold across the three processes at every moment (the gateway doubles
 * record each request), `b` is not starved behind `a`'s queue, one server
 * is SIGKILLed mid-run and its slots come back by the lease rule, and every
 * task completes exactly once. And 2026-07-28 requests, which need no
 * session, alternate between two processes on one KV: a task submitted on
 * one is read and cancelled on the other.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type RecordedRequest, TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, type HttpServerProcess, startHttp } from "../../testing/spawn.ts";
import { type Json, modernCall, modernRpc, resultOf, structuredOf } from "../helpers/modern_rpc.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN = "replicas-token-0123456789abcdef";
const PER_INSTANCE = 60;
const LEASE_MS = 1_500;

type Result = { isError?: boolean; structuredContent?: Record<string, unknown> };

async function mcpClient(url: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
  });
  const client = new Client({ name: "replicas-test", version: "0" });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args }) as Result;
  assert.ok(!result.isError, `${name}: ${JSON.stringify(result)}`);
  return result.structuredContent!;
}

/** Most requests the gateway had open at once (each request's arrival against the open ones). */
function mostAtOnce(chats: RecordedRequest[]): number {
  let most = 0;
  for (const c of chats) {
    const open = chats.filter((o) => o.at <= c.at && (o.endedAt ?? Infinity) > c.at);
    most = Math.max(most, open.length);
  }
  return most;
}

/** Ids of the tasks (on `instance`, or any) the server's log shows started and not finished. */
function unfinished(server: HttpServerProcess, instance?: string): Set<string> {
  const open = new Set<string>();
  for (const line of server.stderr().split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line);
    if (entry.event === "task_started" && (!instance || entry.instance === instance)) {
      open.add(entry.task);
    }
    if (entry.event === "task_finished") open.delete(entry.task);
  }
  return open;
}

function message(chat: RecordedRequest): string {
  return (chat.body?.messages as { content: string }[])[0].content;
}

Deno.test(
  "replicas: per-instance limits hold across three servers on one KV, a SIGKILL loses nothing",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/tasks.kv`;
    // Each reply streams 6 words 25 ms apart: about 150 ms a task.
    const gwA = await TestGateway.start({ chunkDelayMs: 25 });
    const gwB = await TestGateway.start({ chunkDelayMs: 25 });
    const env = {
      OPENCLAW_INSTANCES: JSON.stringify([
        { name: "a", url: gwA.url, token: "test-token", concurrency: 2 },
        { name: "b", url: gwB.url, token: "test-token", concurrency: 5 },
      ]),
      OPENCLAW_KV_PATH: kvPath,
      OPENCLAW_TASK_LEASE_MS: String(LEASE_MS),
      OPENCLAW_TASK_MAX_PENDING: "1000",
      MCP_AUTH_TOKENS: TOKEN,
    };
    const servers: HttpServerProcess[] = [];
    const clients: Client[] = [];
    try {
      servers.push(
        ...await Promise.all([1, 2, 3].map(() => startHttp({ args: ["--stateless"], env }))),
      );
      clients.push(...await Promise.all(servers.map((s) => mcpClient(s.url))));

      // 60 tasks on each instance, a's queued first, submitted through all three servers.
      const ids: string[] = [];
      const idOf = new Map<string, string>();
      for (const instance of ["a", "b"]) {
        const submitted = await Promise.all(
          Array.from(
            { length: PER_INSTANCE },
            (_, i) =>
              call(clients[i % 3], "openclaw_chat_async", {
                message: `${instance}${i} one two three four`,
                instance,
              }),
          ),
        );
        ids.push(...submitted.map((s) => s.task_id as string));
        submitted.forEach((s, i) =>
          idOf.set(`${instance}${i} one two three four`, s.task_id as string)
        );
      }

      // Kill -9 a server while it runs a task on a, once a few have run.
      const victim = await new Promise<number>((resolve, reject) => {
        const deadline = performance.now() + 10_000;
        const look = () => {
          const index = servers.findIndex((s) => unfinished(s, "a").size > 0);
          if (index >= 0 && gwA.chats.length >= 6) return resolve(index);
          if (performance.now() > deadline) return reject(new Error("no server ran a task on a"));
          setTimeout(look, 10);
        };
        look();
      });
      servers[victim].child.kill("SIGKILL");
      await servers[victim].child.status;
      const killedAt = performance.now();
      await new Promise((r) => setTimeout(r, 100)); // the last of its stderr
      // What it was running: the lease rule runs these again, possibly a second time at the
      // gateway (a run may have been answered before the kill stopped it storing the reply).
      const cutOff = unfinished(servers[victim]);
      const alive = clients.filter((_, i) => i !== victim);

      const deadline = performance.now() + 30_000;
      let counts: Record<string, number> = {};
      while (performance.now() < deadline) {
        counts = (await call(alive[0], "openclaw_task_list", { limit: 1 })).counts as Record<
          string,
          number
        >;
        if (counts.completed === ids.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(counts.completed, 2 * PER_INSTANCE, `all complete: ${JSON.stringify(counts)}`);

      // The limits held at every moment, across the three processes (and the kill).
      assert.ok(mostAtOnce(gwA.chats) <= 2, `a: at most 2 at once, saw ${mostAtOnce(gwA.chats)}`);
      assert.ok(mostAtOnce(gwB.chats) <= 5, `b: at most 5 at once, saw ${mostAtOnce(gwB.chats)}`);
      assert.equal(mostAtOnce(gwA.chats), 2, "a used both its slots");
      assert.ok(mostAtOnce(gwB.chats) >= 3, "b ran in parallel");

      // b was not starved behind a: its last task ended while a still had tasks queued.
      const bDone = Math.max(...gwB.chats.map((c) => c.endedAt!));
      const aStartedBefore = new Set(gwA.chats.filter((c) => c.at < bDone).map(message)).size;
      assert.ok(aStartedBefore < PER_INSTANCE, `a had ${aStartedBefore} started when b finished`);

      // Every task ran once, but those the killed server was running: they ran again,
      // and only after their lease ran out (their slots came back by the lease rule).
      // It was chosen while running a task on a, but that task may end between the look and the
      // kill (a loaded machine widens the window): what counts is that it held work.
      assert.ok(cutOff.size > 0, "it was running tasks when killed");
      assert.ok(cutOff.size <= 7, `${cutOff.size} runs cut by the kill`);
      for (const [gw, instance] of [[gwA, "a"], [gwB, "b"]] as const) {
        const byMessage = gw.chatsByMessage();
        assert.equal(byMessage.size, PER_INSTANCE, `${instance}: every task reached its gateway`);
        for (const [text, chats] of byMessage) {
          if (!cutOff.has(idOf.get(text)!)) {
            assert.equal(chats.length, 1, `${text} sent once`);
            continue;
          }
          assert.equal(chats.length, 2, `${text}: cut by the kill, run again once`);
          assert.ok(chats[0].at < killedAt, `${text}: the first run was under way at the kill`);
          assert.ok(chats[1].finished, `${text}: the second run finished`);
          assert.ok(chats[1].at >= chats[0].at + LEASE_MS * 0.9, `${text}: re-run after the lease`);
        }
      }
    } finally {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await Promise.all(servers.map((s) => s.stop()));
      await gwA.close();
      await gwB.close();
    }
    // Every slot came back: the shared counters read zero.
    const kv = await Deno.openKv(kvPath);
    try {
      const slots = await kv.getMany<Deno.KvU64[]>([["slots", "a"], ["slots", "b"], [
        "slots_total",
      ]]);
      assert.deepEqual(slots.map((e) => e.value?.value ?? 0n), [0n, 0n, 0n]);
    } finally {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "replicas: 2026 requests alternate between two processes; a task from one is read and cancelled on the other",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const gateway = await TestGateway.start({ chunkDelayMs: 20 });
    const env = {
      ...gatewayEnv(gateway.url),
      OPENCLAW_KV_PATH: `${dir}/tasks.kv`,
      MCP_AUTH_TOKENS: TOKEN,
    };
    const auth = { token: TOKEN };
    const servers: HttpServerProcess[] = [];
    try {
      // Two tasks submitted on process 1 alone, so process 1 runs them: one
      // by openclaw_chat_async, one by the Tasks extension. Both hang at the gateway.
      servers.push(await startHttp({ env }));
      const [one] = servers.map((s) => s.url);
      gateway.fault = { kind: "hang" };
      const submit = async (base: string, how: "async" | "extension", message: string) => {
        if (how === "async") {
          return structuredOf(await modernCall(base, "openclaw_chat_async", { message }, auth))
            .task_id as string;
        }
        const created = resultOf(
          await modernCall(base, "openclaw_chat", { message }, { ...auth, tasks: true }),
        );
        assert.equal(created.resultType, "task");
        return created.taskId as string;
      };
      const hanging = {
        async: await submit(one, "async", "hang async"),
        extension: await submit(one, "extension", "hang extension"),
      };
      await gateway.waitFor(() => gateway.chats.length === 2);
      for (const id of Object.values(hanging)) {
        assert.match(servers[0].stderr(), new RegExp(`"event":"task_started","task":"${id}"`));
      }

      servers.push(await startHttp({ env }));
      const two = servers[1].url;
      const both = [one, two];

      // Process 2 reads what process 1 runs, by tasks/get and by the status tool.
      for (const id of Object.values(hanging)) {
        const got = resultOf(await modernRpc(two, "tasks/get", { taskId: id }, auth));
        assert.equal(got.status, "working");
        const status = structuredOf(
          await modernCall(two, "openclaw_task_status", { task_id: id }, auth),
        );
        assert.equal(status.status, "running");
      }
      // Process 2 cancels them (tasks/cancel and the cancel tool); process 1's runner stops both.
      resultOf(await modernRpc(two, "tasks/cancel", { taskId: hanging.async }, auth));
      const cancelled = structuredOf(
        await modernCall(two, "openclaw_task_cancel", { task_id: hanging.extension }, auth),
      );
      assert.equal(cancelled.status, "cancelled");
      await gateway.waitFor(() => gateway.chats.every((c) => c.aborted), 3_000);
      for (const base of both) {
        for (const id of Object.values(hanging)) {
          const got = resultOf(await modernRpc(base, "tasks/get", { taskId: id }, auth));
          assert.equal(got.status, "cancelled", `${id} on ${base}`);
          const status = structuredOf(
            await modernCall(base, "openclaw_task_status", { task_id: id }, auth),
          );
          assert.equal(status.status, "cancelled", `${id} on ${base}`);
        }
      }

      // Two more submitted on process 1 complete; both processes show the reply,
      // polled alternately between them.
      gateway.fault = { kind: "none" };
      const finishing = [
        [await submit(one, "async", "done async"), "done async"],
        [await submit(one, "extension", "done extension"), "done extension"],
      ] as const;
      for (const [id, message] of finishing) {
        let got: Json = {};
        const deadline = performance.now() + 10_000;
        for (let i = 0; got.status !== "completed"; i++) {
          assert.ok(performance.now() < deadline, `${message}: still ${got.status}`);
          await new Promise((r) => setTimeout(r, 50));
          got = resultOf(await modernRpc(both[i % 2], "tasks/get", { taskId: id }, auth));
        }
        for (const base of both) {
          const inline = resultOf(await modernRpc(base, "tasks/get", { taskId: id }, auth))
            .result as Json;
          assert.equal((inline.structuredContent as Json).reply, `echo: ${message}`);
          const status = structuredOf(
            await modernCall(base, "openclaw_task_status", { task_id: id }, auth),
          );
          assert.equal(status.status, "completed");
          assert.equal(status.reply, `echo: ${message}`);
        }
      }
      assert.equal(gateway.chatsByMessage().get("done async")?.length, 1, "ran once");
      assert.equal(gateway.chatsByMessage().get("done extension")?.length, 1, "ran once");
    } finally {
      const statuses = await Promise.all(servers.map((s) => s.stop()));
      await gateway.close();
      await Deno.remove(dir, { recursive: true });
      for (const [i, status] of statuses.entries()) {
        assert.equal(status.code, 0, `server ${i + 1}: ${servers[i].stderr().slice(-500)}`);
      }
    }
    for (const server of servers) assert.doesNotMatch(server.stderr(), /"level":"error"/);
  },
);
