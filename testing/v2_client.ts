/**
 * The MCP TypeScript SDK v2 client (`@modelcontextprotocol/client`) pinned to
 * one protocol era, connected to the real server over stdio or Streamable
 * HTTP, plus the task calls tests need in both eras: the Tasks extension
 * (`io.modelcontextprotocol/tasks`, 2026-07-28) through
 * `@modelcontextprotocol/ext-tasks`, and 2025-11-25 native tasks by hand.
 *
 * `modern` pins 2026-07-28 (a `server/discover` probe, no `initialize`, a
 * `_meta` envelope on every request); `legacy` is the SDK default (the
 * 2025-11-25 `initialize` handshake, no probe). See docs/notes/v2-client.md.
 *
 * @module
 */
import {
  type CallToolRequest,
  type CallToolResult,
  Client,
  type ClientCapabilities,
  type Implementation,
  type JSONRPCMessage,
  type Progress,
  StreamableHTTPClientTransport,
  type Transport,
} from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  createTaskSessionFromClient,
  type JsonRpcResponse,
  type TaskEnabledSession,
  type TaskOutcome,
  type TaskPreference,
  type TaskView,
  type ToolExecution,
  type V2RequestFraming,
} from "@modelcontextprotocol/ext-tasks/client";
import type { JsonValue } from "@modelcontextprotocol/ext-tasks/core";
import { baseEnv, DENO_RUN } from "./spawn.ts";

/** The 2026-07-28 revision, the one a `modern` client pins. */
export const MODERN_VERSION = "2026-07-28";

/** The Tasks extension's identifier (capability key and `_meta` extension name). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** Which protocol era a client speaks: `modern` = 2026-07-28, `legacy` = 2025-11-25. */
export type Era = "modern" | "legacy";

/** The tests' client identity. */
const CLIENT_INFO: Implementation = { name: "openclaw-mcp-tests", version: "0.0.0" };

/** A connected v2 client. */
export interface V2Session {
  /** The SDK client. */
  client: Client;
  /** The era the connection landed on (a pin never falls back, so it is the one asked for). */
  era: Era;
  /** Everything the server wrote to stderr so far (stdio only; "" over HTTP). */
  stderr(): string;
  /** The session server's pid (stdio only; null over HTTP). */
  pid: number | null;
  /** Closes the task session (if one was opened), ends an HTTP session, closes the client. */
  close(): Promise<void>;
}

/** Options shared by {@linkcode connectV2Stdio} and {@linkcode connectV2Http}. */
export interface ConnectOptions {
  /** Protocol era. Default `legacy`. */
  era?: Era;
  /** Capabilities the client declares (in `initialize`, or in every modern envelope). */
  capabilities?: ClientCapabilities;
  /** Bound on the `server/discover` probe of a `modern` connect. Default 30 s. */
  probeTimeoutMs?: number;
}

/** Options for {@linkcode connectV2Stdio}. */
export interface StdioOptions extends ConnectOptions {
  /** Deno's arguments before `args`. Default {@linkcode DENO_RUN} (`run -A --quiet main.ts`). */
  denoArgs?: string[];
  /** Extra command-line arguments for `main.ts`. */
  args?: string[];
  /** Environment for the server, on top of {@linkcode baseEnv}. */
  env?: Record<string, string>;
}

/** Options for {@linkcode connectV2Http}. */
export interface HttpOptions extends ConnectOptions {
  /** Sent as `Authorization: Bearer <token>` on every request. */
  token?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

/** What a client declared, kept for hand-framed (raw) modern requests. */
const identities = new WeakMap<Client, ClientCapabilities>();

function newClient(options: ConnectOptions): Client {
  const capabilities = options.capabilities ?? {};
  const client = new Client(CLIENT_INFO, {
    capabilities,
    versionNegotiation: options.era === "modern"
      ? { mode: { pin: MODERN_VERSION }, probe: { timeoutMs: options.probeTimeoutMs ?? 30_000 } }
      : { mode: "legacy" },
  });
  identities.set(client, capabilities);
  return client;
}

function eraOf(client: Client): Era {
  return client.getProtocolEra() === "modern" ? "modern" : "legacy";
}

/**
 * Spawns `deno run -A main.ts <args>` and connects over stdio.
 *
 * A `modern` connect first runs `server/discover` on a throwaway sibling
 * process spawned with the same command, args and env (its stderr ignored),
 * reaps it, and only then spawns the session's process.
 */
export async function connectV2Stdio(options: StdioOptions = {}): Promise<V2Session> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: [...(options.denoArgs ?? DENO_RUN), ...(options.args ?? [])],
    // The SDK adds HOME, LOGNAME, PATH, SHELL, TERM and USER from our env.
    env: { ...baseEnv(), ...(options.env ?? {}) },
    stderr: "pipe",
  });
  let stderr = "";
  const decoder = new TextDecoder();
  transport.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += decoder.decode(chunk, { stream: true });
  });
  const client = newClient(options);
  try {
    await client.connect(transport);
  } catch (error) {
    const era = options.era ?? "legacy";
    throw new Error(`stdio connect (${era}) failed: ${error}\nstderr:\n${stderr}`, {
      cause: error,
    });
  }
  return {
    client,
    era: eraOf(client),
    stderr: () => stderr,
    pid: transport.pid,
    close: async () => {
      await closeTaskSession(client);
      await client.close();
    },
  };
}

/** Connects to a Streamable HTTP endpoint, e.g. `${server.url}/mcp`. */
export async function connectV2Http(
  url: string | URL,
  options: HttpOptions = {},
): Promise<V2Session> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = newClient(options);
  await client.connect(transport);
  return {
    client,
    era: eraOf(client),
    stderr: () => "",
    pid: null,
    close: async () => {
      await closeTaskSession(client);
      // Sends nothing when the server issued no session (modern, stateless).
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** A tool call's result with the progress notifications that arrived for it. */
export interface ProgressCall {
  /** The tool result. */
  result: CallToolResult;
  /** Every `notifications/progress` for the call, in arrival order. */
  progress: Progress[];
}

/** Calls a tool with a progress token and collects its progress notifications. */
export async function callWithProgress(
  client: Client,
  params: CallToolRequest["params"],
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ProgressCall> {
  const progress: Progress[] = [];
  const result = await client.callTool(params, {
    onprogress: (update) => progress.push(update),
    timeout: options.timeoutMs ?? 30_000,
    signal: options.signal,
  });
  return { result, progress };
}

// ---------------------------------------------------------------------------
// Raw requests: past the SDK's result decoding, which rejects what it does
// not know (a modern `tools/call` answered with `resultType: "task"` is
// "Unsupported result type 'task'"), and which has no `tasks/*` methods.

/** A JSON-RPC request without `jsonrpc` and `id` (the channel adds both). */
export interface RawRequest {
  /** Method name. */
  method: string;
  /** Params, sent as given. */
  params?: Record<string, unknown>;
}

/** Options for {@linkcode rawRequest}. */
export interface RawRequestOptions {
  /** Aborts the wait (and, on modern HTTP, closes the request's response stream). */
  signal?: AbortSignal;
  /** Gives up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Extra HTTP headers for this request (ignored on stdio). */
  headers?: Record<string, string>;
}

/** The wire answer to a raw request: a result, or a JSON-RPC error (ext-tasks' shape). */
export type RawResponse = JsonRpcResponse;

/** A JSON-RPC error object. */
type RpcError = Extract<RawResponse, { kind: "error" }>["error"];

const channels = new WeakMap<Transport, RawChannel>();

/**
 * Sends one request over the client's own transport and returns the wire
 * result or error untouched. Nothing is added: on a modern connection frame
 * it first ({@linkcode frame}), or the server refuses it for a missing
 * envelope. The transport still derives the HTTP headers from the body
 * (`Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version`) and adds the session id.
 */
export function rawRequest(
  client: Client,
  request: RawRequest,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const transport = client.transport;
  if (!transport) throw new Error("rawRequest: the client is not connected");
  let channel = channels.get(transport);
  if (!channel) {
    channel = new RawChannel(transport);
    channels.set(transport, channel);
  }
  return channel.request(request, options);
}

/**
 * Shares the client's transport: sends requests with string ids of its own
 * (the SDK numbers its requests) and takes their responses off the inbound
 * stream before the SDK sees them.
 */
class RawChannel {
  #transport: Transport;
  #next = 0;
  #pending = new Map<string, (outcome: RawResponse | Error) => void>();

  constructor(transport: Transport) {
    this.#transport = transport;
    const onmessage = transport.onmessage;
    transport.onmessage = (message, extra) => {
      const id = (message as { id?: unknown }).id;
      const settle = typeof id === "string" && !("method" in message)
        ? this.#pending.get(id)
        : undefined;
      if (!settle) return onmessage?.call(transport, message, extra);
      const response = message as { result?: JsonValue; error?: RpcError };
      settle(
        response.error
          ? { kind: "error", error: response.error }
          : { kind: "result", result: response.result ?? {} },
      );
    };
    const onclose = transport.onclose;
    transport.onclose = () => {
      for (const settle of this.#pending.values()) settle(new Error("connection closed"));
      onclose?.call(transport);
    };
  }

  request(request: RawRequest, options: RawRequestOptions): Promise<RawResponse> {
    const id = `raw-${++this.#next}`;
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<RawResponse>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`${request.method}: no response in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () => settle(new DOMException(`${request.method} aborted`, "AbortError"));
      const settle = (outcome: RawResponse | Error) => {
        if (!this.#pending.delete(id)) return;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.#pending.set(id, settle);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const message = { jsonrpc: "2.0", id, ...request } as JSONRPCMessage;
      this.#transport.send(message, {
        requestSignal: options.signal,
        ...(options.headers ? { headers: options.headers } : {}),
      }).catch((error) => settle(error instanceof Error ? error : new Error(String(error))));
    });
  }
}

/** Options for {@linkcode frame}. */
export interface FrameOptions {
  /** Declare the Tasks extension in the envelope's client capabilities. Default true. */
  tasks?: boolean;
}

/**
 * The 2026-07-28 envelope for a hand-sent request: protocol version, client
 * info and client capabilities in `params._meta` (what the SDK attaches to
 * its own modern requests), with the Tasks extension declared unless
 * `tasks: false`. Keys already in `params._meta` are kept.
 */
export function frame(client: Client, request: RawRequest, options: FrameOptions = {}): RawRequest {
  const framing = requestFraming(client);
  const capabilities = structuredClone(framing.clientCapabilities) as Record<string, JsonValue>;
  const extensions = { ...(capabilities.extensions as Record<string, JsonValue> | undefined) };
  if (options.tasks === false) delete extensions[TASKS_EXTENSION];
  else extensions[TASKS_EXTENSION] = {};
  capabilities.extensions = extensions;
  if (Object.keys(extensions).length === 0) delete capabilities.extensions;
  const params = request.params ?? {};
  return {
    method: request.method,
    params: {
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": framing.protocolVersion,
        "io.modelcontextprotocol/clientInfo": framing.clientInfo,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        ...(params._meta as Record<string, unknown> | undefined),
      },
    },
  };
}

/** What ext-tasks needs to frame its modern requests like the SDK frames its own. */
export function requestFraming(client: Client): V2RequestFraming {
  return {
    protocolVersion: client.getNegotiatedProtocolVersion() ?? MODERN_VERSION,
    clientInfo: { ...CLIENT_INFO } as Record<string, JsonValue>,
    clientCapabilities: structuredClone(identities.get(client) ?? {}) as Record<string, JsonValue>,
  };
}

/** Sends `request` framed for the client's era: enveloped on modern, as given on legacy. */
function eraRequest(
  client: Client,
  request: RawRequest,
  options: RawRequestOptions & FrameOptions,
): Promise<RawResponse> {
  const framed = eraOf(client) === "modern" ? frame(client, request, options) : request;
  return rawRequest(client, framed, options);
}

// ---------------------------------------------------------------------------
// Tasks by hand, in the client's era.

/** Options for {@linkcode startToolTask}. */
export interface StartTaskOptions extends RawRequestOptions, FrameOptions {
  /** Legacy: the requested `params.task.ttl` in ms. Default 60 000. */
  ttl?: number;
}

/** The raw answer to a task-augmented `tools/call`, and the task id if it made one. */
export interface StartedTask {
  /** The task id: `result.taskId` (modern, `resultType: "task"`) or `result.task.taskId` (legacy). */
  taskId: string | undefined;
  /** The wire response. */
  response: RawResponse;
}

/**
 * `tools/call` asking for a task. Legacy: `params.task: {ttl}` (the server
 * answers `{task: {...}}`). Modern: the Tasks extension declared in the
 * envelope (the server may answer `resultType: "task"` or a plain result).
 */
export async function startToolTask(
  client: Client,
  params: CallToolRequest["params"],
  options: StartTaskOptions = {},
): Promise<StartedTask> {
  const modern = eraOf(client) === "modern";
  const request = {
    method: "tools/call",
    params: modern ? { ...params } : { ...params, task: { ttl: options.ttl ?? 60_000 } },
  };
  const response = await eraRequest(client, request, options);
  const result = response.kind === "result" ? response.result as Record<string, unknown> : {};
  const taskId = modern
    ? (result.resultType === "task" ? result.taskId : undefined)
    : (result.task as { taskId?: unknown } | undefined)?.taskId;
  return { taskId: typeof taskId === "string" ? taskId : undefined, response };
}

/** `tasks/get` (both eras; modern declares the Tasks extension unless `tasks: false`). */
export function tasksGet(
  client: Client,
  taskId: string,
  options: RawRequestOptions & FrameOptions = {},
): Promise<RawResponse> {
  return eraRequest(client, { method: "tasks/get", params: { taskId } }, options);
}

/** `tasks/cancel` (both eras). */
export function tasksCancel(
  client: Client,
  taskId: string,
  options: RawRequestOptions & FrameOptions = {},
): Promise<RawResponse> {
  return eraRequest(client, { method: "tasks/cancel", params: { taskId } }, options);
}

/** `tasks/update` (modern only): answers to a task's `inputRequests`. */
export function tasksUpdate(
  client: Client,
  taskId: string,
  options: RawRequestOptions & FrameOptions & { inputResponses: Record<string, unknown> },
): Promise<RawResponse> {
  const params = { taskId, inputResponses: options.inputResponses };
  return eraRequest(client, { method: "tasks/update", params }, options);
}

/** `tasks/result` (legacy only; blocks until the task is terminal). */
export function tasksResult(
  client: Client,
  taskId: string,
  options: RawRequestOptions & FrameOptions = {},
): Promise<RawResponse> {
  return eraRequest(client, { method: "tasks/result", params: { taskId } }, options);
}

/** `tasks/list` (legacy only). */
export function tasksList(
  client: Client,
  options: RawRequestOptions & FrameOptions & { cursor?: string } = {},
): Promise<RawResponse> {
  const params = options.cursor === undefined ? {} : { cursor: options.cursor };
  return eraRequest(client, { method: "tasks/list", params }, options);
}

// ---------------------------------------------------------------------------
// Tasks through @modelcontextprotocol/ext-tasks.

const taskSessions = new WeakMap<Client, TaskEnabledSession>();

/**
 * The client's ext-tasks session, made on first use and kept (ext-tasks
 * allows one adapter per client). On a modern connection to a server that
 * advertises `capabilities.extensions["io.modelcontextprotocol/tasks"]: {}`
 * it sends `tools/call` and `tasks/*` through {@linkcode rawRequest} with
 * {@linkcode requestFraming}; on legacy it uses native tasks when the server
 * advertises `capabilities.tasks`.
 */
export function taskSession(client: Client): TaskEnabledSession {
  let session = taskSessions.get(client);
  if (session) return session;
  const endpointId = `openclaw-mcp-tests:${crypto.randomUUID()}`;
  session = eraOf(client) === "modern"
    ? createTaskSessionFromClient(client, {
      endpointId,
      rawDispatch: (request, options) =>
        rawRequest(client, request as unknown as RawRequest, {
          signal: options?.signal,
          timeoutMs: options?.context?.requestTimeoutMs,
          headers: options?.context?.headers as Record<string, string> | undefined,
        }),
      v2RequestFraming: requestFraming(client),
    })
    : createTaskSessionFromClient(client, { endpointId });
  taskSessions.set(client, session);
  return session;
}

/** Closes the client's ext-tasks session, if it has one. */
export async function closeTaskSession(client: Client): Promise<void> {
  const session = taskSessions.get(client);
  taskSessions.delete(client);
  await session?.close();
}

/** Options for {@linkcode callToolAsTask}. */
export interface CallAsTaskOptions {
  /**
   * ext-tasks' task preference. Default `prefer` (legacy: send `params.task`
   * when the tool allows it). `require` fails when no task is made.
   */
  preference?: TaskPreference;
  /** Legacy: the requested ttl (`params.task.ttl`), in ms. */
  ttl?: number;
  /** Called once the execution exists (e.g. to `cancel()` it mid-run). */
  onExecution?: (execution: ToolExecution<CallToolResult>) => void;
  /** Stops waiting locally; does not cancel the task. */
  signal?: AbortSignal;
}

/** How a {@linkcode callToolAsTask} call settled. */
export interface TaskCallOutcome {
  /** `task` when the server made a task, `immediate` when it answered at once. */
  kind: "task" | "immediate";
  /** The task id, for `task`. */
  taskId?: string;
  /** completed (with the tool result), failed (with the error) or cancelled. */
  outcome: TaskOutcome<CallToolResult>;
  /** Every task state ext-tasks observed while settling, in order. */
  views: TaskView[];
}

/**
 * Calls a tool through ext-tasks and waits until it settles: a task is
 * polled (`tasks/get`, honouring `pollIntervalMs`) to its end; an immediate
 * result settles at once.
 */
export async function callToolAsTask(
  client: Client,
  params: CallToolRequest["params"],
  options: CallAsTaskOptions = {},
): Promise<TaskCallOutcome> {
  const execution = await taskSession(client).callTool<CallToolResult>(
    params.name,
    (params.arguments ?? {}) as Record<string, JsonValue>,
    {
      task: {
        preference: options.preference ?? "prefer",
        ...(options.ttl === undefined ? {} : { retentionMs: options.ttl }),
      },
      signal: options.signal,
      resultCodec: { parse: (value) => ({ success: true, value: value as CallToolResult }) },
    },
  );
  options.onExecution?.(execution);
  const views: TaskView[] = [];
  const { outcome } = await execution.settle({
    signal: options.signal,
    onEvent: (event) => {
      if (event.type === "task") views.push(event.task);
    },
  });
  return execution.kind === "task"
    ? { kind: "task", taskId: execution.handle.taskId, outcome, views }
    : { kind: "immediate", outcome, views };
}
