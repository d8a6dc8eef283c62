/**
 * `openclaw_status` and `openclaw_instances`: what the bridge talks to, and
 * whether each gateway is healthy.
 *
 * @module
 */
import { z } from "zod";
import type { GatewayRegistry } from "../gateway/registry.ts";
import { defineTool, instanceArg, type Tool } from "./tool.ts";
import { errorBodySchema, toBridgeError } from "../errors.ts";

const healthEntry = z.object({
  name: z.string(),
  url: z.string(),
  status: z.enum([
    "ok",
    "unauthorized",
    "not_found",
    "not_ready",
    "unreachable",
    "timeout",
    "error",
  ]),
  latency_ms: z.number(),
  http_status: z.number().nullable(),
  message: z.string(),
  agents: z.array(z.string()),
});

/** Creates the `openclaw_status` tool. */
export function statusTool(gateways: GatewayRegistry): Tool {
  return defineTool({
    name: "openclaw_status",
    title: "OpenClaw gateway status",
    description:
      "Check whether OpenClaw gateways are reachable and accept the configured token: ok, unauthorized, not_found, unreachable or timeout, with latency.",
    input: z.object({ instance: instanceArg }).strict(),
    output: z.object({ ok: z.boolean(), instances: z.array(healthEntry) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async run(args, context) {
      const clients = args.instance ? [gateways.get(args.instance)] : gateways.list();
      const reports = await Promise.all(clients.map(async (client) => {
        const report = await client.health(context.signal);
        return {
          name: client.instance.name,
          url: client.instance.url,
          status: report.status,
          latency_ms: report.latencyMs,
          http_status: report.httpStatus,
          message: report.message,
          agents: report.agents,
        };
      }));
      return {
        structured: { ok: reports.every((r) => r.status === "ok"), instances: reports },
      };
    },
  });
}

/**
 * Creates the `openclaw_agents` tool. A tool of its own rather than a field of
 * `openclaw_instances`: listing instances reads configuration only and never
 * fails, while agents need a live call to each gateway.
 */
export function agentsTool(gateways: GatewayRegistry): Tool {
  return defineTool({
    name: "openclaw_agents",
    title: "OpenClaw agents",
    description:
      "List the agents each OpenClaw gateway offers (from its /v1/models), to pass as agent to openclaw_chat.",
    input: z.object({ instance: instanceArg }).strict(),
    output: z.object({
      instances: z.array(z.object({
        name: z.string(),
        default_agent: z.string().nullable(),
        agents: z.array(z.string()),
        error: errorBodySchema.nullable(),
      })),
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async run(args, context) {
      const clients = args.instance ? [gateways.get(args.instance)] : gateways.list();
      const instances = await Promise.all(clients.map(async (client) => {
        const base = { name: client.instance.name, default_agent: client.instance.agent ?? null };
        try {
          return { ...base, agents: await client.agents(context.signal), error: null };
        } catch (thrown) {
          return { ...base, agents: [], error: toBridgeError(thrown).toJSON() };
        }
      }));
      return { structured: { instances } };
    },
  });
}

/** Creates the `openclaw_instances` tool. */
export function instancesTool(gateways: GatewayRegistry): Tool {
  return defineTool({
    name: "openclaw_instances",
    title: "OpenClaw instances",
    description:
      "List the configured OpenClaw gateway instances (name, URL, default, timeout, agent). Tokens are never shown.",
    input: z.object({}).strict(),
    output: z.object({
      instances: z.array(z.object({
        name: z.string(),
        url: z.string(),
        default: z.boolean(),
        timeout_ms: z.number(),
        agent: z.string().nullable(),
        model: z.string(),
        has_token: z.boolean(),
      })),
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    run() {
      const instances = gateways.list().map(({ instance }) => ({
        name: instance.name,
        url: instance.url,
        default: instance.isDefault,
        timeout_ms: instance.timeoutMs,
        agent: instance.agent ?? null,
        model: instance.model,
        has_token: !!instance.token,
      }));
      return Promise.resolve({ structured: { instances } });
    },
  });
}
