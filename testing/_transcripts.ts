/**
 * The test gateway's conversations and its `/tools/invoke` route for
 * `sessions_list` and `sessions_history`, in the shapes OpenClaw 2026.9.6
 * answers (see docs/notes/openclaw-recall.md): a chat with a session key
 * records its user and assistant turns under `agent:<agent>:<key>`.
 *
 * @module
 */

/** One stored transcript message, as `sessions_history` returns it. */
export interface StoredMessage {
  /** `user` or `assistant`. */
  role: string;
  /** A string (user) or parts (assistant: `[{type: "text", text}]`; images, files...). */
  content: string | Record<string, unknown>[];
  /** ms since the epoch. */
  timestamp: number;
}

/** One conversation. */
export interface StoredSession {
  /** `agent:<agent>:<key>`, lower case. */
  key: string;
  /** The agent. */
  agentId: string;
  /** Last activity, ms. */
  updatedAt: number;
  /** Oldest first. */
  messages: StoredMessage[];
}

/** The gateway's own resolution of a session key: trimmed, lower case, under `agent:<agent>:`. */
export function resolveKey(key: string, agent = "main"): string {
  const lower = key.trim().toLowerCase();
  return /^agent:[^:]+:/.test(lower) ? lower : `agent:${agent}:${lower}`;
}

/** Conversations by key. */
export class Transcripts {
  /** Every conversation by its resolved key. */
  readonly sessions = new Map<string, StoredSession>();
  #clock = Date.UTC(2026, 10, 1);

  /** Records a chat turn (user text, assistant reply). */
  record(key: string, agent: string, user: string, reply: string): void {
    const resolved = resolveKey(key, agent);
    const session = this.sessions.get(resolved) ??
      { key: resolved, agentId: agent, updatedAt: 0, messages: [] };
    session.messages.push({ role: "user", content: user, timestamp: ++this.#clock });
    session.messages.push({
      role: "assistant",
      content: [{ type: "text", text: reply }],
      timestamp: ++this.#clock,
    });
    session.updatedAt = this.#clock;
    this.sessions.set(resolved, session);
  }

  /** Answers `POST /tools/invoke`. */
  invoke(body: Record<string, unknown> | null): Response {
    const tool = String(body?.name ?? body?.tool ?? "");
    const args = (body?.args ?? {}) as Record<string, unknown>;
    if (tool === "sessions_list") return this.#list(args);
    if (tool === "sessions_history") return this.#history(args);
    return failure(404, "not_found", `Tool not available: ${tool}`);
  }

  #list(args: Record<string, unknown>): Response {
    const limit = args.limit ?? 100;
    if (!Number.isInteger(limit) || (limit as number) < 1) {
      return failure(400, "tool_error", "limit must be a positive integer");
    }
    const applied = Math.min(limit as number, 200);
    const offset = Number(args.offset ?? 0);
    const search = typeof args.search === "string" ? args.search.toLowerCase() : undefined;
    const all = [...this.sessions.values()]
      .filter((s) => !search || s.key.includes(search))
      .sort((a, b) => b.updatedAt - a.updatedAt);
    const rows = all.slice(offset, offset + applied).map((s) => ({
      key: s.key,
      sessionId: crypto.randomUUID(),
      agentId: s.agentId,
      kind: "other",
      channel: "unknown",
      archived: false,
      pinned: false,
      updatedAt: s.updatedAt,
      model: "echo",
      contextTokens: 32000,
      status: "done",
      abortedLastRun: false,
      ...(args.includeDerivedTitles ? { derivedTitle: title(s) } : {}),
      ...(args.includeLastMessage ? { lastMessagePreview: text(s.messages.at(-1)) } : {}),
    }));
    const hasMore = offset + applied < all.length;
    return success({
      count: rows.length,
      sessions: rows,
      hasMore,
      ...(hasMore ? { nextOffset: offset + applied } : {}),
      limitApplied: applied,
    });
  }

  #history(args: Record<string, unknown>): Response {
    if (typeof args.sessionKey !== "string" || !args.sessionKey) {
      return failure(400, "tool_error", "sessionKey required");
    }
    const key = resolveKey(args.sessionKey);
    const session = this.sessions.get(key);
    if (!session) {
      // The real gateway's two wordings: a full key, and a bare one it could not resolve.
      return success({
        status: "error",
        error: /^agent:/i.test(args.sessionKey)
          ? `No session found: ${key}`
          : `Session not found: ${args.sessionKey} (use the full sessionKey from sessions_list)`,
      });
    }
    const limit = Number(args.limit ?? 50);
    const paged = args.offset !== undefined;
    const offset = Number(args.offset ?? 0);
    const n = session.messages.length;
    const end = Math.max(0, n - offset);
    const start = Math.max(0, end - limit);
    const messages = session.messages.slice(start, end).map((m, i) => ({
      ...m,
      __openclaw: { id: crypto.randomUUID(), seq: start + i + 1 },
    }));
    return success({
      sessionKey: key,
      messages,
      truncated: start > 0,
      droppedMessages: false,
      contentTruncated: false,
      contentRedacted: false,
      bytes: JSON.stringify(messages).length,
      pendingInputs: { items: [], total: 0 },
      ...(paged
        ? {
          offset,
          ...(start > 0 ? { nextOffset: n - start } : {}),
          hasMore: start > 0,
          totalMessages: n,
        }
        : {}),
    });
  }
}

function text(message: StoredMessage | undefined): string {
  if (!message) return "";
  if (typeof message.content === "string") return message.content;
  return message.content.filter((p) => p.type === "text").map((p) => String(p.text)).join("\n");
}

function title(session: StoredSession): string {
  const first = text(session.messages.find((m) => m.role === "user"));
  return first.charAt(0).toUpperCase() + first.slice(1);
}

function success(details: unknown): Response {
  return Response.json({
    ok: true,
    result: { content: [{ type: "text", text: JSON.stringify(details, null, 2) }], details },
  });
}

function failure(status: number, type: string, message: string): Response {
  return Response.json({ ok: false, error: { type, message } }, { status });
}
