/**
 * Async tasks end-to-end: spawned servers, the SDK client, a shared KV file,
 * SIGKILL mid-run, and MCP-native tasks.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/types"
import { CallToolResultSchema, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { TestGateway } from "../../testing/test_gateway.ts";
import { connectStdio, gatewayEnv, type StdioSession } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Structured = Record<string, unknown>;

async function call(session: StdioSession, name: string, args: Record<string, unknown> = {}) {
  const result = await session.client.callTool({ name, arguments: args }) as {
    isError?: boolean;
    structuredContent?: Structured;
    content: { text?: string }[];
  };
  return result;
}

async function ok(session: StdioSession, name: string, args: Record<string, unknown> = {}) {
  const result = await call(session, name, args);
  assert.ok(!result.isError, `${name} failed: ${result.content[0]?.text}`);
  return result.structuredContent!;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tempKv(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir();
  return {
    path: `${dir}/tasks.kv`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test(
  "tasks: chat_async, status with partial and reply, list, cancel, errors",
  opts,
  async () => {
    const gateway = await TestGateway.start({ chunkDelayMs: 100 });
    const session = await connectStdio({ env: gatewayEnv(gateway.url) });
    try {
      const words = Array.from({ length: 10 }, (_, i) => `word${i}`).join(" ");
      const submitted = await ok(session, "openclaw_chat_async", {
        message: words,
        session_id: "s-1",
        agent: "main",
        priority: 5,
      });
      assert.equal(submitted.status, "pending");
      assert.equal(submitted.instance, "default");
      assert.equal(typeof submitted.position, "number");
      const id = submitted.task_id as string;

      let sawPartial = false;
      await waitUntil("completion", async () => {
        const status = await ok(session, "openclaw_task_status", { task_id: id });
        if (status.status === "running" && (status.partial_reply as string)?.length) {
          sawPartial = true;
        }
        return status.status === "completed";
      });
      assert.ok(sawPartial, "saw a partial reply while running");
      const done = await ok(session, "openclaw_task_status", { task_id: id });
      assert.equal(done.reply, `echo: ${words}`);
      assert.equal(done.attempt, 1);
      assert.equal(done.session_id, "s-1");
      assert.equal(done.agent, "main");
      assert.equal(done.finish_reason, "stop");
      assert.ok(done.started_at && done.finished_at);
      assert.equal(gateway.chats[0].headers["x-openclaw-session-key"], "s-1");
      assert.equal(gateway.chats[0].headers["x-openclaw-agent-id"], "main");

      // A running task is cancelled and its gateway request aborted.
      gateway.fault = { kind: "hang" };
      const running = await ok(session, "openclaw_chat_async", { message: "hang on" });
      await gateway.waitFor(() => gateway.chats.length === 2);
      const cancelled = await ok(session, "openclaw_task_cancel", { task_id: running.task_id });
      assert.equal(cancelled.status, "cancelled");
      await gateway.waitFor(() => gateway.chats[1].aborted, 1_500);

      const again = await call(session, "openclaw_task_cancel", { task_id: running.task_id });
      assert.equal((again.structuredContent?.error as Structured).code, "task_finished");
      const missing = await call(session, "openclaw_task_status", { task_id: "nope" });
      assert.equal((missing.structuredContent?.error as Structured).code, "task_not_found");
      const bad = await call(session, "openclaw_chat_async", { message: "x", priority: 101 });
      assert.match(bad.content[0].text!, /priority must be at most 100/);
      const badInstance = await call(session, "openclaw_chat_async", {
        message: "x",
        instance: "zz",
      });
      assert.equal((badInstance.structuredContent?.error as Structured).code, "unknown_instance");

      const list = await ok(session, "openclaw_task_list", {});
      assert.deepEqual((list.tasks as Structured[]).map((t) => t.task_id), [running.task_id, id]);
      assert.deepEqual(list.counts, {
        pending: 0,
        running: 0,
        completed: 1,
        failed: 0,
        cancelled: 1,
      });
      const onlyDone = await ok(session, "openclaw_task_list", { status: "completed", limit: 1 });
      assert.deepEqual((onlyDone.tasks as Structured[]).map((t) => t.task_id), [id]);
    } finally {
      await session.close();
      await gateway.close();
    }
  },
);

Deno.test(
  "tasks: SIGKILL mid-run; a new process on the same KV finishes every task once",
  opts,
  async () => {
    await using kv = await tempKv();
    const gateway = await TestGateway.start({ chunkDelayMs: 150 });
    const env = {
      ...gatewayEnv(gateway.url),
      OPENCLAW_KV_PATH: kv.path,
      OPENCLAW_TASK_LEASE_MS: "1000",
      OPENCLAW_TASK_CONCURRENCY: "4",
    };
    const first = await connectStdio({ env });
    const ids: string[] = [];
    const N = 8;
    for (let i = 0; i < N; i++) {
      const message = `job-${i} ` + "tick ".repeat(8);
      ids.push((await ok(first, "openclaw_chat_async", { message })).task_id as string);
    }
    await gateway.waitFor(() => gateway.chats.length >= 4);
    Deno.kill(first.pid!, "SIGKILL");
    await first.close().catch(() => {});
    const killedAt = performance.now();
    await gateway.waitFor(() => gateway.chats.slice(0, 4).every((c) => c.endedAt !== null));

    const second = await connectStdio({ env });
    try {
      await waitUntil("all tasks finished", async () => {
        const list = await ok(second, "openclaw_task_list", { limit: 200 });
        const counts = list.counts as Record<string, number>;
        return counts.pending === 0 && counts.running === 0;
      }, 30_000);
      const statuses = await Promise.all(
        ids.map((id) => ok(second, "openclaw_task_status", { task_id: id })),
      );
      for (const status of statuses) {
        assert.equal(status.status, "completed", `task ${status.task_id} ended ${status.status}`);
      }
      const retried = statuses.filter((s) => s.attempt === 2).length;
      assert.ok(retried >= 1, "tasks running at the kill were retried as attempt 2");
      for (const [message, requests] of gateway.chatsByMessage()) {
        assert.ok(requests.some((r) => r.finished), `"${message.slice(0, 8)}" completed`);
        assert.ok(requests.length <= 2, `"${message.slice(0, 8)}" sent at most twice`);
        if (requests.length === 2) {
          // The first run was killed: mid-reply (aborted) or after the gateway
          // answered but before the result was stored; never overlapping.
          const [a, b] = requests.toSorted((x, y) => x.at - y.at);
          assert.ok(
            a.endedAt !== null && a.endedAt <= b.at,
            "the retry started after the killed run ended",
          );
          assert.ok(b.at >= killedAt, "the retry came from the new process");
        }
      }
      assert.equal(gateway.chatsByMessage().size, N, "no task lost");
    } finally {
      await second.close();
      await gateway.close();
    }
  },
);

Deno.test(
  "tasks: two processes on one KV file run each of 200 tasks exactly once",
  opts,
  async () => {
    await using kv = await tempKv();
    const gateway = await TestGateway.start();
    gateway.fault = { kind: "delay", ms: 40 };
    const env = {
      ...gatewayEnv(gateway.url),
      OPENCLAW_KV_PATH: kv.path,
      OPENCLAW_TASK_CONCURRENCY: "4",
      // 200 queued at once by one principal: above the default quota of 100.
      OPENCLAW_TASK_MAX_PENDING: "1000",
    };
    const a = await connectStdio({ env });
    const b = await connectStdio({ env });
    try {
      const N = 200;
      await Promise.all(
        Array.from(
          { length: N },
          (_, i) => ok(a, "openclaw_chat_async", { message: `unique-${i}` }),
        ),
      );
      await waitUntil("200 completed", async () => {
        const counts = (await ok(b, "openclaw_task_list", { limit: 1 })).counts as Record<
          string,
          number
        >;
        return counts.completed === N;
      }, 60_000);
      const groups = gateway.chatsByMessage();
      assert.equal(groups.size, N);
      for (const [message, requests] of groups) {
        assert.equal(requests.length, 1, `${message} ran ${requests.length} times`);
      }
      const started = (s: StdioSession) => s.stderr().split('"event":"task_started"').length - 1;
      assert.equal(started(a) + started(b), N);
      assert.ok(started(a) > 0 && started(b) > 0, `both ran tasks: ${started(a)} + ${started(b)}`);
    } finally {
      await a.close();
      await b.close();
      await gateway.close();
    }
  },
);

Deno.test(
  "tasks: MCP-native task on openclaw_chat: created, working, completed; list; cancel",
  opts,
  async () => {
    const gateway = await TestGateway.start({ chunkDelayMs: 80 });
    const session = await connectStdio({ env: gatewayEnv(gateway.url) });
    try {
      const client = session.client;
      await client.listTools();
      const kinds: string[] = [];
      let taskId = "";
      let result: Structured | undefined;
      const stream = client.experimental.tasks.callToolStream(
        { name: "openclaw_chat", arguments: { message: "native task please" } },
        undefined,
        { task: { ttl: 60_000 } },
      );
      for await (const message of stream) {
        kinds.push(message.type === "taskStatus" ? `status:${message.task.status}` : message.type);
        if (message.type === "taskCreated") taskId = message.task.taskId;
        if (message.type === "result") result = message.result as Structured;
        if (message.type === "error") throw message.error;
      }
      assert.equal(kinds[0], "taskCreated");
      assert.equal(kinds.at(-1), "result");
      assert.ok(taskId);
      assert.equal((result!.structuredContent as Structured).reply, "echo: native task please");
      const got = await client.experimental.tasks.getTask(taskId);
      assert.equal(got.status, "completed");

      // The same task through our own tools: the two views agree.
      const status = await ok(session, "openclaw_task_status", { task_id: taskId });
      assert.equal(status.status, "completed");
      assert.equal(status.reply, "echo: native task please");
      const listed = await client.experimental.tasks.listTasks();
      assert.ok(listed.tasks.some((t) => t.taskId === taskId));

      gateway.fault = { kind: "hang" };
      const tool = await ok(session, "openclaw_chat_async", { message: "cancel me natively" });
      await gateway.waitFor(() => gateway.chats.length === 2);
      const cancelled = await client.experimental.tasks.cancelTask(tool.task_id as string);
      assert.equal(cancelled.status, "cancelled");
      await gateway.waitFor(() => gateway.chats[1].aborted, 1_500);
      const after = await ok(session, "openclaw_task_status", { task_id: tool.task_id });
      assert.equal(after.status, "cancelled");
      await assert.rejects(client.experimental.tasks.getTask("not-a-task"));
    } finally {
      await session.close();
      await gateway.close();
    }
  },
);

Deno.test("tasks: a plain openclaw_chat call stays direct (no task created)", opts, async () => {
  const gateway = await TestGateway.start();
  const session = await connectStdio({ env: gatewayEnv(gateway.url) });
  try {
    const result = await call(session, "openclaw_chat", { message: "direct" });
    assert.equal(result.structuredContent?.reply, "echo: direct");
    const list = await ok(session, "openclaw_task_list", {});
    assert.deepEqual(list.tasks, [], "no task was created for a plain call");
  } finally {
    await session.close();
    await gateway.close();
  }
});

Deno.test(
  "tasks: past the pending quota chat_async returns quota_exceeded; bad task ids are refused",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    gateway.fault = { kind: "hang" };
    const session = await connectStdio({
      env: {
        ...gatewayEnv(gateway.url),
        OPENCLAW_TASK_CONCURRENCY: "1",
        OPENCLAW_TASK_MAX_PENDING: "2",
      },
    });
    try {
      const running = await ok(session, "openclaw_chat_async", { message: "runs" });
      await gateway.waitFor(() => gateway.chats.length === 1);
      const first = await ok(session, "openclaw_chat_async", { message: "waits 1" });
      assert.equal(first.position, 0);
      const second = await ok(session, "openclaw_chat_async", { message: "waits 2" });
      assert.equal(second.position, 1, "position counts the caller's own tasks ahead");
      const refused = await call(session, "openclaw_chat_async", { message: "one too many" });
      assert.equal(refused.isError, true);
      assert.equal((refused.structuredContent?.error as Structured).code, "quota_exceeded");
      assert.match(refused.content[0].text!, /OPENCLAW_TASK_MAX_PENDING/);
      assert.match(refused.content[0].text!, /Hint: /);
      // The same refusal of an MCP-native task is a JSON-RPC error with the coded body in data
      // (an error tool result is not a valid task creation result for clients).
      const native = await session.client.experimental.tasks.callToolStream(
        { name: "openclaw_chat", arguments: { message: "native, one too many" } },
        undefined,
        { task: { ttl: 60_000 } },
      );
      let nativeError: McpError | undefined;
      for await (const message of native) {
        if (message.type === "error") nativeError = message.error as McpError;
      }
      assert.ok(nativeError, "the native task was refused");
      assert.equal(nativeError.code, -32000);
      assert.match(nativeError.message, /quota_exceeded: .*OPENCLAW_TASK_MAX_PENDING/);
      assert.equal(
        ((nativeError.data as Structured).error as Structured).code,
        "quota_exceeded",
      );
      await ok(session, "openclaw_task_cancel", { task_id: first.task_id });
      await ok(session, "openclaw_chat_async", { message: "fits again" });
      await ok(session, "openclaw_task_cancel", { task_id: running.task_id });

      const huge = "x".repeat(1_000_000);
      const badStatus = await call(session, "openclaw_task_status", { task_id: huge });
      assert.equal((badStatus.structuredContent?.error as Structured).code, "invalid_argument");
      assert.match(badStatus.content[0].text!, /task_id is longer than 128/);
      const badChars = await call(session, "openclaw_task_cancel", { task_id: "../x" });
      assert.match(badChars.content[0].text!, /task_id may hold only letters/);
      for (
        const attempt of [
          () => session.client.experimental.tasks.getTask(huge),
          () => session.client.experimental.tasks.cancelTask(huge),
          () => session.client.experimental.tasks.getTaskResult(huge, CallToolResultSchema),
        ]
      ) {
        const error = await attempt().then(() => null, (e) => e as McpError);
        assert.ok(error, "refused");
        assert.equal(error.code, ErrorCode.InvalidParams);
        assert.match(error.message, /task_id is not a valid task id/);
        assert.doesNotMatch(error.message, /Key too large|xxxxxxxxxx/);
      }
    } finally {
      await session.close();
      await gateway.close();
    }
  },
);
