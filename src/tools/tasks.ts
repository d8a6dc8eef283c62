/**
 * The async task tools: `openclaw_chat_async`, `openclaw_task_status`,
 * `openclaw_task_list`, `openclaw_task_cancel`. Same names and arguments as
 * the Node server, backed by the durable KV store.
 *
 * @module
 */
import { z } from "zod";
import { errorBodySchema } from "../errors.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import { type SessionKeyPolicy, SessionKeys } from "../gateway/session_key.ts";
import type { TaskRunner } from "../tasks/runner.ts";
import {
  MAX_TASK_ID_CHARS,
  STATUSES,
  TASK_ID_PATTERN,
  type TaskRecord,
  type TaskStore,
} from "../tasks/store.ts";
import { agentArg, messageArg, sessionArg } from "./args.ts";
import { approvalEntry, toApprovalEntry } from "./approvals.ts";
import { defineTool, instanceArg, isoTime, type Tool } from "./tool.ts";

const statusEnum = z.enum(STATUSES as [string, ...string[]]);
const taskIdArg = z.string().min(1, "task_id is empty")
  .max(MAX_TASK_ID_CHARS, `task_id is longer than ${MAX_TASK_ID_CHARS} characters`)
  .regex(TASK_ID_PATTERN, "task_id may hold only letters, digits, '-' and '_'")
  .describe("Task id returned by openclaw_chat_async");

const summaryShape = {
  task_id: z.string(),
  status: statusEnum,
  instance: z.string(),
  session_id: z.string().nullable(),
  agent: z.string().nullable(),
  priority: z.number(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  attempt: z.number(),
  error: errorBodySchema.nullable(),
};

function summary(task: TaskRecord) {
  return {
    task_id: task.id,
    status: task.status,
    instance: task.instance,
    session_id: task.sessionId,
    agent: task.agent,
    priority: task.priority,
    created_at: isoTime(task.createdAt)!,
    started_at: isoTime(task.startedAt),
    finished_at: isoTime(task.finishedAt),
    attempt: task.attempt,
    error: task.error,
  };
}

/** What the task tools need. */
export interface TaskToolDeps {
  /** Where submissions are queued and the task tools read, list and cancel. */
  store: TaskStore;
  /** The runner to wake on submit. */
  runner: TaskRunner;
  /** To validate instance names at submit time. */
  gateways: GatewayRegistry;
  /** To refuse internal-looking session ids at submit time; none: refuse them. */
  sessions?: SessionKeyPolicy;
}

/** The arguments a chat submission carries (tool or MCP-native task). */
export interface ChatSubmission {
  /** Validated already (`messageArg`): 1 to `MAX_MESSAGE_CHARS` characters. */
  message: string;
  /** As the caller gave it; namespaced only when the runner sends it to the gateway. */
  session_id?: string;
  /** Instance name; the default when omitted. */
  instance?: string;
  /** OpenClaw agent id; the instance's default agent when omitted. */
  agent?: string;
  /** −100..100, default 0: a higher priority leaves the pending queue first. */
  priority?: number;
}

/**
 * Queues a chat as a task for `owner` and wakes the runner: the one path
 * used by `openclaw_chat_async` and by task-augmented `openclaw_chat`.
 *
 * @throws {BridgeError} `unknown_instance` or `invalid_argument` before
 *   anything is stored; `quota_exceeded` past the owner's pending quota.
 */
export async function submitChat(
  deps: TaskToolDeps,
  request: { owner: string; chat: ChatSubmission; origin?: "tool" | "mcp" },
): Promise<TaskRecord> {
  const { owner, chat: args, origin = "tool" } = request;
  (deps.sessions ?? new SessionKeys()).check(args.session_id);
  const instance = deps.gateways.get(args.instance).instance.name;
  const task = await deps.store.submit(owner, {
    message: args.message,
    instance,
    sessionId: args.session_id,
    agent: args.agent,
    priority: args.priority,
    origin,
  });
  deps.runner.wake();
  return task;
}

/** Creates the four task tools. */
export function taskTools(deps: TaskToolDeps): Tool[] {
  return [
    chatAsyncTool(deps),
    taskStatusTool(deps.store),
    taskListTool(deps.store),
    taskCancelTool(deps.store),
  ];
}

/** `openclaw_chat_async`: queues a chat and answers with the task id at once. */
function chatAsyncTool(deps: TaskToolDeps): Tool {
  return defineTool({
    name: "openclaw_chat_async",
    title: "Chat with OpenClaw (background task)",
    description:
      "Queue a message for an OpenClaw agent and return a task id at once. The task survives restarts. Poll openclaw_task_status for the partial and final reply; cancel with openclaw_task_cancel.",
    input: z.object({
      message: messageArg,
      session_id: sessionArg,
      instance: instanceArg,
      agent: agentArg,
      priority: z.number().int("priority must be a whole number")
        .min(-100, "priority must be at least -100").max(100, "priority must be at most 100")
        .describe("−100..100, higher runs first; default 0").optional(),
    }).strict(),
    output: z.object({
      task_id: z.string(),
      status: statusEnum,
      instance: z.string(),
      position: z.number().nullable().describe(
        "Your own pending tasks on the same instance ahead of this one (other callers' tasks are served in turn and not counted); null if over 1,000",
      ),
    }),
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    async run(args, context) {
      const task = await submitChat(deps, { owner: context.owner, chat: args });
      return {
        structured: {
          task_id: task.id,
          status: task.status,
          instance: task.instance,
          position: await deps.store.position(task),
        },
      };
    },
  });
}

/** `openclaw_task_status`: one task, with the reply so far or its outcome. */
function taskStatusTool(
  store: Pick<TaskStore, "get" | "position" | "partial" | "reply" | "waiting">,
): Tool {
  return defineTool({
    name: "openclaw_task_status",
    title: "OpenClaw task status",
    description:
      "Status of a background task: timestamps, attempt, the reply so far while running, the approval it waits for (waiting_for_approval), and the reply or error when done.",
    input: z.object({ task_id: taskIdArg }).strict(),
    output: z.object({
      ...summaryShape,
      position: z.number().nullable().describe(
        "While pending: your own pending tasks on the same instance ahead of this one",
      ),
      partial_reply: z.string().nullable(),
      waiting_for_approval: approvalEntry.nullable().describe(
        "While running: the approval request the agent waits for (the owner answers it with openclaw_approval_respond); null otherwise",
      ),
      reply: z.string().nullable(),
      model: z.string().nullable(),
      usage: z.record(z.string(), z.unknown()).nullable(),
      finish_reason: z.string().nullable(),
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async run(args, context) {
      const task = await store.get(context.owner, args.task_id);
      const [waiting] = await store.waiting(task);
      return {
        structured: {
          ...summary(task),
          position: await store.position(task),
          partial_reply: task.status === "running" ? await store.partial(task) : null,
          waiting_for_approval: waiting ? toApprovalEntry(waiting) : null,
          reply: task.status === "completed" ? await store.reply(task) : null,
          model: task.result?.model ?? null,
          usage: (task.result?.usage as Record<string, unknown> | null) ?? null,
          finish_reason: task.result?.finishReason ?? null,
        },
      };
    },
  });
}

/** `openclaw_task_list`: the caller's tasks, a page at a time, with counts by status. */
function taskListTool(store: Pick<TaskStore, "list">): Tool {
  return defineTool({
    name: "openclaw_task_list",
    title: "OpenClaw task list",
    description:
      "Your background tasks, newest first, optionally filtered by status, session or instance; with counts by status and a cursor for the next page.",
    input: z.object({
      status: statusEnum.optional().describe("Only tasks in this status"),
      session_id: z.string().max(256).optional(),
      instance: instanceArg,
      limit: z.number().int().min(1, "limit must be at least 1")
        .max(200, "limit must be at most 200").optional().describe("Page size, default 50"),
      cursor: z.string().max(1024).optional().describe("next_cursor of the previous page"),
    }).strict(),
    output: z.object({
      tasks: z.array(z.object(summaryShape)),
      counts: z.object(Object.fromEntries(STATUSES.map((s) => [s, z.number()]))),
      next_cursor: z.string().nullable(),
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async run(args, context) {
      const page = await store.list(context.owner, {
        status: args.status as TaskRecord["status"] | undefined,
        sessionId: args.session_id,
        instance: args.instance,
        limit: args.limit,
        cursor: args.cursor,
      });
      return {
        structured: {
          tasks: page.tasks.map(summary),
          counts: page.counts,
          next_cursor: page.nextCursor,
        },
      };
    },
  });
}

/** `openclaw_task_cancel`: cancels a pending or running task. */
function taskCancelTool(store: Pick<TaskStore, "cancel">): Tool {
  return defineTool({
    name: "openclaw_task_cancel",
    title: "Cancel an OpenClaw task",
    description:
      "Cancel a pending or running background task; a running gateway request is aborted within a second.",
    input: z.object({ task_id: taskIdArg }).strict(),
    output: z.object(summaryShape),
    annotations: {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: false,
    },
    async run(args, context) {
      return { structured: summary(await store.cancel(context.owner, args.task_id)) };
    },
  });
}
