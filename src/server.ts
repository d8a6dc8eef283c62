/**
 * `createServer(deps)`: the MCP protocol object with every tool registered.
 * It knows nothing of the transport.
 *
 * We own `tools/list` and `tools/call` on the SDK's low-level `Server` rather
 * than using `McpServer.registerTool`, for two reasons: validation failures
 * must come back as our coded errors (the SDK turns them into bare text), and
 * task-augmented calls must be routed apart from plain ones without the
 * SDK's automatic task polling on plain calls.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  type McpError,
  type Tool as McpTool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { VERSION } from "./version.ts";
import {
  BridgeError,
  type ErrorCode as BridgeErrorCode,
  mcpError,
  toBridgeError,
} from "./errors.ts";
import type { GatewayRegistry } from "./gateway/registry.ts";
import type { Logger } from "./log.ts";
import { KvMcpTaskStore, mcpTask } from "./tasks/mcp_adapter.ts";
import type { TaskRunner } from "./tasks/runner.ts";
import type { TaskRecord, TaskStore } from "./tasks/store.ts";
import { chatStructured, chatTool } from "./tools/chat.ts";
import { agentsTool, instancesTool, statusTool } from "./tools/status.ts";
import { type ChatSubmission, submitChat, taskTools } from "./tools/tasks.ts";
import { errorEnvelope, errorText, type Tool, type ToolContext } from "./tools/tool.ts";

/** A JSON-RPC message as a transport carries it (see the MCP specification). */
export type JsonRpcMessage = object;

/**
 * What an MCP transport provides. The SDK's transports (stdio, Streamable
 * HTTP, in-memory) and {@linkcode StdioTransport} all fit.
 */
export interface BridgeTransport {
  /** Called once by `connect`, after the server has set the handlers below. */
  start(): Promise<void>;
  /** Sends one message; the server's own error responses pass through {@linkcode withoutSdkPrefix} first. */
  send(message: JsonRpcMessage): Promise<void>;
  /** Closes the transport; it then calls `onclose`. */
  close(): Promise<void>;
  /** Set by the server: called for each message received. */
  onmessage?(message: JsonRpcMessage): void;
  /** Set by the server: called once closed. */
  onclose?(): void;
  /** Set by the server: called on transport errors. */
  onerror?(error: Error): void;
}

/** The MCP server: the SDK's protocol object, seen through what callers need. */
export interface BridgeServer {
  /** Attaches to a transport and starts serving it. */
  connect(transport: BridgeTransport): Promise<void>;
  /** Closes the transport; requests in flight are cancelled through their `extra.signal`. */
  close(): Promise<void>;
  /** Called once the connection is closed. */
  onclose?(): void;
}

/** Everything the server needs; effects are passed in. */
export interface ServerDeps {
  /** Gateway clients by instance name. */
  gateways: GatewayRegistry;
  /** Receives `tool_call` per call (outcome, duration), `tool_crash` and `task_created`. */
  log: Logger;
  /** Aborted at shutdown: cancels every call in flight. */
  shutdown?: AbortSignal;
  /** Owner of work started through this server (local user on stdio). */
  owner?: string;
  /** The durable task store and its runner; without them only the sync tools exist. */
  tasks?: { store: TaskStore; runner: TaskRunner; ttlMs: number };
  /**
   * How `session_id` becomes the gateway's session key (namespaced per
   * principal or not; internal-looking keys refused or allowed). Default:
   * unchanged, internal keys refused. A `SessionKeys` of
   * `gateway/session_key.ts`; give the runner the same one.
   */
  sessions?: {
    /** Throws `invalid_argument` for a refused session_id. */
    check(sessionId: string | undefined): void;
    /** The key sent to the gateway for this principal's `session_id`; undefined without one. */
    toGateway(principal: string, sessionId: string | undefined): Promise<string | undefined>;
  };
  /**
   * Prebuilt tools (see `createToolset`); built here when absent.
   *
   * @ignore
   */
  toolset?: Toolset;
}

/**
 * The prefix `McpError`'s constructor puts on every message. Our own errors
 * never carry it (`mcpError`), but the SDK throws plain McpErrors of its own
 * (tasks/get, tasks/result and tasks/cancel of an unknown task, for one), and
 * SDK clients add the prefix again when they read the response.
 */
const SDK_PREFIX = /^MCP error (-?\d+): /;

/**
 * A JSON-RPC error response with McpError's "MCP error <code>: " prefix taken
 * off its message (only when `<code>` is the response's own code); anything
 * else is returned as it is.
 */
export function withoutSdkPrefix(message: JsonRpcMessage): JsonRpcMessage {
  const error = (message as { error?: { code?: unknown; message?: unknown } }).error;
  if (typeof error?.message !== "string") return message;
  const match = SDK_PREFIX.exec(error.message);
  if (!match || Number(match[1]) !== error.code) return message;
  return { ...message, error: { ...error, message: error.message.slice(match[0].length) } };
}

/**
 * The transport as the server sees it: every message goes out through
 * {@linkcode withoutSdkPrefix}; everything else (the handlers the server
 * sets, `sessionId`, `start`, `close`) reaches the transport itself.
 */
function stripSdkPrefixes<T extends BridgeTransport>(transport: T): T {
  return new Proxy(transport, {
    get(target, key) {
      if (key === "send") {
        return (message: JsonRpcMessage, ...rest: unknown[]) =>
          (target.send as (m: JsonRpcMessage, ...r: unknown[]) => Promise<void>)(
            withoutSdkPrefix(message),
            ...rest,
          );
      }
      const value = Reflect.get(target, key, target);
      // Bound, so that transports with private fields see themselves as `this`.
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(target, key, value) {
      return Reflect.set(target, key, value, target);
    },
  });
}

/** The tool whose calls may be task-augmented (MCP-native tasks). */
const TASK_TOOL = "openclaw_chat";

/** Converts a zod schema to the JSON Schema draft the SDK client validates with. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io }) as Record<
    string,
    unknown
  >;
  return rest;
}

function describeTool(tool: Tool, taskSupport: boolean): McpTool {
  const success = jsonSchema(tool.output, "output");
  return {
    ...(taskSupport ? { execution: { taskSupport: "optional" as const } } : {}),
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, "input") as McpTool["inputSchema"],
    // Error results carry structured content too, and clients validate it
    // against this schema, so it admits either shape.
    outputSchema: {
      type: "object",
      anyOf: [success, jsonSchema(errorEnvelope, "output")],
    } as McpTool["outputSchema"],
    annotations: { title: tool.title, ...tool.annotations },
  };
}

/** Turns a zod failure into one user-facing `invalid_argument` error. */
export function argumentError(tool: Tool, error: z.ZodError): BridgeError {
  const known = Object.keys(tool.input.shape);
  const parts = error.issues.slice(0, 3).map((issue) => {
    const field = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return `unknown argument${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => JSON.stringify(k)).join(", ")
      }`;
    }
    if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) {
      return `${field} is required`;
    }
    if (issue.code === "invalid_type") return `${field}: expected ${issue.expected}`;
    return issue.message.startsWith(field) ? issue.message : `${field}: ${issue.message}`;
  });
  return new BridgeError(
    "invalid_argument",
    `Invalid arguments for ${tool.name}: ${parts.join("; ")}.`,
    known.length
      ? `Arguments: ${known.join(", ")} (see the tool's input schema).`
      : `${tool.name} takes no arguments.`,
  );
}

/** Builds the error result clients see: coded text plus structured content. */
export function errorResult(error: BridgeError): CallToolResult {
  return {
    content: [{ type: "text", text: errorText(error) }],
    structuredContent: { error: error.toJSON() },
    isError: true,
  };
}

/** Codes that mean the caller's arguments were wrong (JSON-RPC invalid params). */
const ARGUMENT_CODES: ReadonlySet<BridgeErrorCode> = new Set([
  "invalid_argument",
  "unknown_instance",
  "unknown_agent",
]);

/**
 * A refused task-augmented call: clients expect a task or a JSON-RPC error
 * (an error tool result is not a valid task creation result), so the coded
 * error travels in the JSON-RPC error's `data`.
 */
export function taskCreationError(error: BridgeError): McpError {
  const code = ARGUMENT_CODES.has(error.code) ? ErrorCode.InvalidParams : -32000;
  return mcpError(code, `${error.code}: ${error.message}`, { error: error.toJSON() });
}

/** The `tools/call` result a finished task gives (MCP-native tasks). */
async function taskResult(store: TaskStore, task: TaskRecord): Promise<CallToolResult> {
  if (task.status === "completed" && task.result) {
    const reply = await store.reply(task);
    return {
      content: [{ type: "text", text: reply }],
      structuredContent: chatStructured({
        ...task.result,
        reply,
        instance: task.instance,
        sessionId: task.sessionId,
      }),
    };
  }
  return errorResult(
    BridgeError.from(
      task.error ?? { code: "internal", message: "The task has no result.", hint: "" },
    ),
  );
}

/** The tools and their `tools/list` entries: built once, shared by every server (session). */
export interface Toolset {
  /** Every tool by its name: what `tools/call` looks the name up in. */
  tools: Map<string, Tool>;
  /** What `tools/list` returns. */
  listed: McpTool[];
}

/**
 * Builds the tools and their JSON Schemas. Do it once per process: an HTTP
 * session then costs a protocol object, not a fresh set of schemas.
 */
export function createToolset(deps: Pick<ServerDeps, "gateways" | "tasks" | "sessions">): Toolset {
  const tools = new Map<string, Tool>();
  const { gateways, sessions } = deps;
  for (
    const tool of [
      chatTool(gateways, sessions),
      statusTool(gateways),
      instancesTool(gateways),
      agentsTool(gateways),
      ...(deps.tasks ? taskTools({ ...deps.tasks, gateways, sessions }) : []),
    ]
  ) tools.set(tool.name, tool);
  const listed = [...tools.values()].map((t) =>
    describeTool(t, !!deps.tasks && t.name === TASK_TOOL)
  );
  return { tools, listed };
}

/**
 * Creates an MCP server with the OpenClaw tools registered.
 *
 * @example
 * ```ts
 * const server = createServer({ gateways, log });
 * await server.connect(transport);
 * ```
 */
export function createServer(deps: ServerDeps): BridgeServer {
  const toolset = deps.toolset ?? createToolset(deps);
  const owner = deps.owner ?? "local";
  const server = sdkServer(deps.tasks, owner);
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolset.listed }));
  server.setRequestHandler(CallToolRequestSchema, callHandler(deps, toolset.tools, owner));
  // Every message leaves through stripSdkPrefixes, whoever threw the error.
  const connect = server.connect.bind(server);
  server.connect = (transport) => connect(stripSdkPrefixes(transport));
  return server;
}

/** The SDK's protocol object: capabilities, the task store when tasks are on, instructions. */
function sdkServer(tasks: ServerDeps["tasks"], owner: string): Server {
  return new Server(
    { name: "openclaw-mcp", title: "OpenClaw", version: VERSION },
    {
      capabilities: {
        tools: { listChanged: false },
        logging: {},
        ...(tasks ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {}),
      },
      taskStore: tasks
        ? new KvMcpTaskStore({
          store: tasks.store,
          owner,
          ttlMs: tasks.ttlMs,
          render: (task) => taskResult(tasks.store, task),
        })
        : undefined,
      instructions: tasks
        ? "Bridge to OpenClaw AI gateways. openclaw_chat sends a message and waits; for long jobs use openclaw_chat_async and poll openclaw_task_status. openclaw_status checks gateways; openclaw_instances lists them."
        : "Bridge to OpenClaw AI gateways. openclaw_chat sends a message and waits; openclaw_status checks gateways; openclaw_instances lists them.",
    },
  );
}

/** A `tools/call` request as the handler reads it. */
type CallRequest = z.infer<typeof CallToolRequestSchema>;

/** What a call handler gets from the SDK besides the request. */
interface CallExtra {
  /** Aborted when the client cancels or the connection closes. */
  signal: AbortSignal;
  /** Sends a notification tied to the request (progress). */
  sendNotification(notification: {
    method: "notifications/progress";
    params: { progressToken: string | number; progress: number; message?: string };
  }): Promise<void>;
}

/**
 * `tools/call`: an unknown tool or invalid arguments are refused here; a
 * task-augmented call is queued ({@linkcode callAsTask}), a plain one runs
 * at once ({@linkcode callPlain}).
 */
function callHandler(
  deps: ServerDeps,
  tools: Map<string, Tool>,
  owner: string,
): (request: CallRequest, extra: CallExtra) => Promise<CallToolResult> {
  return async (request, extra) => {
    const tool = tools.get(request.params.name);
    if (!tool) {
      throw mcpError(
        ErrorCode.InvalidParams,
        `Unknown tool "${request.params.name}"; known tools: ${[...tools.keys()].join(", ")}`,
      );
    }
    const parsed = tool.input.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      const error = argumentError(tool, parsed.error);
      deps.log.info("tool_call", { tool: tool.name, outcome: error.code });
      // A task-augmented call must answer with a task or a JSON-RPC error.
      if (request.params.task) throw taskCreationError(error);
      return errorResult(error);
    }
    if (request.params.task) return await callAsTask(deps, { tool, args: parsed.data, owner });
    const context = toolContext(deps, {
      owner,
      extra,
      progressToken: request.params._meta?.progressToken,
    });
    return await callPlain(deps, { tool, args: parsed.data, context });
  };
}

/**
 * A task-augmented call: queued in the durable store and answered at once
 * with the task. Plain calls never come here, so they keep the direct
 * streaming path.
 */
async function callAsTask(
  deps: ServerDeps,
  call: { tool: Tool; args: Record<string, unknown>; owner: string },
): Promise<CallToolResult> {
  const { tool } = call;
  const tasks = deps.tasks;
  if (!tasks || tool.name !== TASK_TOOL) {
    throw mcpError(
      ErrorCode.InvalidParams,
      `${tool.name} does not support task execution; call it without params.task`,
    );
  }
  try {
    const task = await submitChat({
      ...tasks,
      gateways: deps.gateways,
      sessions: deps.sessions,
    }, {
      owner: call.owner,
      // Validated already by openclaw_chat's own input schema (chatArgs).
      chat: call.args as unknown as ChatSubmission,
      origin: "mcp",
    });
    deps.log.info("task_created", { tool: tool.name, task: task.id });
    return { task: mcpTask(task, tasks.ttlMs) } as unknown as CallToolResult;
  } catch (thrown) {
    const error = toBridgeError(thrown);
    deps.log.info("tool_call", { tool: tool.name, outcome: error.code });
    throw taskCreationError(error);
  }
}

/** What a plain call's tool sees: its signal (with shutdown), owner and progress sender. */
function toolContext(
  deps: ServerDeps,
  call: { owner: string; extra: CallExtra; progressToken: string | number | undefined },
): ToolContext {
  const { extra, progressToken } = call;
  return {
    signal: deps.shutdown ? AbortSignal.any([extra.signal, deps.shutdown]) : extra.signal,
    owner: call.owner,
    progress: (progress, message) => {
      if (progressToken === undefined || extra.signal.aborted) return;
      extra.sendNotification({
        method: "notifications/progress",
        params: { progressToken, progress, message },
      }).catch(() => {});
    },
  };
}

/**
 * A plain call: runs the tool and returns its result, or the coded error
 * result; a crash (anything not a `BridgeError`) is logged with its stack.
 */
async function callPlain(
  deps: ServerDeps,
  call: { tool: Tool; args: Record<string, unknown>; context: ToolContext },
): Promise<CallToolResult> {
  const { tool } = call;
  const started = performance.now();
  try {
    const output = await tool.run(call.args, call.context);
    deps.log.info("tool_call", {
      tool: tool.name,
      outcome: "ok",
      ms: Math.round(performance.now() - started),
    });
    return {
      content: [{ type: "text", text: output.text ?? JSON.stringify(output.structured) }],
      structuredContent: output.structured as Record<string, unknown>,
    };
  } catch (thrown) {
    const error = toBridgeError(thrown);
    if (!(thrown instanceof BridgeError)) {
      deps.log.error("tool_crash", {
        tool: tool.name,
        error: thrown instanceof Error ? thrown.stack : String(thrown),
      });
    }
    deps.log.info("tool_call", {
      tool: tool.name,
      outcome: error.code,
      ms: Math.round(performance.now() - started),
    });
    return errorResult(error);
  }
}
