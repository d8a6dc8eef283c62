/**
 * What a tool is: zod schemas for its input and output, MCP annotations and a
 * handler. The server lists and dispatches these; tools know nothing of the
 * transport.
 *
 * @module
 */
import { z } from "zod";
import { type BridgeError, errorBodySchema } from "../errors.ts";

/** MCP tool annotations (hints for clients; not enforced). */
export interface ToolAnnotations {
  /** The tool does not change anything. */
  readOnlyHint?: boolean;
  /** The tool may change or delete something it cannot undo. */
  destructiveHint?: boolean;
  /** Calling it twice with the same arguments has no extra effect. */
  idempotentHint?: boolean;
  /** It talks to things outside this server. */
  openWorldHint?: boolean;
}

/** What a handler gets besides its arguments. */
export interface ToolContext {
  /** Aborted on MCP cancellation or shutdown. */
  signal: AbortSignal;
  /** Reports progress; a no-op when the client gave no progress token. */
  progress: (progress: number, message: string) => void;
  /** Who is calling: tasks belong to an owner. */
  owner: string;
}

/** A handler's successful outcome. */
export interface ToolOutput<O> {
  /** Matches the tool's output schema. */
  structured: O;
  /** Text for clients that ignore structured content; default the JSON. */
  text?: string;
}

/**
 * A tool as `server.ts` serves it: its schemas become the `tools/list`
 * entry, and `tools/call` runs it on arguments `input` has validated.
 */
export interface Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  /** Name, e.g. `openclaw_chat`. */
  name: string;
  /** Shown to people by clients; also copied into `annotations.title`. */
  title: string;
  /** What it does, for the model. */
  description: string;
  /** Validates `arguments`; a failure is an `invalid_argument` result naming the field. */
  input: I;
  /** Types `structuredContent` on success; `tools/list` also admits the error envelope. */
  output: O;
  /** MCP hints (read-only, idempotent, open-world) clients may use to ask before a call. */
  annotations: ToolAnnotations;
  /** Does the work; throws {@linkcode BridgeError} on failure. */
  run(args: z.output<I>, context: ToolContext): Promise<ToolOutput<z.output<O>>>;
}

/** Declares a tool with its types inferred from the schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  tool: Tool<I, O>,
): Tool {
  return tool as unknown as Tool;
}

/** The structured shape of every error result. */
export const errorEnvelope: z.ZodObject = z.object({ error: errorBodySchema });

/** Text that is safe in arguments: no control characters other than tab, CR and LF. */
export function plainText(field: string): z.ZodString {
  // deno-lint-ignore no-control-regex
  return z.string().regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/, {
    message: `${field} contains control characters; remove them (tab, CR and LF are fine)`,
  });
}

/** Optional instance name argument shared by several tools. */
export const instanceArg: z.ZodOptional<z.ZodString> = z.string().max(63).describe(
  "Gateway instance name (see openclaw_instances); default instance when omitted",
).optional();

/** Epoch ms as ISO 8601; null for null or a time that is not finite (e.g. from a gateway). */
export function isoTime(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** Formats an error for the text channel. */
export function errorText(error: BridgeError): string {
  return `Error [${error.code}]: ${error.message}${error.hint ? `\nHint: ${error.hint}` : ""}`;
}
