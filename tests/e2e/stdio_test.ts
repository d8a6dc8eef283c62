/**
 * End-to-end over stdio: the real `main.ts` process, the MCP SDK client, and
 * the loopback test gateway.
 */
import assert from "node:assert/strict";
import { type Fault, TestGateway } from "../../testing/test_gateway.ts";
import {
  connectStdio,
  gatewayEnv,
  INITIALIZE,
  runMain,
  type StdioSession,
} from "../../testing/spawn.ts";
import { TOOL_NAMES } from "../helpers/tool_names.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type ToolResult = {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
};

async function call(session: StdioSession, name: string, args: Record<string, unknown> = {}) {
  return await session.client.callTool({ name, arguments: args }) as ToolResult;
}

function errorCode(result: ToolResult): string | undefined {
  return (result.structuredContent?.error as { code?: string } | undefined)?.code;
}

async function withServer(
  fn: (session: StdioSession, gateway: TestGateway) => Promise<void>,
  options: { args?: string[]; env?: Record<string, string>; chunkDelayMs?: number } = {},
) {
  const gateway = await TestGateway.start({ chunkDelayMs: options.chunkDelayMs });
  const session = await connectStdio({
    args: options.args,
    env: { ...gatewayEnv(gateway.url), ...(options.env ?? {}) },
  });
  try {
    await fn(session, gateway);
  } finally {
    await session.close();
    await gateway.close();
  }
}

Deno.test("stdio: lists every tool with schemas, titles and annotations", opts, async () => {
  await withServer(async (session) => {
    const { tools } = await session.client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, TOOL_NAMES);
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, "object", tool.name);
      assert.ok(tool.outputSchema, `${tool.name} has an outputSchema`);
      assert.ok(tool.title, `${tool.name} has a title`);
      assert.equal(typeof tool.annotations?.readOnlyHint, "boolean", tool.name);
      assert.equal(typeof tool.annotations?.openWorldHint, "boolean", tool.name);
    }
    const chat = tools.find((t) => t.name === "openclaw_chat")!;
    assert.deepEqual(chat.execution, { taskSupport: "optional" });
    assert.deepEqual(chat.inputSchema.required, ["message"]);
    assert.deepEqual(
      Object.keys(chat.inputSchema.properties ?? {}).sort(),
      ["agent", "instance", "message", "session_id"],
    );
  });
});

Deno.test("stdio: chat returns the reply and forwards token, session and agent", opts, async () => {
  await withServer(async (session, gateway) => {
    const result = await call(session, "openclaw_chat", {
      message: "  hello there  ",
      session_id: "conv-42",
      agent: "coder",
    });
    assert.equal(result.isError, undefined);
    assert.equal(result.content[0].text, "echo: hello there");
    assert.deepEqual(result.structuredContent, {
      reply: "echo: hello there",
      instance: "default",
      session_id: "conv-42",
      model: "openclaw/coder",
      usage: null,
      finish_reason: "stop",
    });
    const [request] = gateway.chats;
    assert.equal(request.headers.authorization, "Bearer test-token");
    assert.equal(request.headers["x-openclaw-session-key"], "conv-42");
    assert.equal(request.headers["x-openclaw-agent-id"], "coder");
    assert.equal(request.body?.model, "openclaw/coder");
    assert.equal(request.body?.stream, true);
    assert.deepEqual(request.body?.messages, [{ role: "user", content: "hello there" }]);

    await call(session, "openclaw_chat", { message: "no session" });
    const second = gateway.chats[1];
    assert.equal(second.headers["x-openclaw-session-key"], undefined);
    assert.equal(second.headers["x-openclaw-agent-id"], undefined);
    assert.equal(second.body?.model, "openclaw");
  });
});

Deno.test(
  "stdio: chat falls back to a JSON reply when the gateway does not stream",
  opts,
  async () => {
    await withServer(async (session, gateway) => {
      gateway.fault = { kind: "json" };
      const result = await call(session, "openclaw_chat", { message: "plain" });
      assert.equal(result.content[0].text, "echo: plain");
      assert.deepEqual(result.structuredContent?.usage, {
        prompt_tokens: 3,
        completion_tokens: 2,
        total_tokens: 5,
      });
    });
  },
);

Deno.test("stdio: progress notifications carry the text so far, throttled", opts, async () => {
  await withServer(async (session) => {
    const words = Array.from({ length: 16 }, (_, i) => `w${i}`);
    const updates: { progress: number; message?: string; at: number }[] = [];
    const started = performance.now();
    const result = await session.client.callTool(
      { name: "openclaw_chat", arguments: { message: words.join(" ") } },
      undefined,
      {
        onprogress: (p) => updates.push({ ...p, at: performance.now() }),
        timeout: 30_000,
      },
    ) as ToolResult;
    const elapsed = performance.now() - started;
    const reply = `echo: ${words.join(" ")}`;
    assert.equal(result.content[0].text, reply);
    assert.ok(updates.length >= 2, `expected several progress updates, got ${updates.length}`);
    for (const [i, update] of updates.entries()) {
      assert.ok(reply.startsWith(update.message ?? "\0"), "each message is a prefix of the reply");
      assert.equal(update.progress, update.message!.length);
      if (i > 0) assert.ok(update.progress > updates[i - 1].progress, "progress increases");
    }
    // 17 chunks 60 ms apart: unthrottled that is 17 notifications.
    assert.ok(
      updates.length <= Math.ceil(elapsed / 250) + 1,
      `${updates.length} notifications in ${Math.round(elapsed)} ms exceeds one per 250 ms`,
    );
  }, { chunkDelayMs: 60 });
});

Deno.test("stdio: cancelling a call aborts the gateway request", opts, async () => {
  await withServer(async (session, gateway) => {
    gateway.fault = { kind: "hang" };
    const controller = new AbortController();
    const pending = session.client.callTool(
      { name: "openclaw_chat", arguments: { message: "wait forever" } },
      undefined,
      { signal: controller.signal },
    );
    pending.catch(() => {});
    await gateway.waitFor(() => gateway.chats.length === 1);
    controller.abort();
    await assert.rejects(pending);
    await gateway.waitFor(() => gateway.chats[0].aborted, 5_000);
    assert.equal(gateway.chats[0].finished, false);
    // The server keeps serving after a cancellation.
    gateway.fault = { kind: "none" };
    const after = await call(session, "openclaw_chat", { message: "still here" });
    assert.equal(after.content[0].text, "echo: still here");
  });
});

Deno.test("stdio: every gateway fault maps to its error code", opts, async () => {
  const cases: [Fault, string, RegExp][] = [
    [{ kind: "status", status: 401 }, "gateway_unauthorized", /OPENCLAW_GATEWAY_TOKEN/],
    [{ kind: "status", status: 404 }, "gateway_not_found", /chatCompletions/],
    [{ kind: "status", status: 500 }, "gateway_error", /HTTP 500/],
    [{ kind: "status", status: 503 }, "gateway_error", /HTTP 503/],
    [{ kind: "status", status: 429, retryAfter: "7" }, "gateway_rate_limited", /Retry after 7/],
    [{ kind: "status", status: 400 }, "gateway_rejected", /test fault 400/],
    [{ kind: "garbage" }, "gateway_bad_reply", /not JSON/],
    [{ kind: "huge", bytes: 11 * 1024 * 1024 }, "gateway_bad_reply", /larger than 10 MB/],
    [{ kind: "reset", afterChunks: 1 }, "gateway_disconnected", /closed the connection|ended/],
    [{ kind: "sse_error" }, "gateway_error", /provider down/],
    [{ kind: "delay", ms: 3_000 }, "gateway_timeout", /1000 ms/],
  ];
  await withServer(async (session, gateway) => {
    for (const [fault, code, text] of cases) {
      gateway.fault = fault;
      const result = await call(session, "openclaw_chat", { message: "fault?" });
      assert.equal(result.isError, true, `${fault.kind} is an error`);
      assert.equal(errorCode(result), code, `${JSON.stringify(fault)} gives ${code}`);
      const error = result.structuredContent?.error as { message: string; hint: string };
      assert.match(`${error.message} ${error.hint}`, text, JSON.stringify(fault));
      assert.match(result.content[0].text!, new RegExp(`^Error \\[${code}\\]`));
      assert.doesNotMatch(result.content[0].text!, /test-token|\n\s+at /);
    }
    gateway.fault = { kind: "none" };
    const ok = await call(session, "openclaw_chat", { message: "recovered" });
    assert.equal(ok.content[0].text, "echo: recovered");
  }, { args: ["--timeout", "1000"] });
});

Deno.test("stdio: an unreachable gateway gives gateway_unreachable", opts, async () => {
  const closed = await TestGateway.start();
  await closed.close();
  const session = await connectStdio({ env: gatewayEnv(closed.url) });
  try {
    const result = await call(session, "openclaw_chat", { message: "anyone?" });
    assert.equal(errorCode(result), "gateway_unreachable");
    assert.match(result.content[0].text!, new RegExp(closed.url.replace(/\./g, "\\.")));
  } finally {
    await session.close();
  }
});

Deno.test(
  "stdio: status tells ok, unauthorized, not_found and unreachable apart",
  opts,
  async () => {
    const good = await TestGateway.start();
    const missing = await TestGateway.start();
    missing.fault = { kind: "status", status: 404 };
    const gone = await TestGateway.start();
    await gone.close();
    const instances = [
      { name: "good", url: good.url, token: "test-token" },
      { name: "badtoken", url: good.url, token: "wrong-token" },
      { name: "notfound", url: missing.url, token: "test-token" },
      { name: "gone", url: gone.url, default: true },
    ];
    const session = await connectStdio({ env: { OPENCLAW_INSTANCES: JSON.stringify(instances) } });
    try {
      const all = await call(session, "openclaw_status");
      const byName = Object.fromEntries(
        (all.structuredContent!.instances as { name: string; status: string; agents: string[] }[])
          .map((i) => [i.name, i]),
      );
      assert.equal(all.structuredContent!.ok, false);
      assert.equal(byName.good.status, "ok");
      assert.deepEqual(byName.good.agents, ["coder", "main"]);
      assert.equal(byName.badtoken.status, "unauthorized");
      assert.equal(byName.notfound.status, "not_found");
      assert.equal(byName.gone.status, "unreachable");
      const one = await call(session, "openclaw_status", { instance: "good" });
      assert.equal(one.structuredContent!.ok, true);
      assert.equal((one.structuredContent!.instances as unknown[]).length, 1);
      // /v1/models runs no agent: no chat request reached any gateway.
      assert.equal(good.chats.length + missing.chats.length, 0);
      const unknown = await call(session, "openclaw_status", { instance: "nope" });
      assert.equal(errorCode(unknown), "unknown_instance");
      assert.match(unknown.content[0].text!, /good, badtoken, notfound, gone/);
    } finally {
      await session.close();
      await good.close();
      await missing.close();
    }
  },
);

Deno.test("stdio: instances lists every instance and never a token", opts, async () => {
  const instances = [
    { name: "prod", url: "http://127.0.0.1:1/", token: "prod-secret-token-123", agent: "main" },
    { name: "lab", url: "http://127.0.0.1:2", token: "lab-secret-token-456", default: true },
  ];
  const session = await connectStdio({
    args: ["--debug"],
    env: { OPENCLAW_INSTANCES: JSON.stringify(instances), OPENCLAW_TIMEOUT_MS: "5000" },
  });
  try {
    const result = await call(session, "openclaw_instances");
    assert.deepEqual(result.structuredContent, {
      instances: [
        {
          name: "prod",
          url: "http://127.0.0.1:1",
          default: false,
          timeout_ms: 5000,
          agent: "main",
          model: "openclaw",
          has_token: true,
        },
        {
          name: "lab",
          url: "http://127.0.0.1:2",
          default: true,
          timeout_ms: 5000,
          agent: null,
          model: "openclaw",
          has_token: true,
        },
      ],
    });
    const everything = JSON.stringify(result) + session.stderr();
    assert.ok(session.stderr().includes('"event":"config"'), "debug logged the config");
    assert.doesNotMatch(everything, /secret-token/);
  } finally {
    await session.close();
  }
});

Deno.test("stdio: bad arguments give clear invalid_argument errors", opts, async () => {
  await withServer(async (session, gateway) => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /message is required/],
      [{ message: "   " }, /message is empty/],
      [{ message: "x".repeat(100_001) }, /longer than 100000 characters/],
      [{ message: "bell\u0007" }, /control characters/],
      [{ message: 42 }, /message: expected string/],
      [{ message: "hi", sessionId: "x" }, /unknown argument "sessionId"/],
      [{ message: "hi", session_id: "s".repeat(257) }, /session_id is longer than 256/],
      [{ message: "hi", session_id: "cron:nightly" }, /reserved by OpenClaw/],
      [{ message: "hi", agent: "../etc" }, /agent must be an OpenClaw agent id/],
    ];
    for (const [args, pattern] of cases) {
      const result = await call(session, "openclaw_chat", args);
      assert.equal(errorCode(result), "invalid_argument", JSON.stringify(args).slice(0, 80));
      assert.match(result.content[0].text!, pattern);
      assert.match(result.content[0].text!, /Hint: Arguments: message, session_id/);
    }
    const unknown = await call(session, "openclaw_chat", { message: "hi", instance: "nope" });
    assert.equal(errorCode(unknown), "unknown_instance");
    assert.equal(gateway.chats.length, 0, "no bad call reached the gateway");
    // A message of exactly the limit is accepted.
    const max = await call(session, "openclaw_chat", { message: "y".repeat(100_000) });
    assert.equal(max.isError, undefined);
    await assert.rejects(
      session.client.callTool({ name: "openclaw_nope", arguments: {} }),
      /Unknown tool "openclaw_nope"/,
    );
  });
});

Deno.test("stdio: exits 0 promptly on stdin EOF with a call in flight", opts, async () => {
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "hang" };
  try {
    const lines = [
      INITIALIZE,
      { jsonrpc: "2.0", method: "notifications/initialized" },
      {
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "openclaw_chat", arguments: { message: "hang" } },
      },
      { jsonrpc: "2.0", id: 3, method: "tools/list" },
    ].map((m) => JSON.stringify(m)).join("\n") + "\nnot json at all\n";
    let started = 0;
    const run = await runMain([], {
      env: gatewayEnv(gateway.url),
      stdin: lines,
      beforeEof: async () => {
        await gateway.waitFor(() => gateway.chats.length === 1, 10_000);
        started = performance.now();
      },
    });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(seconds < 10, `exited after ${seconds.toFixed(1)} s`);
    const replies = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const byId = new Map(replies.map((r) => [r.id, r]));
    assert.ok(byId.get(1)?.result, "initialize answered");
    assert.equal(byId.get(3)?.result?.tools?.length, TOOL_NAMES.length, "tools/list answered");
    assert.equal(byId.get(2)?.result?.structuredContent?.error?.code, "cancelled");
    assert.equal(byId.get(null)?.error?.code, -32700, "garbage line answered with a parse error");
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
    await gateway.waitFor(() => gateway.chats[0].aborted);
  } finally {
    await gateway.close();
  }
});

Deno.test("stdio: exits 0 on SIGTERM", opts, async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL("../../main.ts", import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes('"event":"started"')) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGTERM");
  const status = await child.status;
  await reader.cancel();
  await child.stdout.cancel();
  await child.stdin.close().catch(() => {});
  assert.equal(status.code, 0);
});

Deno.test(
  "stdio: agents: listed per instance; unknown or missing agent errors name the known ones",
  opts,
  async () => {
    await withServer(async (session, gateway) => {
      const listed = await call(session, "openclaw_agents");
      assert.deepEqual(listed.structuredContent, {
        instances: [{
          name: "default",
          default_agent: null,
          agents: ["coder", "main"],
          error: null,
        }],
      });
      const unknown = await call(session, "openclaw_chat", { message: "hi", agent: "ghost" });
      assert.equal(errorCode(unknown), "unknown_agent");
      assert.match(unknown.content[0].text!, /no agent "ghost"[\s\S]*Known agents: coder, main/);
      gateway.defaultAgent = null;
      const missing = await call(session, "openclaw_chat", { message: "hi" });
      assert.equal(errorCode(missing), "agent_required");
      assert.match(missing.content[0].text!, /Pass agent[\s\S]*Known agents: coder, main/);
      const chosen = await call(session, "openclaw_chat", { message: "hi", agent: "main" });
      assert.equal(chosen.content[0].text, "echo: hi");
      gateway.fault = { kind: "status", status: 401 };
      const failing = await call(session, "openclaw_agents");
      const entry = (failing.structuredContent!.instances as { error: { code: string } }[])[0];
      assert.equal(entry.error.code, "gateway_unauthorized");
    });
  },
);
