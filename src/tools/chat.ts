/**
 * `openclaw_chat`: send a message to an OpenClaw agent and wait for the reply,
 * streaming progress notifications while the gateway streams.
 *
 * @module
 */
import { z } from "zod";
import type { GatewayRegistry } from "../gateway/registry.ts";
import { type SessionKeyPolicy, SessionKeys } from "../gateway/session_key.ts";
import { chatArgs } from "./args.ts";
import type { Usage } from "../gateway/reply.ts";
import { defineTool, type Tool } from "./tool.ts";
import { throttle } from "../throttle.ts";
import { type Approval, ChatApprovals } from "../gateway/approvals.ts";

/** Progress notifications are sent at most this often. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * A progress message carries at most this many characters of the reply: its
 * tail, after "…" when cut. Sending the whole reply so far each time would
 * cost O(n²) bytes on the wire; the final result carries the whole reply.
 */
export const PROGRESS_TAIL_CHARS = 2_000;

/** The last {@linkcode PROGRESS_TAIL_CHARS} characters of `text`, after "…" when cut. */
export function progressTail(text: string, max = PROGRESS_TAIL_CHARS): string {
  if (text.length <= max) return text;
  let start = text.length - max;
  // Never start on the second half of a surrogate pair.
  const code = text.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start++;
  return "…" + text.slice(start);
}

/** The progress message sent when the conversation raises an approval. */
export function approvalNotice(instance: string, approval: Approval): string {
  const what = approval.kind === "exec"
    ? `to run: ${approval.summary}`
    : `for: ${approval.summary}`;
  return `Waiting for approval ${approval.id} on instance "${instance}" ${what}. The owner can answer it with openclaw_approval_respond or on the operator page.`;
}

/** The structured result of a chat turn. */
export const chatResult = z.object({
  reply: z.string().describe("The agent's reply"),
  instance: z.string(),
  session_id: z.string().nullable(),
  model: z.string(),
  usage: z.object({
    prompt_tokens: z.number().optional(),
    completion_tokens: z.number().optional(),
    total_tokens: z.number().optional(),
  }).nullable(),
  finish_reason: z.string().nullable(),
});

/** What a finished chat turn produced, however it ran (directly or as a task). */
export interface ChatOutcome {
  /** The reply text. */
  reply: string;
  /** Name of the instance that answered (the default one when the call named none). */
  instance: string;
  /** The caller's `session_id`, not the namespaced key the gateway saw; null without one. */
  sessionId: string | null;
  /** The model the gateway says answered (it may differ from the one asked for). */
  model: string;
  /** Token usage, when reported. */
  usage: Usage | null;
  /** Why generation stopped (`stop`, `length`, ...), null when the gateway did not say. */
  finishReason: string | null;
}

/** The structured result of `openclaw_chat` ({@linkcode chatResult}) for an outcome. */
export function chatStructured(outcome: ChatOutcome): z.output<typeof chatResult> {
  return {
    reply: outcome.reply,
    instance: outcome.instance,
    session_id: outcome.sessionId,
    model: outcome.model,
    usage: outcome.usage,
    finish_reason: outcome.finishReason,
  };
}

/**
 * Creates the `openclaw_chat` tool. `sessions` turns the caller's
 * `session_id` into the gateway's key (namespaced per principal or not).
 */
export function chatTool(
  gateways: GatewayRegistry,
  sessions: SessionKeyPolicy = new SessionKeys(),
): Tool {
  return defineTool({
    name: "openclaw_chat",
    title: "Chat with OpenClaw",
    description:
      "Send a message to an OpenClaw agent and return its reply. Reuse session_id to continue a conversation. For jobs that may take longer than a minute, use openclaw_chat_async.",
    input: z.object(chatArgs).strict(),
    output: chatResult,
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    async run(args, context) {
      sessions.check(args.session_id);
      const client = gateways.get(args.instance);
      const sessionKey = await sessions.toGateway(context.owner, args.session_id);
      // Progress counts reply characters plus approval notices, so it only grows.
      let notices = 0;
      let chars = 0;
      const progress = throttle<string>(PROGRESS_INTERVAL_MS, (text) => {
        chars = text.length;
        context.progress(chars + notices, progressTail(text));
      });
      const notify = (message: string) => context.progress(chars + ++notices, message);
      const approvals = new ChatApprovals(client.approvals, sessionKey, {
        requested: (approval) => notify(approvalNotice(client.instance.name, approval)),
        resolved: (id, decision) =>
          notify(
            `Approval ${id} was answered${decision ? `: ${decision}` : ""}; the agent goes on.`,
          ),
      });
      try {
        const result = await client.chat({
          message: args.message,
          sessionId: sessionKey,
          agent: args.agent,
          signal: context.signal,
          onDelta: (_delta, text) => progress.push(text),
          onRunId: approvals.onRunId,
        });
        return {
          structured: chatStructured({
            ...result,
            instance: client.instance.name,
            sessionId: args.session_id ?? null,
          }),
          text: result.reply,
        };
      } finally {
        approvals.stop();
        progress.stop();
      }
    },
  });
}
