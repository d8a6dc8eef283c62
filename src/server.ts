/**
 * `createServer(deps)`: the MCP protocol object with every tool registered.
 * It knows nothing of the transport.
 *
 * We own `tools/list` and `tools/call` on the SDK's low-level `Server` rather
 * than using `McpServer.registerTool`, for two reasons: validation failures
 * must come back as our coded errors (the SDK turns them into bare text), and
 * task-augmented calls must be routed apart from plain ones without the
 * SDK's automatic task polling on plain calls.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { VERSION } from "./config.ts";
import { BridgeError, toBridgeError } from "./errors.ts";
import type { GatewayRegistry } from "./gateway/registry.ts";
import type { Logger } from "./log.ts";
import { chatTool } from "./tools/chat.ts";
import { instancesTool, statusTool } from "./tools/status.ts";
import { errorEnvelope, errorText, type Tool, type ToolContext } from "./tools/tool.ts";

/** Everything the server needs; effects are passed in. */
export interface ServerDeps {
  /** Gateway clients by instance name. */
  gateways: GatewayRegistry;
  /** Structured logger. */
  log: Logger;
  /** Aborted at shutdown: cancels every call in flight. */
  shutdown?: AbortSignal;
  /** Owner of work started through this server (local user on stdio). */
  owner?: string;
  /** Extra tools (the task tools) registered beside the core ones. */
  extraTools?: Tool[];
}

/** Converts a zod schema to the JSON Schema draft the SDK client validates with. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io }) as Record<
    string,
    unknown
  >;
  return rest;
}

function describeTool(tool: Tool): McpTool {
  const success = jsonSchema(tool.output, "output");
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, "input") as McpTool["inputSchema"],
    // Error results carry structured content too, and clients validate it
    // against this schema, so it admits either shape.
    outputSchema: {
      type: "object",
      anyOf: [success, jsonSchema(errorEnvelope, "output")],
    } as McpTool["outputSchema"],
    annotations: { title: tool.title, ...tool.annotations },
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

/**
 * Creates an MCP server with the OpenClaw tools registered.
 *
 * @example
 * ```ts
 * const server = createServer({ gateways, log });
 * await server.connect(transport);
 * ```
 */
export function createServer(deps: ServerDeps): Server {
  const tools = new Map<string, Tool>();
  for (
    const tool of [
      chatTool(deps.gateways),
      statusTool(deps.gateways),
      instancesTool(deps.gateways),
      ...(deps.extraTools ?? []),
    ]
  ) tools.set(tool.name, tool);
  const listed = [...tools.values()].map(describeTool);

  const server = new Server(
    { name: "openclaw-mcp", title: "OpenClaw", version: VERSION },
    {
      capabilities: { tools: { listChanged: false }, logging: {} },
      instructions:
        "Bridge to OpenClaw AI gateways. openclaw_chat sends a message and waits; openclaw_status checks gateways; openclaw_instances lists them.",
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools.get(request.params.name);
    if (!tool) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Unknown tool "${request.params.name}"; known tools: ${[...tools.keys()].join(", ")}`,
      );
    }
    const started = performance.now();
    const parsed = tool.input.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      const error = argumentError(tool, parsed.error);
      deps.log.info("tool_call", { tool: tool.name, outcome: error.code });
      return errorResult(error);
    }
    const progressToken = request.params._meta?.progressToken;
    const context: ToolContext = {
      signal: deps.shutdown ? AbortSignal.any([extra.signal, deps.shutdown]) : extra.signal,
      owner: deps.owner ?? "local",
      progress: (progress, message) => {
        if (progressToken === undefined || extra.signal.aborted) return;
        extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken, progress, message },
        }).catch(() => {});
      },
    };
    try {
      const output = await tool.run(parsed.data, context);
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
  });

  return server;
}
