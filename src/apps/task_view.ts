/**
 * The live task view (MCP Apps, extension `io.modelcontextprotocol/ui`):
 * the `ui://openclaw/task-view` resource that `openclaw_chat_async` and
 * `openclaw_task_status` point to. A host that supports MCP Apps renders it
 * beside the tool result (status, the reply as it grows, a Cancel button);
 * any other client ignores the pointer and reads the same text and
 * `structuredContent` as before.
 *
 * The constants are the Apps SDK's own (`@modelcontextprotocol/ext-apps/server`);
 * the tool `_meta` is what its `registerAppTool` would list, which we cannot
 * call on the low-level `Server`.
 *
 * @module
 */
import type { McpUiResourceMeta, McpUiToolMeta } from "@modelcontextprotocol/ext-apps";
import {
  type McpUiReadResourceResult,
  RESOURCE_MIME_TYPE,
  RESOURCE_URI_META_KEY,
} from "@modelcontextprotocol/ext-apps/server";
import type { Resource } from "@modelcontextprotocol/server";

/** The view's resource URI. */
export const TASK_VIEW_URI = "ui://openclaw/task-view";

/** The tools whose results the view shows (it reads the task id from either). */
export const TASK_VIEW_TOOLS: ReadonlySet<string> = new Set([
  "openclaw_chat_async",
  "openclaw_task_status",
]);

/**
 * The view's `_meta.ui`: the strictest CSP the spec allows (no origin
 * outside the view for scripts, styles, images, fetches, frames or
 * `<base>`; everything it needs is inlined), and a request for the host's
 * border.
 */
export const TASK_VIEW_META: { ui: McpUiResourceMeta } = {
  ui: {
    csp: { connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] },
    prefersBorder: true,
  },
};

/** The `resources/list` entry. */
export const TASK_VIEW_RESOURCE: Resource = {
  uri: TASK_VIEW_URI,
  name: "openclaw-task-view",
  title: "OpenClaw task",
  description:
    "Live view of a background task: status, the reply as it is written, and a Cancel button.",
  mimeType: RESOURCE_MIME_TYPE,
  _meta: TASK_VIEW_META,
};

/**
 * The `_meta` a tool definition carries to point to the view, under the
 * current key (`ui.resourceUri`) and the deprecated flat one
 * (`ui/resourceUri`) for older hosts, as `registerAppTool` lists them.
 */
export function taskViewToolMeta(): { ui: McpUiToolMeta; [RESOURCE_URI_META_KEY]: string } {
  return { ui: { resourceUri: TASK_VIEW_URI }, [RESOURCE_URI_META_KEY]: TASK_VIEW_URI };
}

/**
 * The `resources/read` answer: the HTML document, the Apps mime type and
 * `_meta.ui`. The 593 KiB document is loaded on the first read, not at
 * start-up (it cost ~37 ms of every start, and memory, in processes that
 * never serve it).
 */
export async function readTaskView(): Promise<McpUiReadResourceResult> {
  const { TASK_VIEW_HTML } = await import("./task_view_html.ts");
  return {
    contents: [{
      uri: TASK_VIEW_URI,
      mimeType: RESOURCE_MIME_TYPE,
      text: TASK_VIEW_HTML,
      _meta: TASK_VIEW_META,
    }],
  };
}
