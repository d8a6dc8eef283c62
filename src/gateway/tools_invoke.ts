/**
 * `POST /tools/invoke`: runs one gateway tool directly (no agent turn), used
 * for recall (`sessions_list`, `sessions_history`). The gateway answers
 * `{ok: true, result: {content, details}}`; the tool's own failures come
 * back as 200 with `details: {status: "error", error}`, or as 400/403/404
 * with `{ok: false, error: {type, message}}`. Measured against OpenClaw
 * 2026.9.6 (see docs/notes/openclaw-recall.md).
 *
 * @module
 */
import { z } from "zod";
import { BridgeError } from "../errors.ts";
import { readCapped } from "../read_capped.ts";
import { badReplyError, type ErrorInstance, statusError } from "./errors.ts";
import { gatewayMessage } from "./reply.ts";
import { GatewayCall, gatewayHeaders, type GatewayTarget } from "./request.ts";

/** Only the first bytes of an error body are read. */
const ERROR_BODY_BYTES = 64 * 1024;

const failureBody = z.object({
  ok: z.literal(false).optional(),
  error: z.object({ type: z.string().optional(), message: z.string().optional() }),
});

const successBody = z.object({
  ok: z.literal(true),
  result: z.object({ details: z.unknown().optional() }).loose(),
});

const toolFailure = z.object({ status: z.literal("error"), error: z.string().optional() });

/** A failure the tool itself reported (200 with `details.status: "error"`). */
export class ToolFailure extends Error {
  /** Creates the failure with the gateway's message. */
  constructor(message: string) {
    super(message);
    this.name = "ToolFailure";
  }
}

/**
 * Invokes `tool` with `args` and returns its `result.details`.
 *
 * @throws {ToolFailure} when the tool reported an error in a 200 reply.
 * @throws {BridgeError} on every other failure, with a stable code.
 */
export async function invokeTool(
  target: GatewayTarget,
  request: { tool: string; args: Record<string, unknown>; signal?: AbortSignal },
): Promise<unknown> {
  const { instance } = target;
  using call = new GatewayCall(target, request.signal);
  const response = await call.send("/tools/invoke", {
    method: "POST",
    headers: gatewayHeaders(instance, { "content-type": "application/json" }),
    body: JSON.stringify({ tool: request.tool, args: request.args }),
  });
  if (!response.ok) throw await invokeError(response, instance, request.tool);
  const parsed = successBody.safeParse(await call.readJson(response));
  if (!parsed.success) {
    throw badReplyError(instance, `the ${request.tool} reply has no {ok: true, result}`);
  }
  const details = parsed.data.result.details;
  const failed = toolFailure.safeParse(details);
  if (failed.success) throw new ToolFailure(gatewayMessage(failed.data.error) || "tool failed");
  return details;
}

/** Maps a failed status of `/tools/invoke` to its coded error. */
export async function invokeError(
  response: Response,
  instance: ErrorInstance,
  tool: string,
): Promise<BridgeError> {
  const status = response.status;
  if (status !== 400 && status !== 403 && status !== 404) {
    // 401, 429, 408/504, 5xx, redirects: worded like every other endpoint's.
    return await statusError(response, { instance, endpoint: "models" });
  }
  let detail = "";
  try {
    const body = failureBody.safeParse(JSON.parse(await readCapped(response, ERROR_BODY_BYTES)));
    if (body.success) detail = gatewayMessage(body.data.error.message);
  } catch {
    // Decoration only.
  }
  const said = detail ? ` Gateway said: ${detail}` : "";
  const name = instance.name;
  let error: BridgeError;
  if (status === 404) {
    error = new BridgeError(
      "gateway_tool_unavailable",
      `The gateway for instance "${name}" does not expose the ${tool} tool over /tools/invoke (HTTP 404).${said}`,
      `Allow ${tool} in the gateway's tool policy (tools.allow, and not in gateway.tools.deny), and check that OpenClaw is recent enough.`,
    );
  } else if (status === 403) {
    error = new BridgeError(
      "gateway_forbidden",
      `The gateway for instance "${name}" refused ${tool} by policy (HTTP 403).${said}`,
      "Check the gateway's tool policy and operator scopes for this token.",
    );
  } else {
    error = new BridgeError(
      "invalid_argument",
      `The gateway for instance "${name}" refused the arguments of ${tool} (HTTP 400).${said}`,
      "Check session_id, limit and before.",
    );
  }
  error.httpStatus = status;
  return error;
}
