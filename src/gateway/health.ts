/**
 * Probes that ask a gateway about itself without running an agent: its
 * health (`/readyz`, then `/v1/models`) and its agents (`/v1/models`).
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import { badReplyError, statusError } from "./errors.ts";
import { agentsFromModels, parseModelIds } from "./reply.ts";
import { GatewayCall, gatewayHeaders, type GatewayTarget } from "./request.ts";

/** Outcome of a health probe. */
export type HealthStatus =
  | "ok"
  | "unauthorized"
  | "not_found"
  | "not_ready"
  | "unreachable"
  | "timeout"
  | "error";

/** One instance's health. */
export interface HealthReport {
  /** `ok` only when `/v1/models` accepted the token; a failure's code picks the others. */
  status: HealthStatus;
  /** Milliseconds the whole probe took (both requests), on the caller's clock. */
  latencyMs: number;
  /** HTTP status, when there was a response. */
  httpStatus: number | null;
  /** One line for the user. */
  message: string;
  /** Agents the gateway lists, when it answered. */
  agents: string[];
}

/** How a failed probe's error code reads as a health verdict. */
const HEALTH_BY_CODE: Partial<Record<BridgeError["code"], HealthStatus>> = {
  gateway_unauthorized: "unauthorized",
  gateway_not_found: "not_found",
  gateway_unreachable: "unreachable",
  gateway_timeout: "timeout",
};

/**
 * The gateway's agents, from `GET /v1/models`.
 *
 * @throws {BridgeError} when the gateway cannot be asked.
 */
export async function listAgents(target: GatewayTarget, signal?: AbortSignal): Promise<string[]> {
  using call = new GatewayCall(target, signal);
  const response = await call.send("/v1/models", { headers: gatewayHeaders(target.instance) });
  if (!response.ok) {
    throw await statusError(response, { instance: target.instance, endpoint: "models" });
  }
  const ids = parseModelIds(await call.readJson(response));
  if (!ids) throw badReplyError(target.instance, "/v1/models is not a model list");
  return agentsFromModels(ids);
}

/** What {@linkcode probeHealth} uses besides the target. */
export interface HealthProbeOptions {
  /** Aborts the probe; the instance's own timeout applies either way. */
  signal?: AbortSignal;
  /** Clock in ms for the latency (monotonic preferred). */
  now: () => number;
}

/**
 * Probes the gateway without running an agent: `GET /readyz` (no auth;
 * tells a starting gateway apart), then `GET /v1/models` (authenticated),
 * and tells ok from a bad token, a disabled endpoint, a wrong URL and an
 * unreachable or slow gateway. Lists the gateway's agents. Never throws:
 * every failure is a verdict.
 */
export async function probeHealth(
  target: GatewayTarget,
  options: HealthProbeOptions,
): Promise<HealthReport> {
  const { signal, now } = options;
  const started = now();
  const elapsed = () => Math.round(now() - started);
  using call = new GatewayCall(target, signal);
  try {
    const ready = await call.send("/readyz", { headers: { accept: "application/json" } });
    await ready.body?.cancel();
    if (ready.status === 503) {
      return {
        status: "not_ready",
        latencyMs: elapsed(),
        httpStatus: 503,
        message: "The gateway is up but not ready yet (starting); retry in a few seconds.",
        agents: [],
      };
    }
    // listAgents applies its own timeout; given ours, a slow reply would read as "cancelled".
    const agents = await listAgents(target, signal);
    return {
      status: "ok",
      latencyMs: elapsed(),
      httpStatus: 200,
      message: "Gateway reachable and token accepted.",
      agents,
    };
  } catch (error) {
    const e = error instanceof BridgeError
      ? error
      : badReplyError(target.instance, "unexpected failure");
    return {
      status: HEALTH_BY_CODE[e.code] ?? "error",
      latencyMs: elapsed(),
      httpStatus: e.httpStatus ?? null,
      message: `${e.message} ${e.hint}`.trim(),
      agents: [],
    };
  }
}
