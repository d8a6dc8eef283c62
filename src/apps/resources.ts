/**
 * The MCP resource methods, which serve only the MCP Apps views (today the
 * task view): `resources/list`, `resources/read` and an empty
 * `resources/templates/list`. Same answers in both protocol eras.
 *
 * @module
 */
import { ResourceNotFoundError, type Server } from "@modelcontextprotocol/server";
import { readTaskView, TASK_VIEW_RESOURCE, TASK_VIEW_URI } from "./task_view.ts";

/**
 * Sets the resource handlers on `server`, which must declare the
 * `resources` capability. An unknown URI is the SDK's resource-not-found
 * error (`-32602` with `data.uri`).
 */
export function serveAppResources(server: Server): void {
  const listed = { resources: [TASK_VIEW_RESOURCE] };
  server.setRequestHandler("resources/list", () => listed);
  server.setRequestHandler("resources/templates/list", () => ({ resourceTemplates: [] }));
  server.setRequestHandler("resources/read", (request) => {
    if (request.params.uri !== TASK_VIEW_URI) throw new ResourceNotFoundError(request.params.uri);
    return readTaskView();
  });
}
