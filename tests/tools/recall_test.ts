/**
 * `openclaw_sessions` and `openclaw_history` run directly against the
 * loopback gateway double (its `/tools/invoke` speaks the shapes measured on
 * OpenClaw 2026.9.6): mapping, pagination, caps, every failing status, and
 * who sees what (owner, non-owner, `all`).
 */
import assert from "node:assert/strict";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { namespacePrefix, SessionKeys } from "../../src/gateway/session_key.ts";
import {
  capText,
  historyTool,
  MAX_MESSAGE_TEXT,
  type RecallAccess,
  sessionsTool,
  TRUNCATION_MARKER,
} from "../../src/tools/recall.ts";
import type { Tool, ToolContext } from "../../src/tools/tool.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { codeOf } from "../helpers/error_code.ts";
import { GatewayClient } from "../../src/gateway/client.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function context(owner: string): ToolContext {
  return { signal: new AbortController().signal, progress() {}, owner };
}

const OWNER = "token:owner";
const ALICE = "token:alice";
const BOB = "token:bob";

function access(mode: RecallAccess["mode"] = "owner"): RecallAccess {
  return { mode, isOwner: (p) => p === OWNER, namespaced: true };
}

type Sessions = {
  scope: string;
  has_more: boolean;
  sessions: { key: string; session_id: string | null; title: string | null; channel: string }[];
};
type History = {
  key: string;
  has_more: boolean;
  next_before: number | null;
  messages: {
    role: string;
    text: string;
    time: string | null;
    truncated: boolean;
    attachments: unknown[];
  }[];
};

async function run<T>(tool: Tool, args: Record<string, unknown>, owner: string): Promise<T> {
  const output = await tool.run(tool.input.parse(args), context(owner));
  return tool.output.parse(output.structured) as T;
}

/** A gateway with conversations: alice's `a1` (2 turns), bob's `b1`, and a raw `ops` one. */
async function setup(mode: RecallAccess["mode"] = "owner") {
  const gateway = await TestGateway.start();
  const gateways = new GatewayRegistry([gateway.instance()]);
  const keys = new SessionKeys({ namespaced: true });
  const client = new GatewayClient(gateway.instance());
  for (
    const [who, id, message] of [[ALICE, "a1", "first"], [ALICE, "a1", "second"], [
      BOB,
      "b1",
      "bob's",
    ]]
  ) {
    await client.chat({ message, sessionId: await keys.toGateway(who, id) });
  }
  await client.chat({ message: "ops talk", sessionId: "ops" });
  return {
    gateway,
    sessions: sessionsTool(gateways, access(mode)),
    history: historyTool(gateways, access(mode)),
    close: () => gateway.close(),
  };
}

Deno.test(
  "recall: the owner lists every conversation, newest first, with title and preview",
  opts,
  async () => {
    const s = await setup();
    try {
      const list = await run<Sessions>(s.sessions, {}, OWNER);
      assert.equal(list.scope, "all");
      assert.equal(list.sessions.length, 3);
      assert.equal(list.sessions[0].key, "agent:main:ops");
      const alice = list.sessions.find((r) => r.key.endsWith(":a1"))!;
      assert.equal(alice.title, "First");
      assert.equal(alice.channel, "unknown");
      const body = s.gateway.requests.find((r) => r.path === "/tools/invoke")!.body!;
      assert.equal(body.tool, "sessions_list");
      const limited = await run<Sessions>(s.sessions, { limit: 1 }, OWNER);
      assert.equal(limited.sessions.length, 1);
      assert.equal(limited.has_more, true);
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "recall: a non-owner sees only its own namespaced conversations, by its session_id",
  opts,
  async () => {
    const s = await setup();
    try {
      const alice = await run<Sessions>(s.sessions, {}, ALICE);
      assert.equal(alice.scope, "own");
      assert.deepEqual(alice.sessions.map((r) => r.session_id), ["a1"]);
      assert.ok(alice.sessions[0].key.includes(await namespacePrefix(ALICE)));
      const stranger = await run<Sessions>(s.sessions, {}, "oauth:x:y");
      assert.deepEqual(stranger.sessions, []);
      const history = await run<History>(s.history, { session_id: "a1" }, ALICE);
      assert.deepEqual(history.messages.map((m) => [m.role, m.text]), [
        ["user", "first"],
        ["assistant", "echo: first"],
        ["user", "second"],
        ["assistant", "echo: second"],
      ]);
      // The listed key works too.
      const byKey = await run<History>(s.history, { session_id: alice.sessions[0].key }, ALICE);
      assert.equal(byKey.messages.length, 4);
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "recall: a non-owner asking for another's conversation gets not_found, as for a missing one",
  opts,
  async () => {
    const s = await setup();
    try {
      const asked = s.gateway.requests.length;
      const bobKey = `agent:main:${await namespacePrefix(BOB)}b1`;
      for (const id of [bobKey, "agent:main:ops", "ops", "main", "b1"]) {
        assert.equal(await codeOf(run(s.history, { session_id: id }, ALICE)), "not_found", id);
      }
      const missing = await codeOf(run(s.history, { session_id: "never" }, ALICE));
      assert.equal(missing, "not_found");
      // Foreign keys never reach the gateway.
      const sent = s.gateway.requests.slice(asked).map((r) =>
        (r.body?.args as { sessionKey: string }).sessionKey
      );
      assert.ok(sent.every((k) => k.startsWith(`mcp-`)), sent.join());
      // The owner reads any of them.
      const ops = await run<History>(s.history, { session_id: "agent:main:ops" }, OWNER);
      assert.equal(ops.messages[0].text, "ops talk");
    } finally {
      await s.close();
    }
  },
);

Deno.test("recall: mode all lets every principal see every conversation", opts, async () => {
  const s = await setup("all");
  try {
    const list = await run<Sessions>(s.sessions, {}, BOB);
    assert.equal(list.scope, "all");
    assert.equal(list.sessions.length, 3);
  } finally {
    await s.close();
  }
});

Deno.test(
  "recall: history pages backwards with before, oldest first in each page",
  opts,
  async () => {
    const s = await setup();
    try {
      const newest = await run<History>(s.history, { session_id: "a1", limit: 2 }, ALICE);
      assert.deepEqual(newest.messages.map((m) => m.text), ["second", "echo: second"]);
      assert.equal(newest.has_more, true);
      assert.equal(newest.next_before, 2);
      const older = await run<History>(s.history, {
        session_id: "a1",
        limit: 2,
        before: newest.next_before,
      }, ALICE);
      assert.deepEqual(older.messages.map((m) => m.text), ["first", "echo: first"]);
      assert.equal(older.has_more, false);
      assert.equal(older.next_before, null);
      assert.match(older.messages[0].time!, /^\d{4}-\d\d-\d\dT/);
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "recall: long text is cut with a marker; attachments are metadata only",
  opts,
  async () => {
    const s = await setup();
    try {
      const session = [...s.gateway.transcripts.sessions.values()].find((x) =>
        x.key.endsWith(":ops")
      )!;
      session.messages.push({
        role: "user",
        content: [
          { type: "text", text: "x".repeat(MAX_MESSAGE_TEXT + 10) },
          { type: "image", mimeType: "image/png", data: "AAAA".repeat(1000) },
          { type: "thinking", thinking: "hidden" },
        ],
        timestamp: Date.now(),
      });
      const page = await run<History>(s.history, { session_id: "agent:main:ops", limit: 1 }, OWNER);
      const [m] = page.messages;
      assert.equal(m.truncated, true);
      assert.equal(m.text.length, MAX_MESSAGE_TEXT + TRUNCATION_MARKER.length);
      assert.ok(m.text.endsWith(TRUNCATION_MARKER));
      assert.deepEqual(m.attachments, [{ type: "image", name: null, mime_type: "image/png" }]);
      assert.ok(!JSON.stringify(page).includes("AAAA"));
      assert.ok(!JSON.stringify(page).includes("hidden"));
    } finally {
      await s.close();
    }
  },
);

Deno.test("recall: limits are capped at 100; capText keeps surrogate pairs whole", async () => {
  const s = await setup();
  try {
    assert.equal(s.sessions.input.safeParse({ limit: 101 }).success, false);
    assert.equal(s.history.input.safeParse({ session_id: "a", limit: 0 }).success, false);
    assert.equal(s.history.input.safeParse({ session_id: "a\nb" }).success, false);
    const [cut, was] = capText("ab😀", 3);
    assert.equal(cut, "ab" + TRUNCATION_MARKER);
    assert.equal(was, true);
  } finally {
    await s.close();
  }
});

Deno.test("recall: every failing status becomes its coded error", opts, async () => {
  const s = await setup();
  try {
    const cases: [number, string][] = [
      [400, "invalid_argument"],
      [401, "gateway_unauthorized"],
      [403, "gateway_forbidden"],
      [404, "gateway_tool_unavailable"],
      [429, "gateway_rate_limited"],
      [500, "gateway_error"],
      [503, "gateway_error"],
    ];
    for (const [status, code] of cases) {
      s.gateway.fault = { kind: "status", status };
      assert.equal(await codeOf(run(s.sessions, {}, OWNER)), code, `sessions ${status}`);
      assert.equal(
        await codeOf(run(s.history, { session_id: "a1" }, ALICE)),
        code,
        `history ${status}`,
      );
    }
    s.gateway.fault = { kind: "none" };
    s.gateway.token = "another";
    assert.equal(await codeOf(run(s.sessions, {}, OWNER)), "gateway_unauthorized");
  } finally {
    await s.close();
  }
});
