/**
 * Every tool a server with the task store on lists (the default), sorted:
 * what the suites that list tools through a real client expect.
 */
export const TOOL_NAMES: readonly string[] = [
  "openclaw_agents",
  "openclaw_approval_respond",
  "openclaw_approvals",
  "openclaw_chat",
  "openclaw_chat_async",
  "openclaw_history",
  "openclaw_instances",
  "openclaw_sessions",
  "openclaw_status",
  "openclaw_task_cancel",
  "openclaw_task_list",
  "openclaw_task_status",
];
