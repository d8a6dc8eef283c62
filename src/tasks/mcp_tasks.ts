/**
 * MCP task methods over the KV task store, bound to one owner, in both
 * protocol eras, so `tasks/*` see exactly the tasks the `openclaw_task_*`
 * tools see, whichever path created them:
 *
 * - 2025-11-25 (native tasks): `tasks/get`, `tasks/result` (waits for the
 *   end), `tasks/list`, `tasks/cancel`; a task-augmented call answers
 *   `{task}` ({@linkcode legacyTask}).
 * - 2026-07-28 (the `io.modelcontextprotocol/tasks` extension): `tasks/get`
 *   (the task with its result inline once done), `tasks/update` and
 *   `tasks/cancel` (acknowledgements); a call answers `resultType: "task"`
 *   ({@linkcode createdTask}).
 *
 * The SDK's v2 line keeps no task machinery (SEP-2663 removed it), so the
 * methods are registered here as custom methods with their own schemas.
 * Tasks are created by our `tools/call` dispatch and finished by the runner.
 *
 * @module
 */
import type { Approval } from "../gateway/approvals.ts";
import { type CallToolResult, ProtocolError, type Server } from "@modelcontextprotocol/server";
import { z } from "zod";
import { BridgeError } from "../errors.ts";
import { checkTaskId, isTerminal, type TaskRecord, type TaskStore } from "./store.ts";

/** The Tasks extension's identifier (2026-07-28). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** How often clients are told to poll a task. */
export const POLL_INTERVAL_MS = 500;

/** The `_meta` key tying a 2025-11-25 `tasks/result` to its task. */
const RELATED_TASK = "io.modelcontextprotocol/related-task";

/** JSON-RPC invalid params: an unknown, foreign or malformed task id. */
const INVALID_PARAMS = -32602;

/** What the task methods need. */
export interface McpTaskOptions {
  /** The same store the `openclaw_task_*` tools use, so every view agrees. */
  store: TaskStore;
  /** Whose tasks this server sees; another owner's task is "not found". */
  owner: string;
  /** How long a finished task is kept (reported as its TTL). */
  ttlMs: number;
  /** Turns a terminal task into the `tools/call` result it stands for. */
  render: (task: TaskRecord) => Promise<CallToolResult>;
  /** Aborted at shutdown: ends `tasks/result` waits. */
  shutdown?: AbortSignal;
}

/** The 2025-11-25 status of a record. */
function legacyStatus(task: TaskRecord): "working" | "completed" | "failed" | "cancelled" {
  return task.status === "pending" || task.status === "running" ? "working" : task.status;
}

/** A short line on where the task stands, when there is one to say. */
function statusMessage(task: TaskRecord, waiting?: Approval): string | undefined {
  if (task.status === "pending") return "Queued";
  if (waiting && task.status === "running") {
    return `Waiting for approval ${waiting.id}: ${waiting.summary.slice(0, 200)}`;
  }
  return task.error?.message;
}

/** The approval a running task waits on, for its status line. */
async function waitingOn(o: McpTaskOptions, task: TaskRecord): Promise<Approval | undefined> {
  return task.status === "running" ? (await o.store.waiting(task))[0] : undefined;
}

/** The 2025-11-25 view of a task record (`tasks/get`, `tasks/list`, task creation). */
export function legacyTask(
  task: TaskRecord,
  ttlMs: number,
  waiting?: Approval,
): Record<string, unknown> {
  const message = statusMessage(task, waiting);
  return {
    taskId: task.id,
    status: legacyStatus(task),
    ttl: ttlMs,
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.updatedAt).toISOString(),
    pollInterval: POLL_INTERVAL_MS,
    ...(message ? { statusMessage: message } : {}),
  };
}

/**
 * The 2026-07-28 `Task` fields of a record. A task that ended with one of
 * our coded errors is `completed` with an `isError` result (the extension
 * keeps `failed` for JSON-RPC errors); a cancelled one is `cancelled`.
 */
function modernTask(
  task: TaskRecord,
  ttlMs: number,
  waiting?: Approval,
): Record<string, unknown> {
  const status = task.status === "pending" || task.status === "running"
    ? "working"
    : task.status === "cancelled"
    ? "cancelled"
    : "completed";
  const message = statusMessage(task, waiting);
  return {
    taskId: task.id,
    status,
    ...(message ? { statusMessage: message } : {}),
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.updatedAt).toISOString(),
    ttlMs,
    pollIntervalMs: POLL_INTERVAL_MS,
  };
}

/** The 2026-07-28 answer to a call that became a task (`resultType: "task"`). */
export function createdTask(task: TaskRecord, ttlMs: number): Record<string, unknown> {
  return { resultType: "task", ...modernTask(task, ttlMs) };
}

/** The 2026-07-28 `tasks/get` answer: the task, with its result once it is done. */
export async function detailedTask(
  o: McpTaskOptions,
  task: TaskRecord,
): Promise<Record<string, unknown>> {
  const view = modernTask(task, o.ttlMs, await waitingOn(o, task));
  if (view.status === "completed") return { ...view, result: await o.render(task) };
  return view;
}

/** A task id, checked before KV sees it; a bad one is JSON-RPC -32602. */
function validId(taskId: string): string {
  try {
    checkTaskId(taskId);
    return taskId;
  } catch (error) {
    throw asProtocolError(error);
  }
}

/** Our coded refusals (not found, finished, bad cursor) as JSON-RPC -32602; anything else as it is. */
function asProtocolError(error: unknown): unknown {
  if (!(error instanceof BridgeError) || error.code === "internal") return error;
  return new ProtocolError(INVALID_PARAMS, `${error.code}: ${error.message}`, {
    error: error.toJSON(),
  });
}

/** Runs a store call, its coded refusals turned into JSON-RPC errors. */
async function coded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asProtocolError(error);
  }
}

/** The owner's task, or -32602. */
function read(o: McpTaskOptions, taskId: string): Promise<TaskRecord> {
  return coded(() => o.store.get(o.owner, validId(taskId)));
}

/**
 * Most `tasks/result` waits on unfinished tasks one owner holds open at once
 * in this process. Each wait reads KV four times a second, and it outlives a
 * client that went away (a 2025 session does not cancel a request when its
 * stream is dropped; a stateless JSON request is not even noticed), so
 * without a bound one principal could pin the CPU with waits on one task.
 */
export const MAX_RESULT_WAITS = 32;

/** Open waits per owner, per store (so per process). */
const resultWaits = new WeakMap<TaskStore, Map<string, number>>();

/** Counts a wait of `o.owner` against {@linkcode MAX_RESULT_WAITS}; returns its release. */
function holdWait(o: McpTaskOptions): () => void {
  let waits = resultWaits.get(o.store);
  if (!waits) resultWaits.set(o.store, waits = new Map());
  const held = waits.get(o.owner) ?? 0;
  if (held >= MAX_RESULT_WAITS) {
    const error = new BridgeError(
      "quota_exceeded",
      `You already wait on ${held} unfinished tasks with tasks/result; the limit is ${MAX_RESULT_WAITS} at once per caller.`,
      "Wait for one to end, or poll tasks/get instead.",
    );
    throw new ProtocolError(-32000, `${error.code}: ${error.message}`, { error: error.toJSON() });
  }
  waits.set(o.owner, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (waits.get(o.owner) ?? 1) - 1;
    if (left > 0) waits.set(o.owner, left);
    else waits.delete(o.owner);
  };
}

/** Waits until the task is terminal (polling the store, which any replica may write). */
async function settled(
  o: McpTaskOptions,
  taskId: string,
  signal: AbortSignal,
): Promise<TaskRecord> {
  const stop = o.shutdown ? AbortSignal.any([signal, o.shutdown]) : signal;
  const first = await read(o, taskId);
  if (isTerminal(first.status)) return first;
  const release = holdWait(o);
  try {
    while (true) {
      if (stop.aborted) {
        throw new ProtocolError(-32000, "The wait for the task's result was cancelled.");
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, POLL_INTERVAL_MS / 2);
        stop.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          stop.removeEventListener("abort", done);
          resolve();
        }
      });
      const task = await read(o, taskId);
      if (isTerminal(task.status)) return task;
    }
  } finally {
    release();
  }
}

// Built once: a 2026-07-28 request builds a server, and so registers these, every time.
const anyResult = z.looseObject({});
const schemas = { params: z.looseObject({ taskId: z.string() }), result: anyResult };
const listSchemas = { params: z.looseObject({ cursor: z.string().optional() }), result: anyResult };

/** Registers the 2025-11-25 native task methods on a legacy-era server. */
export function registerLegacyTasks(server: Server, o: McpTaskOptions): void {
  server.setRequestHandler(
    "tasks/get",
    schemas,
    async ({ taskId }) => {
      const task = await read(o, taskId);
      return legacyTask(task, o.ttlMs, await waitingOn(o, task));
    },
  );
  server.setRequestHandler("tasks/result", schemas, async ({ taskId }, ctx) => {
    const task = await settled(o, taskId, ctx.mcpReq.signal);
    const result = await o.render(task);
    return { ...result, _meta: { ...result._meta, [RELATED_TASK]: { taskId: task.id } } };
  });
  server.setRequestHandler(
    "tasks/list",
    listSchemas,
    async ({ cursor }) => {
      const page = await coded(() => o.store.list(o.owner, { cursor, limit: 50 }));
      return {
        tasks: page.tasks.map((t) => legacyTask(t, o.ttlMs)),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },
  );
  server.setRequestHandler("tasks/cancel", schemas, async ({ taskId }) => {
    const id = validId(taskId);
    return legacyTask(await coded(() => o.store.cancel(o.owner, id)), o.ttlMs);
  });
}

/** Registers the 2026-07-28 Tasks extension methods on a modern-era server. */
export function registerModernTasks(server: Server, o: McpTaskOptions): void {
  server.setRequestHandler(
    "tasks/get",
    schemas,
    async ({ taskId }) => await detailedTask(o, await read(o, taskId)),
  );
  // Our tasks never ask for input, so there is nothing to apply; an
  // unknown task is still refused, as the extension recommends. (The SDK
  // lifts `inputResponses` out of the params into `ctx.mcpReq`, so the
  // schema must not ask for it.)
  server.setRequestHandler(
    "tasks/update",
    schemas,
    async ({ taskId }) => {
      await read(o, taskId);
      return {};
    },
  );
  // Cancelling a task that already ended is acknowledged too: the extension
  // makes cancellation eventually consistent, and the outcome stays readable.
  server.setRequestHandler("tasks/cancel", schemas, async ({ taskId }) => {
    const id = validId(taskId);
    try {
      await o.store.cancel(o.owner, id);
    } catch (error) {
      if (!(error instanceof BridgeError && error.code === "task_finished")) {
        throw asProtocolError(error);
      }
    }
    return {};
  });
}
