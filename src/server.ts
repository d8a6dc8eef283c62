/**
 * `createServer(deps)`: the MCP protocol object with every tool registered.
 * It knows nothing of the transport.
 *
 * One instance serves one era (the serving entry picks it: `serveStdio` per
 * connection, the HTTP layer per session or per 2026-07-28 request); the
 * tools, their results and their coded errors are the same in both.
 *
 * We own `tools/list` and `tools/call` on the SDK's (v2) low-level `Server`
 * rather than using `McpServer.registerTool`, for two reasons: validation
 * failures must come back as our coded errors (the SDK turns them into bare
 * text), and a call that becomes a task must be routed apart from plain ones
 * into our durable store, in either era's task shape; the SDK's v2 line has
 * no task machinery at all, so the task methods are ours too
 * (`tasks/mcp_tasks.ts`).
 *
 * @module
 */
import {
  type CallToolRequest,
  type CallToolResult,
  INVALID_PARAMS,
  type ProtocolError,
  Server,
  type ServerContext,
  type Tool as McpTool,
  type Transport,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { VERSION } from "./version.ts";
import { serveAppResources } from "./apps/resources.ts";
import { TASK_VIEW_TOOLS, taskViewToolMeta } from "./apps/task_view.ts";
import {
  BridgeError,
  type ErrorCode as BridgeErrorCode,
  mcpError,
  toBridgeError,
} from "./errors.ts";
import type { GatewayRegistry } from "./gateway/registry.ts";
import type { Logger } from "./log.ts";
import {
  createdTask,
  legacyTask,
  type McpTaskOptions,
  registerLegacyTasks,
  registerModernTasks,
  TASKS_EXTENSION,
} from "./tasks/mcp_tasks.ts";
import type { TaskRunner } from "./tasks/runner.ts";
import type { TaskRecord, TaskStore } from "./tasks/store.ts";
import { chatStructured, chatTool } from "./tools/chat.ts";
import { toolJsonSchema } from "./tools/json_schema.ts";
import { agentsTool, instancesTool, statusTool } from "./tools/status.ts";
import {
  historyTool,
  LOCAL_OWNER_ACCESS,
  type RecallAccess,
  sessionsTool,
} from "./tools/recall.ts";
import { type ApprovalAccess, approvalRespondTool, approvalsTool } from "./tools/approvals.ts";
import { type ChatSubmission, submitChat, taskTools } from "./tools/tasks.ts";
import { errorEnvelope, errorText, type Tool, type ToolContext } from "./tools/tool.ts";

/**
 * The protocol era a server instance speaks: `legacy` is 2025-11-25 and
 * earlier (initialize, sessions, native tasks), `modern` is 2026-07-28
 * (per-request `_meta` envelope, `server/discover`, the Tasks extension).
 */
export type Era = "legacy" | "modern";

/** An MCP transport (the SDK's `Transport`; {@linkcode StdioTransport} is one). */
export type BridgeTransport = Transport;

/** The MCP server: the SDK's low-level protocol object with our handlers set. */
export type BridgeServer = Server;

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
  /** The era this instance serves (default `legacy`); the serving entry knows it. */
  era?: Era;
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
   * Who may read conversations with `openclaw_sessions` and
   * `openclaw_history`; `"off"` leaves both tools out. Default: owner mode,
   * only the principal `local` (stdio's user) is an owner.
   */
  recall?: RecallAccess | "off";
  /**
   * Who may list and answer the gateway's approvals (`openclaw_approvals`,
   * `openclaw_approval_respond`); `"off"` (the default) leaves both out.
   */
  approvals?: ApprovalAccess | "off";
  /**
   * Prebuilt tools (see `createToolset`); built here when absent.
   *
   * @ignore
   */
  toolset?: Toolset;
}

/**
 * How long clients of the 2026-07-28 era may keep a `tools/list`,
 * `server/discover`, `resources/list` or `resources/read` answer. All are
 * fixed for the life of a process (they depend on the configuration and the
 * build only) and the same for every principal, hence `public`; an hour
 * bounds how long a client keeps the old ones after an upgrade.
 */
export const TOOLS_LIST_TTL_MS = 3_600_000;

/** The tool whose calls may become tasks (2025 native tasks, the 2026 Tasks extension). */
const TASK_TOOL = "openclaw_chat";

function describeTool(tool: Tool, taskSupport: boolean): McpTool {
  const success = toolJsonSchema(tool.output, "output");
  return {
    ...(taskSupport ? { execution: { taskSupport: "optional" as const } } : {}),
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: toolJsonSchema(tool.input, "input") as McpTool["inputSchema"],
    // Error results carry structured content too, and clients validate it
    // against this schema, so it admits either shape.
    outputSchema: {
      type: "object",
      anyOf: [success, toolJsonSchema(errorEnvelope, "output")],
    } as McpTool["outputSchema"],
    annotations: { title: tool.title, ...tool.annotations },
    // MCP Apps: hosts that support them render the task view beside the result.
    ...(TASK_VIEW_TOOLS.has(tool.name) ? { _meta: taskViewToolMeta() } : {}),
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
 * A refused task-augmented call (2025-11-25): clients expect a task or a
 * JSON-RPC error (an error tool result is not a valid task creation
 * result), so the coded error travels in the JSON-RPC error's `data`.
 */
export function taskCreationError(error: BridgeError): ProtocolError {
  const code = ARGUMENT_CODES.has(error.code) ? INVALID_PARAMS : -32000;
  return mcpError(code, `${error.code}: ${error.message}`, { error: error.toJSON() });
}

/** The `tools/call` result a finished task stands for (both eras' task methods). */
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
  /** What `tools/list` returns, per era (2025 entries mark `openclaw_chat` as task-capable). */
  listed: Record<Era, McpTool[]>;
}

/**
 * Builds the tools and their JSON Schemas. Do it once per process: an HTTP
 * session or a 2026-07-28 request then costs a protocol object, not a fresh
 * set of schemas.
 */
export function createToolset(
  deps: Pick<ServerDeps, "gateways" | "tasks" | "sessions" | "recall" | "approvals">,
): Toolset {
  const tools = new Map<string, Tool>();
  const { gateways, sessions } = deps;
  const recall = deps.recall ?? LOCAL_OWNER_ACCESS;
  for (
    const tool of [
      chatTool(gateways, sessions),
      statusTool(gateways),
      instancesTool(gateways),
      agentsTool(gateways),
      ...(recall === "off" ? [] : [sessionsTool(gateways, recall), historyTool(gateways, recall)]),
      ...(!deps.approvals || deps.approvals === "off"
        ? []
        : [approvalsTool(gateways, deps.approvals), approvalRespondTool(gateways, deps.approvals)]),
      ...(deps.tasks ? taskTools({ ...deps.tasks, gateways, sessions }) : []),
    ]
  ) tools.set(tool.name, tool);
  const all = [...tools.values()];
  return {
    tools,
    listed: {
      // 2025-11-25 tools say which accept params.task; in 2026-07-28 the
      // server decides per call, so no tool carries `execution`.
      legacy: all.map((t) => describeTool(t, !!deps.tasks && t.name === TASK_TOOL)),
      modern: all.map((t) => describeTool(t, false)),
    },
  };
}

/**
 * Creates an MCP server for one era with the OpenClaw tools registered.
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
  const era = deps.era ?? "legacy";
  const server = sdkServer(deps.tasks, era);
  const listed = { tools: toolset.listed[era] };
  server.setRequestHandler("tools/list", () => listed);
  server.setRequestHandler("tools/call", callHandler(deps, { tools: toolset.tools, owner, era }));
  if (deps.tasks) {
    const tasks: McpTaskOptions = {
      store: deps.tasks.store,
      owner,
      ttlMs: deps.tasks.ttlMs,
      render: (task) => taskResult(deps.tasks!.store, task),
      shutdown: deps.shutdown,
    };
    if (era === "legacy") registerLegacyTasks(server, tasks);
    else registerModernTasks(server, tasks);
    serveAppResources(server);
  }
  return server;
}

/** The capabilities an era's server declares. */
function capabilities(tasks: boolean, era: Era) {
  // The resources are the task tools' MCP Apps view (apps/resources.ts).
  const resources = tasks ? { resources: { listChanged: false } } : {};
  if (era === "modern") {
    return {
      tools: { listChanged: false },
      ...resources,
      ...(tasks ? { extensions: { [TASKS_EXTENSION]: {} } } : {}),
    };
  }
  return {
    tools: { listChanged: false },
    ...resources,
    logging: {},
    ...(tasks ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {}),
  };
}

/** The SDK's protocol object: identity, capabilities, cache hints, instructions. */
function sdkServer(tasks: ServerDeps["tasks"], era: Era): Server {
  return new Server(
    { name: "openclaw-mcp", title: "OpenClaw", version: VERSION },
    {
      capabilities: capabilities(!!tasks, era),
      cacheHints: {
        "tools/list": { ttlMs: TOOLS_LIST_TTL_MS, cacheScope: "public" },
        "server/discover": { ttlMs: TOOLS_LIST_TTL_MS, cacheScope: "public" },
        "resources/list": { ttlMs: TOOLS_LIST_TTL_MS, cacheScope: "public" },
        "resources/read": { ttlMs: TOOLS_LIST_TTL_MS, cacheScope: "public" },
      },
      instructions: tasks
        ? "Bridge to OpenClaw AI gateways. openclaw_chat sends a message and waits; for long jobs use openclaw_chat_async and poll openclaw_task_status. openclaw_status checks gateways; openclaw_instances lists them."
        : "Bridge to OpenClaw AI gateways. openclaw_chat sends a message and waits; openclaw_status checks gateways; openclaw_instances lists them.",
    },
  );
}

/** Whose call this is, in which era, against which tools. */
interface CallScope {
  tools: Map<string, Tool>;
  owner: string;
  era: Era;
}

/**
 * Whether a 2026-07-28 call should become a task: `openclaw_chat` with the
 * task store on, from a client that declared the Tasks extension on this
 * request and asked for no progress (a client that passes a progress token
 * wants to watch the reply stream in; tasks carry no progress).
 */
function becomesTask(deps: ServerDeps, request: CallToolRequest, ctx: ServerContext): boolean {
  if (!deps.tasks || request.params.name !== TASK_TOOL) return false;
  if (request.params._meta?.progressToken !== undefined) return false;
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const declared = envelope?.["io.modelcontextprotocol/clientCapabilities"] as
    | { extensions?: Record<string, unknown> }
    | undefined;
  return declared?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/**
 * `tools/call`: an unknown tool or invalid arguments are refused here; a
 * call that becomes a task is queued ({@linkcode callAsTask}), any other
 * runs at once ({@linkcode callPlain}).
 */
function callHandler(
  deps: ServerDeps,
  scope: CallScope,
): (request: CallToolRequest, ctx: ServerContext) => Promise<CallToolResult> {
  const { tools, owner, era } = scope;
  return async (request, ctx) => {
    const tool = tools.get(request.params.name);
    if (!tool) {
      throw mcpError(
        INVALID_PARAMS,
        `Unknown tool "${request.params.name}"; known tools: ${[...tools.keys()].join(", ")}`,
      );
    }
    const nativeTask = era === "legacy" &&
      (request.params as { task?: unknown }).task !== undefined;
    const parsed = tool.input.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      const error = argumentError(tool, parsed.error);
      deps.log.info("tool_call", { tool: tool.name, outcome: error.code });
      // A task-augmented call must answer with a task or a JSON-RPC error.
      if (nativeTask) throw taskCreationError(error);
      return errorResult(error);
    }
    if (nativeTask || (era === "modern" && becomesTask(deps, request, ctx))) {
      return await callAsTask(deps, { tool, args: parsed.data, owner, era });
    }
    const context = toolContext(deps, {
      owner,
      ctx,
      progressToken: request.params._meta?.progressToken,
    });
    return await callPlain(deps, { tool, args: parsed.data, context });
  };
}

/**
 * A call that becomes a task: queued in the durable store and answered at
 * once with the task, in the era's shape. A refusal (quota, unknown
 * instance) is a JSON-RPC error in 2025-11-25, where the client asked for a
 * task, and an error tool result in 2026-07-28, where the server chose to
 * make one.
 */
async function callAsTask(
  deps: ServerDeps,
  call: { tool: Tool; args: Record<string, unknown>; owner: string; era: Era },
): Promise<CallToolResult> {
  const { tool } = call;
  const tasks = deps.tasks;
  if (!tasks || tool.name !== TASK_TOOL) {
    throw mcpError(
      INVALID_PARAMS,
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
    deps.log.info("task_created", { tool: tool.name, task: task.id, era: call.era });
    // The SDK checks a 2025 tools/call result for `content`, even beside `task`.
    const answer = call.era === "legacy"
      ? { content: [], task: legacyTask(task, tasks.ttlMs) }
      : createdTask(task, tasks.ttlMs);
    return answer as unknown as CallToolResult;
  } catch (thrown) {
    const error = toBridgeError(thrown);
    deps.log.info("tool_call", { tool: tool.name, outcome: error.code });
    if (call.era === "legacy") throw taskCreationError(error);
    return errorResult(error);
  }
}

/** What a plain call's tool sees: its signal (with shutdown), owner and progress sender. */
function toolContext(
  deps: ServerDeps,
  call: { owner: string; ctx: ServerContext; progressToken: string | number | undefined },
): ToolContext {
  const { ctx, progressToken } = call;
  const signal = ctx.mcpReq.signal;
  return {
    signal: deps.shutdown ? AbortSignal.any([signal, deps.shutdown]) : signal,
    owner: call.owner,
    progress: (progress, message) => {
      if (progressToken === undefined || signal.aborted) return;
      ctx.mcpReq.notify({
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
