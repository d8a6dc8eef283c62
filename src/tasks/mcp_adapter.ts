/**
 * MCP-native tasks (spec 2025-11-25) backed by the KV task store: the SDK's
 * `TaskStore` interface, bound to one owner, so `tasks/get`, `tasks/result`,
 * `tasks/list` and `tasks/cancel` see exactly the tasks the
 * `openclaw_task_*` tools see.
 *
 * Tasks are created by our own `tools/call` dispatch (a task-augmented
 * `openclaw_chat`) and finished by the runner, so the SDK's create/store
 * entry points are not used.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/experimental/tasks/interfaces"
import type { TaskStore as SdkTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/interfaces.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, type Result, type Task } from "@modelcontextprotocol/sdk/types.js";
import { BridgeError, mcpError } from "../errors.ts";
import { checkTaskId, type TaskRecord, type TaskStore } from "./store.ts";

/**
 * Refuses an id that cannot be ours with JSON-RPC -32602 before KV sees it
 * (the SDK would otherwise also echo a huge id back in "Task not found").
 */
function validId(taskId: string): string {
  try {
    checkTaskId(taskId);
    return taskId;
  } catch (error) {
    if (error instanceof BridgeError) {
      throw mcpError(ErrorCode.InvalidParams, `${error.code}: ${error.message}`);
    }
    throw error;
  }
}

/** How often clients are told to poll a task. */
export const POLL_INTERVAL_MS = 500;

/** The MCP view of a task record. */
export function mcpTask(task: TaskRecord, ttlMs: number): Task {
  const status: Task["status"] = task.status === "pending" || task.status === "running"
    ? "working"
    : task.status;
  return {
    taskId: task.id,
    status,
    ttl: ttlMs,
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.updatedAt).toISOString(),
    pollInterval: POLL_INTERVAL_MS,
    ...(task.error ? { statusMessage: task.error.message } : {}),
    ...(task.status === "pending" ? { statusMessage: "Queued" } : {}),
  };
}

/** Options for {@linkcode KvMcpTaskStore}. */
export interface McpAdapterOptions {
  /** The same store the `openclaw_task_*` tools use, so both views agree. */
  store: TaskStore;
  /** Whose tasks this connection sees. */
  owner: string;
  /** Reported TTL. */
  ttlMs: number;
  /** Turns a terminal task into the `tools/call` result the client receives. */
  render: (task: TaskRecord) => Promise<Result>;
}

/** The SDK `TaskStore` over our KV store, for one owner. */
export class KvMcpTaskStore implements SdkTaskStore {
  #o: McpAdapterOptions;

  /** Binds the adapter to an owner. */
  constructor(options: McpAdapterOptions) {
    this.#o = options;
  }

  /** Not used: task-augmented calls are created by our tools/call dispatch. */
  createTask(): Promise<Task> {
    return Promise.reject(new Error("tasks are created through tools/call"));
  }

  /** The task, or null when absent, expired or another owner's. */
  async getTask(taskId: string): Promise<Task | null> {
    try {
      return mcpTask(await this.#o.store.get(this.#o.owner, validId(taskId)), this.#o.ttlMs);
    } catch (error) {
      if (error instanceof BridgeError && error.code === "task_not_found") return null;
      throw error;
    }
  }

  /** Not used: the runner stores results. */
  storeTaskResult(): Promise<void> {
    return Promise.reject(new Error("results are stored by the task runner"));
  }

  /** The `tools/call` result of a terminal task. */
  async getTaskResult(taskId: string): Promise<Result> {
    return await this.#o.render(await this.#o.store.get(this.#o.owner, validId(taskId)));
  }

  /** Only cancellation can be asked for from outside. */
  async updateTaskStatus(taskId: string, status: Task["status"]): Promise<void> {
    if (status !== "cancelled") throw new Error(`status ${status} cannot be set by a client`);
    await this.#o.store.cancel(this.#o.owner, validId(taskId));
  }

  /** The owner's tasks, newest first, 50 a page. */
  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const page = await this.#o.store.list(this.#o.owner, { cursor, limit: 50 });
    return {
      tasks: page.tasks.map((t) => mcpTask(t, this.#o.ttlMs)),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }
}
