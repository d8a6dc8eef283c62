/**
 * `createServer` in process: an SDK client over the SDK's in-memory transport,
 * a real loopback gateway double and a real KV (`:memory:`). No process spawn.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { createMcpHandler } from "@modelcontextprotocol/server";
import { z } from "zod";
import { BridgeError } from "../src/errors.ts";
import { GatewayRegistry } from "../src/gateway/registry.ts";
import { createLogger, silentLogger } from "../src/log.ts";
import {
  argumentError,
  createServer,
  createToolset,
  errorResult,
  type ServerDeps,
  taskCreationError,
} from "../src/server.ts";
import { TaskRunner } from "../src/tasks/runner.ts";
import { TaskStore } from "../src/tasks/store.ts";
import { defineTool } from "../src/tools/tool.ts";
import { INITIALIZE } from "../testing/spawn.ts";
import { TestGateway } from "../testing/test_gateway.ts";
import { modernRequest, readReply } from "./helpers/modern_rpc.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Result = {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content: { type: string; text: string }[];
};

interface Harness {
  client: Client;
  gateway: TestGateway;
  close(): Promise<void>;
}

/** A client connected in memory to a server for one loopback gateway; `tasks` adds a KV store and runner. */
async function connect(
  options: { tasks?: boolean; token?: string; deps?: Partial<ServerDeps> } = {},
): Promise<Harness> {
  const gateway = await TestGateway.start();
  const gateways = new GatewayRegistry([
    gateway.instance({ token: options.token ?? "test-token" }),
  ]);
  const kv = options.tasks ? await Deno.openKv(":memory:") : undefined;
  const store = kv && new TaskStore(kv);
  const runner = store &&
    new TaskRunner({ store, gateways, log: silentLogger, watchMs: 20, idlePollMs: 20 });
  runner?.start();
  const server = createServer({
    gateways,
    log: silentLogger,
    owner: "tester",
    ...(store && runner ? { tasks: { store, runner, ttlMs: 60_000 } } : {}),
    ...options.deps,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "server-test", version: "0" });
  await client.connect(clientSide);
  return {
    client,
    gateway,
    async close() {
      await client.close();
      await runner?.stop();
      kv?.close();
      await gateway.close();
    },
  };
}

/** One instance at a port nothing listens on: for tests that never reach a gateway. */
function noGateway(): GatewayRegistry {
  return new GatewayRegistry([{
    name: "default",
    url: "http://127.0.0.1:9",
    timeoutMs: 1_000,
    isDefault: true,
    model: "openclaw",
  }]);
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  return await client.callTool({ name, arguments: args }) as Result;
}

Deno.test(
  "server: tools/list names the sync tools, with schemas that admit error results",
  opts,
  async () => {
    const h = await connect();
    try {
      const { tools } = await h.client.listTools();
      assert.deepEqual(tools.map((t) => t.name), [
        "openclaw_chat",
        "openclaw_status",
        "openclaw_instances",
        "openclaw_agents",
        "openclaw_sessions",
        "openclaw_history",
      ]);
      const chat = tools[0];
      assert.equal(chat.execution, undefined, "no task support without a task store");
      assert.equal(chat.inputSchema.type, "object");
      assert.deepEqual((chat.inputSchema as { required?: string[] }).required, ["message"]);
      assert.equal(chat.annotations?.title, chat.title);
      const anyOf =
        (chat.outputSchema as unknown as { anyOf: { properties: Record<string, unknown> }[] })
          .anyOf;
      assert.equal(anyOf.length, 2);
      assert.ok("reply" in anyOf[0].properties, "the success shape");
      assert.ok("error" in anyOf[1].properties, "the error envelope");
      assert.equal(h.client.getServerVersion()?.name, "openclaw-mcp");
      assert.equal(h.client.getServerCapabilities()?.tasks, undefined);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "server: with a task store, the task tools are listed and openclaw_chat takes tasks",
  opts,
  async () => {
    const h = await connect({ tasks: true });
    try {
      const { tools } = await h.client.listTools();
      const names = tools.map((t) => t.name);
      for (
        const name of [
          "openclaw_chat_async",
          "openclaw_task_status",
          "openclaw_task_list",
          "openclaw_task_cancel",
        ]
      ) assert.ok(names.includes(name), name);
      const withTasks = tools.filter((t) => t.execution?.taskSupport === "optional").map((t) =>
        t.name
      );
      assert.deepEqual(withTasks, ["openclaw_chat"]);
      assert.ok(h.client.getServerCapabilities()?.tasks?.requests?.tools?.call);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "server: a call returns structured content and the same result as text",
  opts,
  async () => {
    const h = await connect();
    try {
      const result = await call(h.client, "openclaw_chat", { message: "hello there" });
      assert.equal(result.isError, undefined);
      assert.equal(result.structuredContent?.reply, "echo: hello there");
      assert.equal(result.structuredContent?.instance, "default");
      assert.equal(result.content[0].text, "echo: hello there");
      assert.equal(h.gateway.chats.length, 1);

      const instances = await call(h.client, "openclaw_instances", {});
      assert.deepEqual(JSON.parse(instances.content[0].text), instances.structuredContent);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "server: bad arguments are coded invalid_argument results; the gateway is not called",
  opts,
  async () => {
    const h = await connect();
    try {
      const missing = await call(h.client, "openclaw_chat", {});
      assert.equal(missing.isError, true);
      const error = missing.structuredContent?.error as {
        code: string;
        message: string;
        hint: string;
      };
      assert.equal(error.code, "invalid_argument");
      assert.match(error.message, /^Invalid arguments for openclaw_chat: message is required\.$/);
      assert.match(error.hint, /Arguments: message, session_id, instance, agent/);
      assert.match(missing.content[0].text, /^Error \[invalid_argument\]: .*\nHint: /s);

      const extra = await call(h.client, "openclaw_chat", { message: "x", colour: "red" });
      assert.match(
        (extra.structuredContent?.error as { message: string }).message,
        /unknown argument "colour"/,
      );
      const wrongType = await call(h.client, "openclaw_chat", { message: 42 });
      assert.match(
        (wrongType.structuredContent?.error as { message: string }).message,
        /message: expected string/,
      );
      const noArgs = await call(h.client, "openclaw_instances", { x: 1 });
      assert.equal(
        (noArgs.structuredContent?.error as { hint: string }).hint,
        "openclaw_instances takes no arguments.",
      );
      const unknown = await call(h.client, "openclaw_chat", { message: "x", instance: "nope" });
      assert.equal((unknown.structuredContent?.error as { code: string }).code, "unknown_instance");
      assert.equal(h.gateway.chats.length, 0);
    } finally {
      await h.close();
    }
  },
);

Deno.test("server: gateway failures come back as coded error results", opts, async () => {
  const h = await connect({ token: "wrong-token" });
  try {
    const result = await call(h.client, "openclaw_chat", { message: "hi" });
    assert.equal(result.isError, true);
    assert.equal(
      (result.structuredContent?.error as { code: string }).code,
      "gateway_unauthorized",
    );
  } finally {
    await h.close();
  }
});

Deno.test(
  "server: an unknown tool is a JSON-RPC invalid-params error naming the known tools",
  opts,
  async () => {
    const h = await connect();
    try {
      const error = await h.client.callTool({ name: "openclaw_nope", arguments: {} }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof McpError);
      assert.equal(error.code, ErrorCode.InvalidParams);
      assert.match(error.message, /Unknown tool "openclaw_nope"; known tools: openclaw_chat, /);
      assert.equal(error.message.match(/MCP error/g)?.length, 1, `one prefix: ${error.message}`);
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "server: a thrown non-bridge error is internal, with no detail out and a log line",
  opts,
  async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ write: (line) => lines.push(JSON.parse(line)) });
    const crashing = defineTool({
      name: "crash",
      title: "Crash",
      description: "Throws.",
      input: z.object({}).strict(),
      output: z.object({}),
      annotations: {},
      run: () => Promise.reject(new Error("secret detail")),
    });
    const toolset = { tools: new Map([["crash", crashing]]), listed: { legacy: [], modern: [] } };
    const h = await connect({ deps: { toolset, log } });
    try {
      const result = await call(h.client, "crash", {});
      assert.equal(result.isError, true);
      assert.equal((result.structuredContent?.error as { code: string }).code, "internal");
      assert.doesNotMatch(JSON.stringify(result), /secret detail/);
      const crash = lines.find((l) => l.event === "tool_crash");
      assert.match(String(crash?.error), /secret detail/, "the detail goes to the log only");
      assert.ok(lines.some((l) => l.event === "tool_call" && l.outcome === "internal"));
    } finally {
      await h.close();
    }
  },
);

Deno.test("server: the shutdown signal cancels a call in flight", opts, async () => {
  const shutdown = new AbortController();
  const h = await connect({ deps: { shutdown: shutdown.signal } });
  try {
    h.gateway.fault = { kind: "hang" };
    const pending = call(h.client, "openclaw_chat", { message: "wait" });
    await h.gateway.waitFor(() => h.gateway.chats.length === 1);
    shutdown.abort();
    const result = await pending;
    assert.equal(result.isError, true);
    assert.equal((result.structuredContent?.error as { code: string }).code, "cancelled");
    await h.gateway.waitFor(() => h.gateway.chats[0].aborted);
  } finally {
    await h.close();
  }
});

Deno.test(
  "server: a task-augmented openclaw_chat is queued, runs and gives the chat result",
  opts,
  async () => {
    const h = await connect({ tasks: true });
    try {
      let taskId = "";
      const kinds: string[] = [];
      let result: Result | undefined;
      const stream = h.client.experimental.tasks.callToolStream(
        { name: "openclaw_chat", arguments: { message: "as a task" } },
        undefined,
        { task: { ttl: 60_000 } },
      );
      for await (const message of stream) {
        kinds.push(message.type);
        if (message.type === "taskCreated") taskId = message.task.taskId;
        if (message.type === "result") result = message.result as unknown as Result;
        if (message.type === "error") throw message.error;
      }
      assert.equal(kinds[0], "taskCreated");
      assert.equal(kinds.at(-1), "result");
      assert.equal(result?.structuredContent?.reply, "echo: as a task");
      const task = await h.client.experimental.tasks.getTask(taskId);
      assert.equal(task.status, "completed");
      const status = await call(h.client, "openclaw_task_status", { task_id: taskId });
      assert.equal(
        status.structuredContent?.reply,
        "echo: as a task",
        "the tools see the same task",
      );
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "server: a refused task-augmented call is a JSON-RPC error carrying the coded error",
  opts,
  async () => {
    const h = await connect({ tasks: true });
    try {
      const request = (name: string, args: Record<string, unknown>) =>
        h.client.experimental.tasks.callToolStream(
          { name, arguments: args },
          undefined,
          { task: { ttl: 60_000 } },
        );
      const errorOf = async (stream: ReturnType<typeof request>) => {
        for await (const message of stream) if (message.type === "error") return message.error;
        assert.fail("expected an error");
      };
      const bad = await errorOf(request("openclaw_chat", { message: "" }));
      assert.ok(bad instanceof McpError);
      assert.equal(bad.code, ErrorCode.InvalidParams);
      assert.equal((bad.data as { error: { code: string } }).error.code, "invalid_argument");

      const notTaskable = await errorOf(request("openclaw_status", {}));
      assert.ok(notTaskable instanceof McpError);
      assert.match(notTaskable.message, /openclaw_status does not support task execution/);
      const list = await call(h.client, "openclaw_task_list", {});
      assert.deepEqual(list.structuredContent?.tasks, [], "nothing was queued");
    } finally {
      await h.close();
    }
  },
);

Deno.test("server: argumentError, errorResult and taskCreationError shapes", () => {
  const gateways = noGateway();
  const { tools } = createToolset({ gateways });
  const chat = tools.get("openclaw_chat")!;
  const parsed = chat.input.safeParse({ message: 1, a: 1, b: 2 });
  assert.ok(!parsed.success);
  const error = argumentError(chat, parsed.error);
  assert.equal(error.code, "invalid_argument");
  assert.match(error.message, /unknown arguments "a", "b"/);

  const result = errorResult(new BridgeError("gateway_timeout", "Too slow.", "Retry."));
  assert.deepEqual(result, {
    content: [{ type: "text", text: "Error [gateway_timeout]: Too slow.\nHint: Retry." }],
    structuredContent: { error: { code: "gateway_timeout", message: "Too slow.", hint: "Retry." } },
    isError: true,
  });

  const argument = taskCreationError(new BridgeError("unknown_agent", "No agent x.", "Use main."));
  assert.equal(argument.code, ErrorCode.InvalidParams);
  assert.deepEqual(argument.data, {
    error: { code: "unknown_agent", message: "No agent x.", hint: "Use main." },
  });
  const quota = taskCreationError(new BridgeError("quota_exceeded", "Too many.", "Wait."));
  assert.equal(quota.code, -32000, "not the caller's arguments: a server error code");
  assert.match(quota.message, /quota_exceeded: Too many\./);
});

/**
 * A server on the in-memory transport, driven with raw JSON-RPC: `request`
 * returns the message exactly as the server put it on the wire, before any
 * SDK client (which wraps errors in its own McpError) sees it.
 */
async function rawSession(options: { tasks?: boolean } = {}) {
  const gateways = noGateway();
  const kv = options.tasks ? await Deno.openKv(":memory:") : undefined;
  const store = kv && new TaskStore(kv);
  const runner = store && new TaskRunner({ store, gateways, log: silentLogger });
  const server = createServer({
    gateways,
    log: silentLogger,
    ...(store && runner ? { tasks: { store, runner, ttlMs: 60_000 } } : {}),
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  clientSide.onmessage = (message) => {
    const m = message as Record<string, unknown>;
    waiting.get(m.id as number)?.(m);
  };
  await server.connect(serverSide);
  await clientSide.start();
  let nextId = 1;
  const request = (method: string, params: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      clientSide.send({ jsonrpc: "2.0", id, method, params });
    });
  await request(INITIALIZE.method, INITIALIZE.params);
  await clientSide.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  return {
    request,
    async close() {
      await clientSide.close();
      kv?.close();
    },
  };
}

Deno.test(
  "server: JSON-RPC errors on the wire carry the message once, without McpError's 'MCP error' prefix",
  opts,
  async () => {
    const raw = await rawSession({ tasks: true });
    try {
      const errorOf = async (method: string, params: Record<string, unknown>) =>
        (await raw.request(method, params)).error as { code: number; message: string };

      const unknown = await errorOf("tools/call", { name: "openclaw_nope", arguments: {} });
      assert.equal(unknown.code, ErrorCode.InvalidParams);
      assert.match(unknown.message, /^Unknown tool "openclaw_nope"; known tools: openclaw_chat, /);

      const notTaskable = await errorOf("tools/call", {
        name: "openclaw_status",
        arguments: {},
        task: { ttl: 60_000 },
      });
      assert.match(notTaskable.message, /^openclaw_status does not support task execution/);

      const refused = await errorOf("tools/call", {
        name: "openclaw_chat",
        arguments: { message: "" },
        task: { ttl: 60_000 },
      });
      assert.match(refused.message, /^invalid_argument: Invalid arguments for openclaw_chat/);

      const badId = await errorOf("tasks/get", { taskId: "not a task id!" });
      assert.equal(badId.code, ErrorCode.InvalidParams);
      assert.match(badId.message, /^invalid_argument: /);

      for (const error of [unknown, notTaskable, refused, badId]) {
        assert.doesNotMatch(error.message, /MCP error/, error.message);
      }
    } finally {
      await raw.close();
    }
  },
);

Deno.test(
  "server: tasks/get, tasks/result and tasks/cancel of an unknown task are coded -32602 errors without an 'MCP error' prefix",
  opts,
  async () => {
    const raw = await rawSession({ tasks: true });
    try {
      const id = crypto.randomUUID();
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        const { error } = await raw.request(method, { taskId: id }) as {
          error: { code: number; message: string };
        };
        assert.equal(error.code, ErrorCode.InvalidParams, method);
        assert.match(error.message, /^task_not_found: No task with id "[0-9a-f-]+"/, method);
        assert.doesNotMatch(error.message, /MCP error/, `${method}: ${error.message}`);
      }
    } finally {
      await raw.close();
    }
  },
);

Deno.test(
  "server: an SDK client prints a task error with one prefix",
  opts,
  async () => {
    const h = await connect({ tasks: true });
    try {
      const error = await h.client.experimental.tasks.getTask(crypto.randomUUID()).then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof McpError);
      assert.equal(error.code, ErrorCode.InvalidParams);
      assert.match(error.message, /^MCP error -32602: task_not_found: /);
      assert.equal(error.message.match(/MCP error/g)?.length, 1, `one prefix: ${error.message}`);
    } finally {
      await h.close();
    }
  },
);

// ---------------------------------------------------------------------------
// 2026-07-28: the same server factory behind the SDK's strict modern handler.

/**
 * `createServer({era: "modern"})` per request behind `createMcpHandler`, fed
 * raw enveloped requests in process; `tasks` adds a KV store and runner.
 */
async function modernHarness(options: { tasks?: boolean } = {}) {
  const gateway = await TestGateway.start();
  const gateways = new GatewayRegistry([gateway.instance({ token: "test-token" })]);
  const kv = options.tasks ? await Deno.openKv(":memory:") : undefined;
  const store = kv && new TaskStore(kv);
  const runner = store &&
    new TaskRunner({ store, gateways, log: silentLogger, watchMs: 20, idlePollMs: 20 });
  runner?.start();
  const tasks = store && runner ? { tasks: { store, runner, ttlMs: 60_000 } } : {};
  const handler = createMcpHandler(
    () => createServer({ gateways, log: silentLogger, owner: "tester", era: "modern", ...tasks }),
    { legacy: "reject" },
  );
  return {
    gateway,
    store,
    /** Sends one request; `extensionDeclared` puts the Tasks extension in the envelope. */
    async request(
      method: string,
      params: Record<string, unknown>,
      extensionDeclared = false,
    ): Promise<Record<string, unknown>> {
      const request = modernRequest("http://localhost", method, params, {
        tasks: extensionDeclared,
      });
      // With progress the answer streams; the last message is the answer.
      return (await readReply(await handler.fetch(request))).response;
    },
    async close() {
      await handler.close();
      await runner?.stop();
      kv?.close();
      await gateway.close();
    },
  };
}

Deno.test(
  "server: the modern era lists no tool with `execution`, even with tasks on; tools/list is cacheable",
  opts,
  async () => {
    const m = await modernHarness({ tasks: true });
    try {
      const { result } = await m.request("tools/list", {}) as {
        result: {
          tools: { name: string; execution?: unknown }[];
          ttlMs: number;
          cacheScope: string;
        };
      };
      assert.ok(result.tools.some((t) => t.name === "openclaw_chat_async"), "the task tools too");
      assert.deepEqual(result.tools.filter((t) => "execution" in t).map((t) => t.name), []);
      assert.equal(result.ttlMs, 3_600_000);
      assert.equal(result.cacheScope, "public");
    } finally {
      await m.close();
    }
  },
);

Deno.test("server: the legacy era marks openclaw_chat alone as task-capable, only with tasks on", async () => {
  const gateways = noGateway();
  await using kv = await Deno.openKv(":memory:");
  const store = new TaskStore(kv);
  const runner = new TaskRunner({ store, gateways, log: silentLogger });
  const withTasks = createToolset({ gateways, tasks: { store, runner, ttlMs: 60_000 } });
  const executions = (tools: { name: string; execution?: unknown }[]) =>
    tools.filter((t) => t.execution !== undefined).map((t) => [t.name, t.execution]);
  assert.deepEqual(executions(withTasks.listed.legacy), [
    ["openclaw_chat", { taskSupport: "optional" }],
  ]);
  assert.deepEqual(executions(withTasks.listed.modern), []);
  assert.deepEqual(executions(createToolset({ gateways }).listed.legacy), []);
});

Deno.test(
  "server: both eras give openclaw_chat the same structured content for the same gateway reply",
  opts,
  async () => {
    const h = await connect();
    const m = await modernHarness();
    try {
      const legacy = await call(h.client, "openclaw_chat", { message: "same in both" });
      const { result: modern } = await m.request("tools/call", {
        name: "openclaw_chat",
        arguments: { message: "same in both" },
      }) as { result: Result };
      assert.equal(legacy.structuredContent?.reply, "echo: same in both");
      assert.deepEqual(modern.structuredContent, legacy.structuredContent);
      assert.deepEqual(modern.content, legacy.content);
      assert.equal(modern.isError, legacy.isError);
    } finally {
      await h.close();
      await m.close();
    }
  },
);

Deno.test(
  "server: a modern openclaw_chat becomes a task only with the Tasks extension declared and no progress token",
  opts,
  async () => {
    const m = await modernHarness({ tasks: true });
    try {
      const chat = (message: string, meta?: Record<string, unknown>) => ({
        name: "openclaw_chat",
        arguments: { message },
        ...(meta ? { _meta: meta } : {}),
      });
      const { result: task } = await m.request("tools/call", chat("queued"), true) as {
        result: Record<string, unknown>;
      };
      assert.equal(task.resultType, "task");
      assert.equal(task.status, "working");
      assert.equal(task.ttlMs, 60_000);
      assert.equal(task.pollIntervalMs, 500);
      assert.equal(typeof task.taskId, "string");
      const stored = await m.store!.get("tester", task.taskId as string);
      assert.equal(stored.origin, "mcp");

      const plain = await m.request("tools/call", chat("not declared")) as { result: Result };
      assert.equal(plain.result.structuredContent?.reply, "echo: not declared");
      const watched = await m.request(
        "tools/call",
        chat("watched", { progressToken: "p1" }),
        true,
      ) as {
        result: Result;
      };
      assert.equal(
        watched.result.structuredContent?.reply,
        "echo: watched",
        "progress: runs at once",
      );
      const status = await m.request(
        "tools/call",
        { name: "openclaw_status", arguments: {} },
        true,
      ) as {
        result: Record<string, unknown>;
      };
      assert.notEqual(status.result.resultType, "task", "only openclaw_chat becomes a task");

      const refused = await m.request(
        "tools/call",
        { name: "openclaw_chat", arguments: { message: "x", instance: "nope" } },
        true,
      ) as { result: Result };
      assert.equal(refused.result.isError, true, "a refused modern task is an error result");
      assert.equal(
        (refused.result.structuredContent?.error as { code: string }).code,
        "unknown_instance",
      );
    } finally {
      await m.close();
    }
  },
);
