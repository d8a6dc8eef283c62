/**
 * `openclaw_approvals` and `openclaw_approval_respond`: the exec and plugin
 * approval requests the claw raises while it works, listed and answered over
 * the gateway's operator WebSocket.
 *
 * Answering one lets the claw run a command on the gateway's machine, so
 * both tools are the owner's only (stdio's local user; over HTTP the
 * callers of `MCP_OWNER_TOKENS` and OAuth logins approved with Owner access),
 * whatever `OPENCLAW_RECALL_TOOLS` says.
 * Anyone else is refused with `forbidden` before the gateway is asked.
 *
 * @module
 */
import { z } from "zod";
import { BridgeError } from "../errors.ts";
import {
  type Approval,
  type Decision,
  decisionArg,
  DECISIONS,
  type GatewayApprovals,
} from "../gateway/approvals.ts";
import type { GatewayClient } from "../gateway/client.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import { defineTool, instanceArg, isoTime, plainText, type Tool } from "./tool.ts";

/** Who may list and answer approvals. */
export interface ApprovalAccess {
  /** Whether `principal` is the owner. */
  isOwner(principal: string): Promise<boolean> | boolean;
}

/** One approval as both tools show it. */
export const approvalEntry = z.object({
  id: z.string().describe("Pass to openclaw_approval_respond"),
  kind: z.enum(["exec", "plugin"]).describe("exec: a shell command; plugin: a plugin's request"),
  summary: z.string().describe("What is asked: the command, or the plugin's request"),
  session_key: z.string().nullable().describe("The conversation that asked"),
  agent: z.string().nullable(),
  cwd: z.string().nullable(),
  host: z.string().nullable().describe("Where the command would run"),
  decisions: z.array(z.enum(DECISIONS)).describe("The answers the gateway accepts for it"),
  requested_at: z.string().nullable().describe("ISO 8601"),
  expires_at: z.string().nullable().describe("ISO 8601; the gateway denies it after this"),
});

/** {@linkcode Approval} → {@linkcode approvalEntry}. */
export function toApprovalEntry(approval: Approval): z.output<typeof approvalEntry> {
  return {
    id: approval.id,
    kind: approval.kind,
    summary: approval.summary,
    session_key: approval.sessionKey,
    agent: approval.agent,
    cwd: approval.cwd,
    host: approval.host,
    decisions: DECISIONS.filter((d) => !approval.unavailable.includes(d)),
    requested_at: isoTime(approval.createdAt),
    expires_at: isoTime(approval.expiresAt),
  };
}

async function ownerOnly(access: ApprovalAccess, principal: string, tool: string): Promise<void> {
  if (await access.isOwner(principal)) return;
  throw new BridgeError(
    "forbidden",
    `${tool} is for the bridge's owner: answering an approval lets the claw act on the gateway's machine.`,
    "Call it from the owner's client (stdio, a token listed in MCP_OWNER_TOKENS, or an OAuth login approved with Owner access), or answer on the operator page or the gateway itself.",
  );
}

function approvalsOf(client: GatewayClient): GatewayApprovals {
  if (client.approvals) return client.approvals;
  throw new BridgeError(
    "forbidden",
    `Approvals are turned off for instance "${client.instance.name}".`,
    "Set OPENCLAW_APPROVALS=owner to turn them on.",
  );
}

/** Creates `openclaw_approvals`. */
export function approvalsTool(gateways: GatewayRegistry, access: ApprovalAccess): Tool {
  return defineTool({
    name: "openclaw_approvals",
    title: "OpenClaw pending approvals",
    description:
      "List the approval requests the OpenClaw agent is waiting on (commands it wants to run, plugin actions), oldest first. Answer one with openclaw_approval_respond. Owner only.",
    input: z.object({ instance: instanceArg }).strict(),
    output: z.object({ instance: z.string(), approvals: z.array(approvalEntry) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async run(args, context) {
      await ownerOnly(access, context.owner, "openclaw_approvals");
      const client = gateways.get(args.instance);
      const approvals = await approvalsOf(client).list(context.signal);
      return {
        structured: { instance: client.instance.name, approvals: approvals.map(toApprovalEntry) },
      };
    },
  });
}

/** Creates `openclaw_approval_respond`. */
export function approvalRespondTool(gateways: GatewayRegistry, access: ApprovalAccess): Tool {
  return defineTool({
    name: "openclaw_approval_respond",
    title: "Answer an OpenClaw approval",
    description:
      "Answer one pending approval request from openclaw_approvals: allow-once runs it this time, allow-always also trusts it from now on, deny refuses it. The first answer wins. Owner only.",
    input: z.object({
      id: plainText("id").trim().min(1, "id is empty").max(512, "id is longer than 512 characters")
        .describe("The approval's id from openclaw_approvals"),
      decision: decisionArg,
      instance: instanceArg,
    }).strict(),
    output: z.object({
      instance: z.string(),
      approval: approvalEntry,
      decision: z.string().describe("The decision that stands (the first answer wins)"),
      accepted: z.boolean().describe("Whether your decision is the one that stands"),
    }),
    annotations: {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    },
    async run(args, context) {
      await ownerOnly(access, context.owner, "openclaw_approval_respond");
      const client = gateways.get(args.instance);
      const outcome = await approvalsOf(client).resolve(
        args.id,
        args.decision as Decision,
        context.signal,
      );
      return {
        structured: {
          instance: client.instance.name,
          approval: toApprovalEntry(outcome.approval),
          decision: outcome.decision,
          accepted: outcome.decision === args.decision,
        },
        text: `Approval ${outcome.approval.id} (${outcome.approval.summary}): ${outcome.decision}.`,
      };
    },
  });
}
