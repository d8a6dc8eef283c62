/**
 * `openclaw_sessions` and `openclaw_history`: the claw's recent
 * conversations and a conversation's transcript, read from the gateway's
 * `/tools/invoke` (`sessions_list`, `sessions_history`).
 *
 * The gateway token is operator access to every conversation, so who sees
 * what is decided here: an owner (the local user on stdio; over HTTP a
 * static token listed in `MCP_OWNER_TOKENS`, or an OAuth login approved with
 * Owner access) sees every conversation; any
 * other principal sees only the conversations it created through this
 * bridge, whose keys carry its namespace (`mcp-<16 hex>:`). A key outside
 * it is answered `not_found`, exactly like a missing one.
 *
 * @module
 */
import { z } from "zod";
import { conversationNotFound } from "../gateway/client.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import { GATEWAY_LIST_MAX, type HistoryMessage } from "../gateway/recall.ts";
import { namespacePrefix, withoutAgent } from "../gateway/session_key.ts";
import { defineTool, instanceArg, isoTime, plainText, type Tool } from "./tool.ts";
import { SESSION_ID_PATTERN } from "./args.ts";

/** Most conversations or messages one call returns. */
export const MAX_RECALL_LIMIT = 100;

/** Message text longer than this is cut, with {@linkcode TRUNCATION_MARKER}. */
export const MAX_MESSAGE_TEXT = 4_000;

/** Appended to a cut message text. */
export const TRUNCATION_MARKER = " …[truncated]";

/** Pages of 200 rows read at most to collect a non-owner's own conversations. */
const MAX_SCAN_PAGES = 5;

/** `OPENCLAW_RECALL_TOOLS`: off, owner (others see their own only) or all (everyone sees all). */
export type RecallMode = "off" | "owner" | "all";

/** Who may see what; see the module doc. */
export interface RecallAccess {
  /** `owner` (default): non-owners see their own conversations; `all`: everyone is an owner. */
  mode: Exclude<RecallMode, "off">;
  /** Whether `principal` is an owner. */
  isOwner(principal: string): Promise<boolean> | boolean;
  /** Whether session keys are namespaced (then an owner's bare session_id is too). */
  namespaced: boolean;
}

/** The default: owner mode, only stdio's local user is an owner. */
export const LOCAL_OWNER_ACCESS: RecallAccess = {
  mode: "owner",
  isOwner: (principal) => principal === "local",
  namespaced: false,
};

const limitArg = (what: string, fallback: number) =>
  z.number().int().min(1).max(
    MAX_RECALL_LIMIT,
    `limit is at most ${MAX_RECALL_LIMIT}; page with before for more`,
  ).default(fallback).describe(`Most ${what} returned (1-${MAX_RECALL_LIMIT})`);

/** Cuts `text` to {@linkcode MAX_MESSAGE_TEXT} characters plus the marker; says whether it did. */
export function capText(text: string, max = MAX_MESSAGE_TEXT): [string, boolean] {
  if (text.length <= max) return [text, false];
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return [text.slice(0, end) + TRUNCATION_MARKER, true];
}

/** The caller's view: owner or not, and its namespace prefix. */
async function viewOf(access: RecallAccess, principal: string) {
  const owner = access.mode === "all" || await access.isOwner(principal);
  return { owner, prefix: await namespacePrefix(principal) };
}

const sessionEntry = z.object({
  key: z.string().describe("The gateway's session key; pass it to openclaw_history"),
  session_id: z.string().nullable().describe(
    "The session_id you chose with openclaw_chat, when the conversation is yours",
  ),
  title: z.string().nullable(),
  agent: z.string().nullable(),
  channel: z.string().nullable(),
  last_activity: z.string().nullable().describe("ISO 8601"),
  last_message_preview: z.string().nullable(),
  status: z.string().nullable(),
});

/** Creates `openclaw_sessions`. */
export function sessionsTool(gateways: GatewayRegistry, access: RecallAccess): Tool {
  return defineTool({
    name: "openclaw_sessions",
    title: "OpenClaw conversations",
    description:
      "List the OpenClaw agent's recent conversations, newest first: key, title, channel, last activity and a preview of the last message. Owners see every conversation; other callers see only those they started through this bridge. Read one with openclaw_history.",
    input: z.object({
      instance: instanceArg,
      limit: limitArg("conversations", 20),
      search: plainText("search").trim().min(1).max(200).describe(
        "Only conversations whose key or title contains this text",
      ).optional(),
    }).strict(),
    output: z.object({
      instance: z.string(),
      scope: z.enum(["all", "own"]).describe("all: every conversation; own: only yours"),
      sessions: z.array(sessionEntry),
      has_more: z.boolean(),
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async run(args, context) {
      const client = gateways.get(args.instance);
      const view = await viewOf(access, context.owner);
      const entry = (row: {
        key: string;
        title: string | null;
        agent: string | null;
        channel: string | null;
        updatedAt: number | null;
        lastMessagePreview: string | null;
        status: string | null;
      }) => {
        const rest = withoutAgent(row.key);
        return {
          key: row.key,
          session_id: rest.startsWith(view.prefix) ? rest.slice(view.prefix.length) : null,
          title: row.title === null ? null : capText(row.title, 200)[0],
          agent: row.agent,
          channel: row.channel,
          last_activity: isoTime(row.updatedAt),
          last_message_preview: row.lastMessagePreview === null
            ? null
            : capText(row.lastMessagePreview, 500)[0],
          status: row.status,
        };
      };
      if (view.owner) {
        const page = await client.sessions({
          limit: args.limit,
          search: args.search,
          signal: context.signal,
        });
        return {
          structured: {
            instance: client.instance.name,
            scope: "all" as const,
            sessions: page.rows.slice(0, args.limit).map(entry),
            has_more: page.nextOffset !== null,
          },
        };
      }
      // A non-owner: the gateway narrows to the namespace, we check each key.
      const mine: ReturnType<typeof entry>[] = [];
      const needle = args.search?.toLowerCase();
      let offset = 0;
      let more = false;
      for (let pages = 0; pages < MAX_SCAN_PAGES; pages++) {
        const page = await client.sessions({
          limit: GATEWAY_LIST_MAX,
          offset,
          search: view.prefix.slice(0, -1),
          signal: context.signal,
        });
        for (const row of page.rows) {
          if (!withoutAgent(row.key).startsWith(view.prefix)) continue;
          const shown = entry(row);
          if (
            needle && !shown.session_id!.toLowerCase().includes(needle) &&
            !(shown.title ?? "").toLowerCase().includes(needle)
          ) continue;
          if (mine.length === args.limit) {
            more = true;
            break;
          }
          mine.push(shown);
        }
        if (more || page.nextOffset === null) break;
        offset = page.nextOffset;
        more = pages === MAX_SCAN_PAGES - 1;
      }
      return {
        structured: {
          instance: client.instance.name,
          scope: "own" as const,
          sessions: mine,
          has_more: more,
        },
      };
    },
  });
}

const historyEntry = z.object({
  role: z.string(),
  text: z.string(),
  time: z.string().nullable().describe("ISO 8601"),
  truncated: z.boolean().describe(`The text was cut at ${MAX_MESSAGE_TEXT} characters`),
  attachments: z.array(z.object({
    type: z.string(),
    name: z.string().nullable(),
    mime_type: z.string().nullable(),
  })).describe("Metadata only; the content is not returned"),
});

/** Creates `openclaw_history`. */
export function historyTool(gateways: GatewayRegistry, access: RecallAccess): Tool {
  return defineTool({
    name: "openclaw_history",
    title: "OpenClaw conversation history",
    description:
      "Read a conversation's transcript (role, text, time; attachments as metadata only), oldest first, newest page first: pass next_before as before for older messages. session_id is a key from openclaw_sessions or a session_id you used with openclaw_chat.",
    input: z.object({
      session_id: plainText("session_id").trim().min(1).max(512).regex(
        SESSION_ID_PATTERN,
        "session_id may hold only printable ASCII and Latin-1 letters",
      ).describe("A key from openclaw_sessions, or a session_id you used with openclaw_chat"),
      instance: instanceArg,
      limit: limitArg("messages", 20),
      before: z.number().int().min(0).max(1_000_000_000).describe(
        "next_before of the previous page: skip that many newest messages",
      ).optional(),
    }).strict(),
    output: z.object({
      instance: z.string(),
      key: z.string(),
      messages: z.array(historyEntry),
      has_more: z.boolean(),
      next_before: z.number().nullable().describe("Pass as before for the older page"),
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async run(args, context) {
      const client = gateways.get(args.instance);
      const view = await viewOf(access, context.owner);
      const id = args.session_id;
      let key: string;
      if (/^agent:[^:]+:/i.test(id)) key = id;
      else if (view.owner) key = access.namespaced ? view.prefix + id : id;
      else key = view.prefix + id;
      const isMine = (k: string) => withoutAgent(k).toLowerCase().startsWith(view.prefix);
      if (!view.owner && !isMine(key)) throw conversationNotFound(client.instance.name);
      const page = await client.history({
        key,
        limit: args.limit,
        offset: args.before,
        signal: context.signal,
      });
      // The gateway resolves keys itself: check again what it answered for.
      if (!view.owner && !isMine(page.key)) throw conversationNotFound(client.instance.name);
      return {
        structured: {
          instance: client.instance.name,
          key: page.key,
          messages: page.messages.map(toEntry),
          has_more: page.nextOffset !== null,
          next_before: page.nextOffset,
        },
      };
    },
  });
}

function toEntry(message: HistoryMessage): z.output<typeof historyEntry> {
  const [text, truncated] = capText(message.text);
  return {
    role: message.role,
    text,
    time: isoTime(message.timestamp),
    truncated,
    attachments: message.attachments.map((a) => ({
      type: a.type,
      name: a.name,
      mime_type: a.mimeType,
    })),
  };
}
