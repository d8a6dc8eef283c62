/**
 * The gateway's conversations, read through `/tools/invoke`:
 * `sessions_list` (rows newest first, offset paging) and `sessions_history`
 * (a window of the transcript, oldest first, paged backwards by offset from
 * the newest). Shapes measured against OpenClaw 2026.9.6; validated here,
 * at the edge, and reduced to what the recall tools show.
 *
 * @module
 */
import { z } from "zod";
import { badReplyError, type ErrorInstance } from "./errors.ts";

/** Most rows `sessions_list` returns per call (the gateway's own cap). */
export const GATEWAY_LIST_MAX = 200;

const sessionRow = z.object({
  key: z.string(),
  agentId: z.string().optional(),
  channel: z.string().optional(),
  updatedAt: z.number().nullable().optional(),
  derivedTitle: z.string().optional(),
  label: z.string().optional(),
  displayName: z.string().optional(),
  lastMessagePreview: z.string().optional(),
  status: z.string().optional(),
}).loose();

const listDetails = z.object({
  sessions: z.array(sessionRow),
  hasMore: z.boolean().optional(),
  nextOffset: z.number().int().nonnegative().nullable().optional(),
}).loose();

const messagePart = z.object({ type: z.string() }).loose();

const historyMessage = z.object({
  role: z.string(),
  content: z.union([z.string(), z.array(messagePart)]).optional(),
  timestamp: z.number().optional(),
}).loose();

const historyDetails = z.object({
  sessionKey: z.string(),
  messages: z.array(historyMessage),
  nextOffset: z.number().int().nonnegative().nullable().optional(),
  hasMore: z.boolean().optional(),
}).loose();

/** One conversation as `sessions_list` describes it. */
export interface SessionRow {
  /** The gateway's session key, e.g. `agent:main:mcp-0123456789abcdef:conv1`. */
  key: string;
  /** The agent it belongs to. */
  agent: string | null;
  /** `unknown` for conversations started over HTTP. */
  channel: string | null;
  /** Last activity, ms since the epoch. */
  updatedAt: number | null;
  /** Label, display name or a title derived from the first message. */
  title: string | null;
  /** Start of the last message. */
  lastMessagePreview: string | null;
  /** Run status, e.g. `done`. */
  status: string | null;
}

/** One page of `sessions_list`. */
export interface SessionPage {
  /** Newest first. */
  rows: SessionRow[];
  /** The offset of the next page, or null at the end. */
  nextOffset: number | null;
}

/** An attachment of a message: metadata only, never its bytes. */
export interface Attachment {
  /** The part's type, e.g. `image`. */
  type: string;
  /** File name, when given. */
  name: string | null;
  /** MIME type, when given. */
  mimeType: string | null;
}

/** One transcript message. */
export interface HistoryMessage {
  /** `user`, `assistant`, ... */
  role: string;
  /** Its text parts joined. */
  text: string;
  /** When it was written, ms since the epoch. */
  timestamp: number | null;
  /** Non-text parts, as metadata. */
  attachments: Attachment[];
}

/** One page of `sessions_history`. */
export interface HistoryPage {
  /** The key the gateway resolved, e.g. `agent:main:<key>`. */
  key: string;
  /** Oldest first. */
  messages: HistoryMessage[];
  /** Offset of the older page, or null when there is none. */
  nextOffset: number | null;
}

/** Parts that are neither text nor attachments: reasoning and tool traffic. */
const INTERNAL_PARTS = new Set([
  "thinking",
  "redacted_thinking",
  "reasoning",
  "toolCall",
  "tool_use",
  "tool_call",
  "toolResult",
  "tool_result",
]);

function str(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

/** Reads `sessions_list` details. */
export function parseSessionList(details: unknown, instance: ErrorInstance): SessionPage {
  const parsed = listDetails.safeParse(details);
  if (!parsed.success) throw badReplyError(instance, "the sessions_list reply has no sessions");
  const rows = parsed.data.sessions.map((row) => ({
    key: row.key,
    agent: row.agentId ?? null,
    channel: row.channel ?? null,
    updatedAt: row.updatedAt ?? null,
    title: str(row.label) ?? str(row.displayName) ?? str(row.derivedTitle),
    lastMessagePreview: str(row.lastMessagePreview),
    status: row.status ?? null,
  }));
  return { rows, nextOffset: parsed.data.hasMore ? parsed.data.nextOffset ?? null : null };
}

/** Reads `sessions_history` details. */
export function parseHistory(details: unknown, instance: ErrorInstance): HistoryPage {
  const parsed = historyDetails.safeParse(details);
  if (!parsed.success) {
    throw badReplyError(instance, "the sessions_history reply has no sessionKey and messages");
  }
  const messages = parsed.data.messages.map((m) => {
    const parts = typeof m.content === "string"
      ? [{ type: "text", text: m.content }]
      : m.content ?? [];
    const texts: string[] = [];
    const attachments: Attachment[] = [];
    for (const part of parts) {
      if (part.type === "text") {
        if (typeof part.text === "string") texts.push(part.text);
      } else if (!INTERNAL_PARTS.has(part.type)) {
        attachments.push({
          type: part.type,
          name: str(part.name) ?? str(part.fileName) ?? str(part.filename),
          mimeType: str(part.mimeType) ?? str(part.mime_type) ?? str(part.mediaType),
        });
      }
    }
    return { role: m.role, text: texts.join("\n"), timestamp: m.timestamp ?? null, attachments };
  });
  const { hasMore, nextOffset } = parsed.data;
  return {
    key: parsed.data.sessionKey,
    messages,
    nextOffset: hasMore && nextOffset != null ? nextOffset : null,
  };
}
