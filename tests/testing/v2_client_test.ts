/**
 * The v2 SDK client harness (testing/v2_client.ts): the legacy era against
 * the real server over stdio, stateful and stateless HTTP; the modern era
 * (2026-07-28 and the Tasks extension) against a small hand-written fake,
 * until the server speaks it.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, startHttp } from "../../testing/spawn.ts";
import {
  callToolAsTask,
  callWithProgress,
  connectV2Http,
  connectV2Stdio,
  MODERN_VERSION,
  type RawResponse,
  startToolTask,
  TASKS_EXTENSION,
  tasksCancel,
  tasksGet,
  tasksList,
  tasksResult,
  type V2Session,
} from "../../testing/v2_client.ts";
import { TOOL_NAMES } from "../helpers/tool_names.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Structured = Record<string, unknown>;

function result(response: RawResponse): Structured {
  assert.equal(response.kind, "result", JSON.stringify(response));
  return (response as { result: Structured }).result;
}

async function assertStatusOk(session: V2Session) {
  const status = await session.client.callTool({ name: "openclaw_status", arguments: {} });
  assert.equal(status.isError, undefined);
  assert.equal((status.structuredContent as { ok: boolean }).ok, true);
}

Deno.test("v2 client, legacy, stdio: tools, status, progress", opts, async () => {
  const gateway = await TestGateway.start({ chunkDelayMs: 60 });
  const session = await connectV2Stdio({ env: gatewayEnv(gateway.url) });
  try {
    assert.equal(session.era, "legacy");
    assert.equal(session.client.getNegotiatedProtocolVersion(), "2025-11-25");
    assert.ok(session.pid);
    const { tools } = await session.client.listTools();
    assert.ok(tools.some((t) => t.name === "openclaw_status"));
    await assertStatusOk(session);
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(" ");
    const { result, progress } = await callWithProgress(session.client, {
      name: "openclaw_chat",
      arguments: { message: words },
    });
    assert.equal((result.structuredContent as { reply: string }).reply, `echo: ${words}`);
    assert.ok(progress.length >= 1, "progress arrived");
    assert.ok(progress.every((p) => `echo: ${words}`.startsWith(p.message ?? "\0")));
  } finally {
    await session.close();
    await gateway.close();
  }
});

Deno.test(
  "v2 client, legacy, stdio: native tasks by hand and through ext-tasks",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const session = await connectV2Stdio({ env: gatewayEnv(gateway.url) });
    try {
      const client = session.client;
      const started = await startToolTask(client, {
        name: "openclaw_chat",
        arguments: { message: "by hand" },
      });
      const id = started.taskId!;
      assert.ok(id, JSON.stringify(started.response));
      assert.equal((result(started.response).task as Structured).status, "working");
      const done = result(await tasksResult(client, id));
      assert.equal((done.structuredContent as { reply: string }).reply, "echo: by hand");
      assert.equal(result(await tasksGet(client, id)).status, "completed");
      const listed = result(await tasksList(client)).tasks as Structured[];
      assert.ok(listed.some((t) => t.taskId === id));
      const late = await tasksCancel(client, id);
      assert.equal(
        late.kind === "error" && late.error.code,
        -32602,
        "a finished task is not cancelled",
      );

      const settled = await callToolAsTask(client, {
        name: "openclaw_chat",
        arguments: { message: "via ext-tasks" },
      }, { preference: "require" });
      assert.equal(settled.kind, "task");
      assert.equal(settled.outcome.status, "completed");
      const reply = settled.outcome.status === "completed" &&
        (settled.outcome.result.structuredContent as { reply: string }).reply;
      assert.equal(reply, "echo: via ext-tasks");

      gateway.fault = { kind: "hang" };
      const cancelled = await callToolAsTask(client, {
        name: "openclaw_chat",
        arguments: { message: "hang on" },
      }, {
        onExecution: (execution) => {
          gateway.waitFor(() => gateway.chats.length === 3).then(() => execution.cancel());
        },
      });
      assert.equal(cancelled.outcome.status, "cancelled");
      assert.equal(result(await tasksGet(client, cancelled.taskId!)).status, "cancelled");
      await gateway.waitFor(() => gateway.chats[2].aborted);
    } finally {
      await session.close();
      await gateway.close();
    }
  },
);

for (const mode of ["stateful", "stateless"] as const) {
  Deno.test(`v2 client, legacy, ${mode} http: bearer token, tools, tasks`, opts, async () => {
    const gateway = await TestGateway.start();
    const server = await startHttp({
      args: mode === "stateless" ? ["--stateless"] : [],
      env: { ...gatewayEnv(gateway.url), MCP_AUTH_TOKENS: "v2-secret" },
    });
    try {
      await assert.rejects(
        connectV2Http(`${server.url}/mcp`, { token: "wrong" }),
        /invalid_token/,
      );
      const session = await connectV2Http(`${server.url}/mcp`, { token: "v2-secret" });
      try {
        assert.equal(session.era, "legacy");
        assert.equal((await session.client.listTools()).tools.length, TOOL_NAMES.length);
        await assertStatusOk(session);
        const settled = await callToolAsTask(session.client, {
          name: "openclaw_chat",
          arguments: { message: `over ${mode} http` },
        }, { preference: "require" });
        assert.equal(settled.outcome.status, "completed");
        assert.equal(result(await tasksGet(session.client, settled.taskId!)).status, "completed");
      } finally {
        await session.close();
      }
    } finally {
      await server.stop();
      await gateway.close();
    }
  });
}

// ---------------------------------------------------------------------------
// The modern era against a fake: just enough 2026-07-28 and Tasks extension
// (answers copied from @modelcontextprotocol/server 2.4.0) to drive the
// harness's raw channel, its framing and ext-tasks' V2 path over real HTTP.

interface Seen {
  headers: Headers;
  body: { id: unknown; method: string; params: Structured };
}

interface FakeTask {
  taskId: string;
  status: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs: number;
  result?: Structured;
}

function startModernFake() {
  const seen: Seen[] = [];
  const tasks = new Map<string, FakeTask>();
  const serverInfo = { "io.modelcontextprotocol/serverInfo": { name: "fake", version: "1" } };
  const declaresTasks = (params: Structured) => {
    const meta = params._meta as Structured | undefined;
    const capabilities = meta?.["io.modelcontextprotocol/clientCapabilities"] as
      | { extensions?: Structured }
      | undefined;
    return capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
  };
  const answer = (body: Seen["body"]): Structured | { error: Structured } => {
    const params = body.params ?? {};
    switch (body.method) {
      case "server/discover":
        return {
          supportedVersions: [MODERN_VERSION],
          capabilities: { tools: { listChanged: false }, extensions: { [TASKS_EXTENSION]: {} } },
          resultType: "complete",
          ttlMs: 0,
          cacheScope: "private",
        };
      case "tools/list":
        return {
          tools: [{ name: "slow", inputSchema: { type: "object" } }],
          resultType: "complete",
          ttlMs: 0,
          cacheScope: "private",
        };
      case "tools/call": {
        const done = { content: [{ type: "text", text: "slow done" }] };
        if (!declaresTasks(params)) return { ...done, resultType: "complete" };
        const now = new Date().toISOString();
        const task: FakeTask = {
          taskId: crypto.randomUUID(),
          status: "working",
          createdAt: now,
          lastUpdatedAt: now,
          ttlMs: 60_000,
          pollIntervalMs: 20,
        };
        tasks.set(task.taskId, task);
        const ms = (params.arguments as { ms?: number } | undefined)?.ms ?? 100;
        setTimeout(() => {
          if (task.status === "working") Object.assign(task, { status: "completed", result: done });
        }, ms);
        return { resultType: "task", ...task };
      }
      case "tasks/get":
      case "tasks/cancel": {
        if (!declaresTasks(params)) {
          return { error: { code: -32021, message: "Missing required client capability" } };
        }
        const task = tasks.get(params.taskId as string);
        if (!task) return { error: { code: -32602, message: "Task not found" } };
        if (body.method === "tasks/get") return { ...task, resultType: "complete" };
        if (task.status === "working") task.status = "cancelled";
        return { resultType: "complete" };
      }
      default:
        return { error: { code: -32601, message: `Method not found: ${body.method}` } };
    }
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.json();
    seen.push({ headers: request.headers, body });
    if (body.id === undefined) return new Response(null, { status: 202 });
    const reply = answer(body);
    return Response.json(
      "error" in reply
        ? { jsonrpc: "2.0", id: body.id, error: reply.error }
        : { jsonrpc: "2.0", id: body.id, result: { ...reply, _meta: serverInfo } },
    );
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}/mcp`, seen, close: () => server.shutdown() };
}

Deno.test("v2 client, modern, http fake: envelope, ext-tasks, raw tasks/*", opts, async () => {
  const fake = startModernFake();
  const session = await connectV2Http(fake.url, { era: "modern" });
  try {
    const client = session.client;
    assert.equal(session.era, "modern");
    const [probe] = fake.seen;
    assert.equal(probe.body.method, "server/discover");
    assert.equal(probe.headers.get("mcp-protocol-version"), MODERN_VERSION);

    // The plain SDK call declares no extension, so the fake answers at once.
    const plain = await client.callTool({ name: "slow", arguments: {} });
    assert.deepEqual(plain.content, [{ type: "text", text: "slow done" }]);

    const settled = await callToolAsTask(client, { name: "slow", arguments: { ms: 60 } });
    assert.equal(settled.kind, "task");
    assert.deepEqual(settled.outcome.status === "completed" && settled.outcome.result.content, [
      { type: "text", text: "slow done" },
    ]);
    const call = fake.seen.find((s) => s.body.method === "tools/call" && s.body.id === "raw-1")!;
    assert.equal(call.headers.get("mcp-method"), "tools/call");
    assert.equal(call.headers.get("mcp-name"), "slow");
    assert.deepEqual(call.body.params._meta, {
      "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
      "io.modelcontextprotocol/clientInfo": { name: "openclaw-mcp-tests", version: "0.0.0" },
      "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS_EXTENSION]: {} } },
    });
    const polls = fake.seen.filter((s) => s.body.method === "tasks/get");
    assert.ok(polls.length >= 1);
    assert.equal(polls[0].headers.get("mcp-name"), settled.taskId);

    const cancelled = await callToolAsTask(client, { name: "slow", arguments: { ms: 60_000 } }, {
      onExecution: (execution) => void execution.cancel(),
    });
    assert.equal(cancelled.outcome.status, "cancelled");
    assert.equal(result(await tasksGet(client, cancelled.taskId!)).status, "cancelled");

    const started = await startToolTask(client, { name: "slow", arguments: { ms: 60_000 } });
    assert.equal(result(started.response).resultType, "task");
    assert.equal(result(await tasksCancel(client, started.taskId!)).resultType, "complete");
    const undeclared = await tasksGet(client, started.taskId!, { tasks: false });
    assert.equal(undeclared.kind === "error" && undeclared.error.code, -32021);
  } finally {
    await session.close();
    await fake.close();
  }
});
