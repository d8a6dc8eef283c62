/**
 * The task record: its shape, its statuses and the rule for task ids.
 * Nothing here touches KV.
 *
 * @module
 */
import { BridgeError, type ErrorBody } from "../errors.ts";
import type { Usage } from "../gateway/reply.ts";

/** A task's lifecycle state. */
export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

/** All statuses, in lifecycle order. */
export const STATUSES: readonly TaskStatus[] = [
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
];

/** A finished task's error, e.g. `gateway_timeout` or `interrupted`: the one error body. */
export type TaskError = ErrorBody;

/** Metadata of a completed task's reply (the text is chunked apart). */
export interface TaskResultMeta {
  /** Attempt whose chunks hold the reply. */
  attempt: number;
  /** Number of chunks. */
  chunks: number;
  /** Reply length in characters. */
  chars: number;
  /** Model that answered. */
  model: string;
  /** Token usage, when reported. */
  usage: Usage | null;
  /** Why generation stopped. */
  finishReason: string | null;
}

/** The stored task (without message or reply text). */
export interface TaskRecord {
  /** A UUID; ids from callers are checked (`checkTaskId`) before any KV read. */
  id: string;
  /** The principal that submitted it; any other principal is told "not found". */
  owner: string;
  /** Lifecycle state. */
  status: TaskStatus;
  /** Gateway instance name. */
  instance: string;
  /** The caller's own `session_id` (the gateway may see it namespaced). */
  sessionId: string | null;
  /** OpenClaw agent asked for; null for the instance's default. */
  agent: string | null;
  /** −100..100, higher runs first. */
  priority: number;
  /** When it was queued, epoch ms (orders a principal's tasks of equal priority). */
  createdAt: number;
  /** Epoch ms of the current attempt's start. */
  startedAt: number | null;
  /** When it reached a terminal status, epoch ms; null before. */
  finishedAt: number | null;
  /** Epoch ms of the last change. */
  updatedAt: number;
  /** Attempts started so far. */
  attempt: number;
  /** Runner holding the lease. */
  runner: string | null;
  /** Lease end, epoch ms. */
  leaseUntil: number | null;
  /** Message chunks. */
  messageChunks: number;
  /** Set when completed. */
  result: TaskResultMeta | null;
  /** Set when failed or cancelled. */
  error: TaskError | null;
  /** Terminal tasks vanish after this, epoch ms. */
  expiresAt: number | null;
  /** How it was created: a tool call or an MCP-native task. */
  origin: "tool" | "mcp";
  /** UTF-8 bytes of the message (counted in the byte quota); absent on older tasks. */
  messageBytes?: number;
  /** A pending task fails as expired at this time, epoch ms; null or absent: never. */
  pendingUntil?: number | null;
  /**
   * Set by the claim that counted this run in the instance's slot counter;
   * the commit that ends the run gives the slot back. Absent on tasks
   * claimed before slots were shared (they never took one).
   */
  holdsSlot?: boolean;
}

/** A claimed task and the versionstamp its runner must present. */
export interface Claim {
  /** The task as claimed (status running, attempt counted, lease set). */
  task: TaskRecord;
  /** Versionstamp of the task record. */
  versionstamp: string;
}

/** A task is run at most this many times (a retry after an interrupted run). */
export const MAX_ATTEMPTS = 2;
/** Longest task id accepted anywhere (ours are UUIDs). */
export const MAX_TASK_ID_CHARS = 128;
/** Characters a task id may hold. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** True for completed, failed and cancelled. */
export function isTerminal(status: TaskStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/**
 * Refuses a task id that is not one of ours before it reaches KV (a huge
 * key fails inside KV with an internal error).
 *
 * @throws {BridgeError} `invalid_argument`.
 */
export function checkTaskId(id: string): void {
  if (typeof id === "string" && id.length <= MAX_TASK_ID_CHARS && TASK_ID_PATTERN.test(id)) {
    return;
  }
  throw new BridgeError(
    "invalid_argument",
    `task_id is not a valid task id (1 to ${MAX_TASK_ID_CHARS} characters: letters, digits, '-' and '_').`,
    "Pass a task_id returned by openclaw_chat_async or a task-augmented openclaw_chat.",
  );
}

/** The error for a task that is absent, expired or another owner's. */
export function notFound(id: string): BridgeError {
  return new BridgeError(
    "task_not_found",
    `No task with id "${id}" exists for you (it may have expired).`,
    "Use openclaw_task_list to see your tasks.",
  );
}
