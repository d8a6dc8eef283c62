/**
 * Every way a call to a gateway fails, as a {@linkcode BridgeError} with a
 * stable code and a hint naming the fix: an HTTP status, a network failure,
 * a timeout or cancellation, a broken or malformed reply.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import type { Instance } from "../config.ts";
import { gatewayErrorMessage, gatewayMessage } from "./reply.ts";
import { readCapped } from "../read_capped.ts";

/** What an error message names about the instance (never its token's value). */
export type ErrorInstance = Pick<Instance, "name" | "url" | "token" | "timeoutMs">;

/** The endpoint a failed status came from; a 404 names it, a 400 is read for agent errors. */
export type GatewayEndpoint = "chat" | "models";

/** Only the first bytes of an error body are read: it only decorates the message. */
const ERROR_BODY_BYTES = 64 * 1024;

/**
 * The fetch itself failed: nothing answered at the instance's URL.
 *
 * @param detail the network error's message; "refused" in it is called out.
 */
export function unreachableError(instance: ErrorInstance, detail: string): BridgeError {
  return new BridgeError(
    "gateway_unreachable",
    `Cannot reach the OpenClaw gateway for instance "${instance.name}" at ${instance.url}${
      /refused/i.test(detail) ? " (connection refused)" : ""
    }.`,
    "Check that the gateway is running and that OPENCLAW_URL (or the instance's url) is right.",
  );
}

/**
 * The request's signal aborted: our timeout (`gateway_timeout`) or the
 * caller's cancellation (`cancelled`).
 */
export function abortedError(instance: ErrorInstance, timedOut: boolean): BridgeError {
  return timedOut
    ? new BridgeError(
      "gateway_timeout",
      `The gateway for instance "${instance.name}" did not answer within ${instance.timeoutMs} ms.`,
      "Raise OPENCLAW_TIMEOUT_MS (or the instance's timeout), or use openclaw_chat_async for long jobs.",
    )
    : new BridgeError("cancelled", "The request was cancelled.", "");
}

/** The gateway answered something that is not the reply we asked for; `what` says how. */
export function badReplyError(instance: ErrorInstance, what: string): BridgeError {
  return new BridgeError(
    "gateway_bad_reply",
    `The gateway for instance "${instance.name}" sent a malformed reply: ${what}.`,
    "Check that the URL points at an OpenClaw gateway and that it is up to date.",
  );
}

/**
 * The connection ended before the reply did: closed mid-body (`"closed"`) or
 * a stream that ended without `[DONE]` or a finish reason (`"ended"`).
 */
export function disconnectedError(instance: ErrorInstance, how: "closed" | "ended"): BridgeError {
  return new BridgeError(
    "gateway_disconnected",
    how === "closed"
      ? `The gateway for instance "${instance.name}" closed the connection mid-reply.`
      : `The gateway for instance "${instance.name}" ended the stream before the reply was complete.`,
    "Retry; if it keeps happening, check the gateway's log.",
  );
}

/** A streamed reply carried an error event; `detail` is the gateway's (cleaned) message. */
export function streamError(instance: ErrorInstance, detail: string): BridgeError {
  return new BridgeError(
    "gateway_error",
    `The gateway for instance "${instance.name}" reported an error mid-stream: ${
      detail || "no detail"
    }.`,
    "Check the gateway's model provider and log; then retry.",
  );
}

/** How to word a failed status. */
export interface StatusErrorOptions {
  /** The instance that answered: named in the message; whether it has a token words a 401's hint. */
  instance: ErrorInstance;
  /** The endpoint that answered: a 404 names its path, and only `chat` reads a 400 as an agent error. */
  endpoint: GatewayEndpoint;
  /**
   * Lists the gateway's agents, for the hint of an unknown or missing agent;
   * when absent or failing, the hint points at openclaw_agents.
   */
  agents?: () => Promise<string[]>;
}

/**
 * Maps a non-2xx response to its error, reading (at most 64 KiB of) the body
 * for the gateway's own message. The error carries `httpStatus`.
 */
export async function statusError(
  response: Response,
  options: StatusErrorOptions,
): Promise<BridgeError> {
  let detail = "";
  try {
    detail = gatewayErrorMessage(JSON.parse(await readCapped(response, ERROR_BODY_BYTES))) ?? "";
  } catch {
    // The body is only decoration for the message; its absence is fine.
  }
  const error = await errorForStatus(response, { ...options, detail });
  error.httpStatus = response.status;
  return error;
}

async function errorForStatus(
  response: Response,
  options: StatusErrorOptions & { detail: string },
): Promise<BridgeError> {
  const { instance, endpoint, detail } = options;
  const name = instance.name;
  const suffix = detail ? ` Gateway said: ${detail}` : "";
  const status = response.status;
  if (status === 401 || status === 403) {
    return new BridgeError(
      "gateway_unauthorized",
      `The gateway rejected the token for instance "${name}" (HTTP ${status}).`,
      instance.token
        ? "Check that OPENCLAW_GATEWAY_TOKEN (or the instance's token) matches gateway.auth.token in openclaw.json."
        : "No token is configured: set OPENCLAW_GATEWAY_TOKEN (or the instance's token) to gateway.auth.token from openclaw.json.",
    );
  }
  if (status === 404) {
    const path = endpoint === "chat" ? "/v1/chat/completions" : "/v1/models";
    return new BridgeError(
      "gateway_not_found",
      `The gateway for instance "${name}" has no ${path} (HTTP 404).${suffix}`,
      'Enable it in openclaw.json with "gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": true}}}}, and check that OPENCLAW_URL points at the gateway.',
    );
  }
  if (status === 429) {
    const after = response.headers.get("retry-after");
    return new BridgeError(
      "gateway_rate_limited",
      `The gateway for instance "${name}" is rate limiting requests (HTTP 429).${suffix}`,
      after ? `Retry after ${gatewayMessage(after)} seconds.` : "Wait a moment and retry.",
    );
  }
  if (status === 408 || status === 504) {
    return new BridgeError(
      "gateway_timeout",
      `The gateway for instance "${name}" timed out waiting for its model (HTTP ${status}).${suffix}`,
      "Check the gateway's model provider; then retry.",
    );
  }
  if (status >= 500) {
    return new BridgeError(
      "gateway_error",
      `The gateway for instance "${name}" failed (HTTP ${status}).${suffix}`,
      "Check the gateway's log; retry once it is healthy.",
    );
  }
  if (status === 400 && endpoint === "chat") {
    const agentError = await agentErrorFor(detail, options);
    if (agentError) return agentError;
  }
  if (status >= 300 && status < 400) {
    return new BridgeError(
      "gateway_not_found",
      `The gateway for instance "${name}" answered with a redirect (HTTP ${status}).`,
      "Point OPENCLAW_URL (or the instance's url) at the gateway itself, not at a page that redirects.",
    );
  }
  return new BridgeError(
    "gateway_rejected",
    `The gateway for instance "${name}" rejected the request (HTTP ${status}).${suffix}`,
    "Check the message, agent and session id.",
  );
}

/** OpenClaw's 400s for an unknown agent and for a missing one, by their wording. */
async function agentErrorFor(
  detail: string,
  options: StatusErrorOptions,
): Promise<BridgeError | undefined> {
  const name = options.instance.name;
  const unknown = /Unknown agent '([^']*)'/.exec(detail);
  if (unknown) {
    return new BridgeError(
      "unknown_agent",
      `The gateway for instance "${name}" has no agent "${unknown[1]}".`,
      await agentHint(options.agents),
    );
  }
  if (/Multiple agents are configured/i.test(detail)) {
    return new BridgeError(
      "agent_required",
      `The gateway for instance "${name}" has several agents and none was chosen.`,
      `Pass agent, or set the instance's agent in OPENCLAW_INSTANCES (or mark a default agent in openclaw.json). ${await agentHint(
        options.agents,
      )}`,
    );
  }
  return undefined;
}

/** "Known agents: ..." from the gateway, or a pointer to openclaw_agents if that fails. */
async function agentHint(agents: StatusErrorOptions["agents"]): Promise<string> {
  const pointer = "See openclaw_agents for the agents this gateway has.";
  if (!agents) return pointer;
  try {
    const known = await agents();
    return known.length ? `Known agents: ${known.join(", ")}.` : "The gateway lists no agents.";
  } catch {
    return pointer;
  }
}
