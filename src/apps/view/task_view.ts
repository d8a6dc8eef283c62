/**
 * The task view's script: runs in the host's sandboxed iframe, not in Deno.
 * `scripts/gen_apps.ts` bundles it with the MCP Apps SDK (`App`) into
 * `task_view.html`, and the result into `../task_view_html.ts`.
 *
 * It learns the task from the tool call the host shows it
 * (`openclaw_chat_async`'s result, `openclaw_task_status`'s arguments or
 * result), then polls `openclaw_task_status` through the host every second
 * until the task ends, showing the reply as it grows; Cancel calls
 * `openclaw_task_cancel`. Text only ever goes in through `textContent`.
 *
 * This folder is a workspace member (its deno.json) so that `deno check`
 * types it with the DOM library apart from the server, which must not see
 * browser globals.
 *
 * @module
 */
import {
  App,
  applyDocumentTheme,
  applyHostFonts,
  applyHostStyleVariables,
  type McpUiHostContext,
} from "@modelcontextprotocol/ext-apps/app-with-deps";
import type { CallToolResult } from "@modelcontextprotocol/client";

/** How often a live task is polled. */
const POLL_MS = 1_000;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** The coded error of an error result (`structuredContent.error`). */
interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
}

/** What the task tools' structured content holds (the fields the view reads). */
interface TaskData {
  task_id?: string;
  status?: string;
  instance?: string;
  agent?: string | null;
  position?: number | null;
  attempt?: number;
  partial_reply?: string | null;
  reply?: string | null;
  error?: ErrorBody | null;
  waiting_for_approval?: { id: string; summary: string } | null;
}

function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const ui = {
  view: element<HTMLElement>("view"),
  status: element<HTMLElement>("status"),
  meta: element<HTMLElement>("meta"),
  reply: element<HTMLPreElement>("reply"),
  error: element<HTMLElement>("error"),
  note: element<HTMLElement>("note"),
  cancel: element<HTMLButtonElement>("cancel"),
};

let taskId: string | undefined;
let status: string | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let stopped = false;

const app = new App({ name: "openclaw-task-view", version: "1.0.0" }, {});

// Handlers go on before connect(): the host may send tool data right after the handshake.
app.ontoolinput = ({ arguments: args }) => {
  if (typeof args?.task_id === "string") follow(args.task_id);
};
app.ontoolresult = (result) => show(result);
app.ontoolcancelled = ({ reason }) => {
  if (!taskId) showError({ code: "cancelled", message: reason ?? "The tool call was cancelled." });
};
app.onhostcontextchanged = (context) => applyContext(context);
app.onteardown = () => {
  stopped = true;
  clearTimeout(timer);
  return {};
};
ui.cancel.addEventListener("click", () => void cancel());

await app.connect();
applyContext(app.getHostContext());

function applyContext(context: McpUiHostContext | undefined): void {
  if (context?.theme) applyDocumentTheme(context.theme);
  if (context?.styles?.variables) applyHostStyleVariables(context.styles.variables);
  if (context?.styles?.css?.fonts) applyHostFonts(context.styles.css.fonts);
}

/** A tool result the host hands over: a task to follow, or an error to show. */
function show(result: CallToolResult): void {
  const data = result.structuredContent as TaskData | undefined;
  if (typeof data?.task_id === "string") {
    render(data);
    follow(data.task_id);
  } else if (data?.error) {
    showError(data.error);
  } else if (result.isError) {
    const text = result.content.find((c) => c.type === "text");
    showError({ code: "error", message: text?.type === "text" ? text.text : "The call failed." });
  }
}

function follow(id: string): void {
  if (taskId === id) return;
  taskId = id;
  ui.meta.textContent = `task ${id}`;
  schedule(0);
}

function schedule(ms: number): void {
  clearTimeout(timer);
  if (stopped || !taskId || TERMINAL.has(status ?? "")) return;
  timer = setTimeout(poll, ms);
}

async function poll(): Promise<void> {
  try {
    const result = await app.callServerTool({
      name: "openclaw_task_status",
      arguments: { task_id: taskId },
    });
    const data = result.structuredContent as TaskData | undefined;
    if (result.isError) {
      // A coded error (the task expired, access changed): polling again would not help.
      showError(data?.error ?? { code: "error", message: "openclaw_task_status failed." });
      stopped = true;
      ui.note.textContent = "";
      return;
    }
    if (data) render(data);
  } catch {
    ui.note.textContent = "Lost touch with the server; retrying…";
  }
  schedule(POLL_MS);
}

async function cancel(): Promise<void> {
  if (!taskId) return;
  ui.cancel.disabled = true;
  ui.cancel.textContent = "Cancelling…";
  try {
    const result = await app.callServerTool({
      name: "openclaw_task_cancel",
      arguments: { task_id: taskId },
    });
    const data = result.structuredContent as TaskData | undefined;
    if (result.isError) showError(data?.error ?? { code: "error", message: "Cancel failed." });
    else if (data) render(data);
  } catch (error) {
    showError({ code: "error", message: error instanceof Error ? error.message : String(error) });
  } finally {
    ui.cancel.textContent = "Cancel";
    ui.cancel.disabled = false;
  }
}

function render(task: TaskData): void {
  // Statuses only move on to an end; a late poll answer must not undo one.
  if (TERMINAL.has(status ?? "") && !TERMINAL.has(task.status ?? "")) return;
  if (task.status) status = task.status;
  const live = !TERMINAL.has(status ?? "");
  ui.view.dataset.status = status;
  const waiting = live ? task.waiting_for_approval : null;
  ui.status.textContent = waiting ? "waiting for approval" : status ?? "waiting";
  ui.meta.textContent = [
    task.instance && `instance ${task.instance}`,
    task.agent && `agent ${task.agent}`,
    task.task_id && `task ${task.task_id}`,
    task.attempt && task.attempt > 1 && `attempt ${task.attempt}`,
  ].filter(Boolean).join(" · ");
  const text = status === "completed" ? task.reply : task.partial_reply;
  // Fields a shape lacks (the cancel summary has no reply) keep what is shown.
  if (typeof text === "string") setReply(text);
  if (status === "pending") {
    ui.reply.dataset.placeholder = task.position
      ? `Queued: ${task.position} of your tasks ahead of it…`
      : "Queued: starting soon…";
  } else if (status === "running") {
    ui.reply.dataset.placeholder = "Running: waiting for the first words…";
  } else if (status === "cancelled") {
    ui.reply.dataset.placeholder = "Cancelled before any reply.";
  } else {
    ui.reply.dataset.placeholder = "";
  }
  if (task.error) showError(task.error);
  ui.cancel.hidden = !live;
  ui.note.textContent = waiting
    ? `Waiting for approval ${waiting.id}: ${waiting.summary} (the owner answers with openclaw_approval_respond or on the operator page)`
    : live
    ? "Live: updated every second"
    : "";
}

function setReply(text: string): void {
  const box = ui.reply;
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  if (box.textContent !== text) box.textContent = text;
  if (atEnd) box.scrollTop = box.scrollHeight;
}

function showError(error: ErrorBody): void {
  ui.error.textContent = `${error.code}: ${error.message}${error.hint ? `\n${error.hint}` : ""}`;
  ui.error.hidden = false;
}
