/**
 * Streamable HTTP end-to-end: the spawned server on port 0, the SDK's
 * StreamableHTTPClientTransport, and raw fetch where the protocol is the point.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SseParser } from "../../src/gateway/sse.ts";
import { READY_PROBE_TTL_MS } from "../../src/http/app.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, type HttpServerProcess, INITIALIZE, startHttp } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const INIT = INITIALIZE;
const ACCEPT = "application/json, text/event-stream";

async function connect(url: string, headers: Record<string, string> = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers },
  });
  const client = new Client({ name: "http-tests", version: "0" });
  await client.connect(transport);
  return { client, transport };
}

async function health(url: string): Promise<Record<string, unknown>> {
  return await (await fetch(`${url}/health`)).json();
}

async function rawInit(url: string): Promise<string> {
  const response = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT },
    body: JSON.stringify(INIT),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const id = response.headers.get("mcp-session-id");
  assert.ok(id);
  await fetch(`${url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT, "mcp-session-id": id },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  }).then((r) => r.body?.cancel());
  return id;
}

async function withHttp(
  fn: (server: HttpServerProcess, gateway: TestGateway) => Promise<void>,
  options: { args?: string[]; env?: Record<string, string>; chunkDelayMs?: number } = {},
) {
  const gateway = await TestGateway.start({ chunkDelayMs: options.chunkDelayMs });
  const server = await startHttp({
    args: ["--debug", ...(options.args ?? [])],
    env: { ...gatewayEnv(gateway.url), ...(options.env ?? {}) },
  });
  try {
    await fn(server, gateway);
  } finally {
    const status = await server.stop();
    await gateway.close();
    assert.equal(status.code, 0, `server exit: ${server.stderr().slice(-500)}`);
  }
}

Deno.test("http: every tool over Streamable HTTP with one reused session", opts, async () => {
  await withHttp(async (server, gateway) => {
    const { client, transport } = await connect(server.url);
    const { tools } = await client.listTools();
    assert.equal(tools.length, 12);
    const chat = await client.callTool({
      name: "openclaw_chat",
      arguments: { message: "over http" },
    });
    assert.equal((chat.structuredContent as { reply: string }).reply, "echo: over http");
    const status = await client.callTool({ name: "openclaw_status", arguments: {} });
    assert.equal((status.structuredContent as { ok: boolean }).ok, true);
    const instances = await client.callTool({ name: "openclaw_instances", arguments: {} });
    assert.doesNotMatch(JSON.stringify(instances), /test-token/);
    const task = await client.callTool({
      name: "openclaw_chat_async",
      arguments: { message: "bg" },
    });
    const taskId = (task.structuredContent as { task_id: string }).task_id;
    await gateway.waitFor(() => gateway.chats.length === 2);
    const got = await client.callTool({
      name: "openclaw_task_status",
      arguments: { task_id: taskId },
    });
    assert.equal((got.structuredContent as { task_id: string }).task_id, taskId);
    assert.ok(transport.sessionId);
    assert.equal((await health(server.url)).sessions, 1, "all calls reused one session");
    await client.close();
  });
});

Deno.test("http: progress notifications arrive over SSE", opts, async () => {
  await withHttp(async (server) => {
    const { client } = await connect(server.url);
    const updates: string[] = [];
    const words = Array.from({ length: 12 }, (_, i) => `p${i}`).join(" ");
    const result = await client.callTool(
      { name: "openclaw_chat", arguments: { message: words } },
      undefined,
      { onprogress: (p) => updates.push(p.message ?? "") },
    );
    assert.equal((result.structuredContent as { reply: string }).reply, `echo: ${words}`);
    assert.ok(updates.length >= 2, `got ${updates.length} progress updates`);
    assert.ok(updates.every((u) => `echo: ${words}`.startsWith(u)));
    await client.close();
  }, { chunkDelayMs: 70 });
});

Deno.test("http: DELETE ends a session; an unknown session is 404", opts, async () => {
  await withHttp(async (server) => {
    const { client, transport } = await connect(server.url);
    const id = transport.sessionId!;
    await transport.terminateSession();
    assert.equal((await health(server.url)).sessions, 0);
    const stale = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT, "mcp-session-id": id },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    assert.equal(stale.status, 404);
    assert.equal((await stale.json()).error.code, -32001);
    const unknown = await fetch(`${server.url}/mcp`, {
      method: "GET",
      headers: { accept: "text/event-stream", "mcp-session-id": "no-such-session" },
    });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    await client.close().catch(() => {});
  });
});

Deno.test("http: idle sessions expire and are freed", opts, async () => {
  await withHttp(async (server) => {
    const id = await rawInit(server.url);
    assert.equal((await health(server.url)).sessions, 1);
    await new Promise((r) => setTimeout(r, 900));
    assert.equal((await health(server.url)).sessions, 0);
    const after = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT, "mcp-session-id": id },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    assert.equal(after.status, 404, "an expired session tells the client to re-initialize");
    await after.body?.cancel();
  }, { env: { MCP_SESSION_IDLE_MS: "300" } });
});

Deno.test("http: 2,000 abandoned sessions are all freed after expiry", opts, async () => {
  await withHttp(async (server) => {
    const N = 2_000;
    let peak = 0;
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () =>
        fetch(`${server.url}/mcp`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: ACCEPT },
          body: JSON.stringify(INIT),
        }).then((r) => r.body?.cancel())));
      peak = Math.max(peak, (await health(server.url)).sessions as number);
    }
    // Opening takes seconds; the earliest may already have expired, but most are live at once.
    assert.ok(peak >= N / 2, `peak of ${peak} live sessions`);
    const deadline = performance.now() + 15_000;
    while ((await health(server.url)).sessions !== 0) {
      assert.ok(performance.now() < deadline, "sessions were not freed");
      await new Promise((r) => setTimeout(r, 200));
    }
  }, { env: { MCP_SESSION_IDLE_MS: "6000", MCP_MAX_SESSIONS: "5000", MCP_RATE_LIMIT: "0" } });
});

Deno.test(
  "http: a client reconnecting with Last-Event-ID gets the events it missed",
  opts,
  async () => {
    await withHttp(async (server) => {
      const session = await rawInit(server.url);
      const words = Array.from({ length: 12 }, (_, i) => `r${i}`).join(" ");
      const controller = new AbortController();
      const response = await fetch(`${server.url}/mcp`, {
        method: "POST",
        signal: controller.signal,
        headers: { "content-type": "application/json", accept: ACCEPT, "mcp-session-id": session },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 7,
          method: "tools/call",
          params: {
            name: "openclaw_chat",
            arguments: { message: words },
            _meta: { progressToken: "pt" },
          },
        }),
      });
      // Read until the first progress event, then drop the connection.
      const parser = new SseParser();
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let lastId = "";
      while (!lastId) {
        const { value, done } = await reader.read();
        assert.ok(!done, "stream ended before any event");
        for (const event of parser.push(value)) {
          const idLine = /^id: (.+)$/m.exec(value);
          if (event.data.includes("notifications/progress") && idLine) lastId = idLine[1];
        }
      }
      controller.abort();
      await reader.cancel().catch(() => {});
      await new Promise((r) => setTimeout(r, 1_500)); // the call finishes meanwhile
      const resumed = await fetch(`${server.url}/mcp`, {
        method: "GET",
        headers: {
          accept: "text/event-stream",
          "mcp-session-id": session,
          "last-event-id": lastId,
        },
      });
      assert.equal(resumed.status, 200);
      const replayParser = new SseParser();
      const replayReader = resumed.body!.pipeThrough(new TextDecoderStream()).getReader();
      let final: { id?: number; result?: { structuredContent?: { reply?: string } } } | undefined;
      while (!final) {
        const { value, done } = await replayReader.read();
        assert.ok(!done, "replay ended before the result");
        for (const event of replayParser.push(value)) {
          if (!event.data) continue;
          const message = JSON.parse(event.data);
          if (message.id === 7) final = message;
        }
      }
      await replayReader.cancel().catch(() => {});
      assert.equal(final.result?.structuredContent?.reply, `echo: ${words}`);
    }, { chunkDelayMs: 80 });
  },
);

Deno.test(
  "http: stateless mode answers JSON per request; GET and DELETE are 405",
  opts,
  async () => {
    await withHttp(async (server) => {
      const { client, transport } = await connect(server.url);
      assert.equal(transport.sessionId, undefined, "no session in stateless mode");
      const chat = await client.callTool({
        name: "openclaw_chat",
        arguments: { message: "nosession" },
      });
      assert.equal((chat.structuredContent as { reply: string }).reply, "echo: nosession");
      const list = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: ACCEPT },
        body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
      });
      assert.match(list.headers.get("content-type") ?? "", /application\/json/);
      assert.equal((await list.json()).result.tools.length, 12);
      for (const method of ["GET", "DELETE"]) {
        const r = await fetch(`${server.url}/mcp`, { method, headers: { accept: ACCEPT } });
        assert.equal(r.status, 405, method);
        await r.body?.cancel();
      }
      assert.equal((await health(server.url)).mode, "stateless");
      await client.close();
    }, { args: ["--stateless"] });
  },
);

Deno.test("http: SIGTERM stops the server cleanly with a call in flight", opts, async () => {
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "hang" };
  const server = await startHttp({ env: gatewayEnv(gateway.url) });
  try {
    const { client } = await connect(server.url);
    const pending = client.callTool({ name: "openclaw_chat", arguments: { message: "hang" } });
    pending.catch(() => {});
    await gateway.waitFor(() => gateway.chats.length === 1);
    const started = performance.now();
    const status = await server.stop();
    assert.equal(status.code, 0);
    assert.ok(performance.now() - started < 10_000, "shut down within 10 s");
    await gateway.waitFor(() => gateway.chats[0].aborted);
  } finally {
    await gateway.close();
  }
});

Deno.test(
  "http: /ready is 200 with a healthy gateway and 503 with reasons without",
  opts,
  async () => {
    await withHttp(async (server, gateway) => {
      const ready = await fetch(`${server.url}/ready`);
      assert.equal(ready.status, 200);
      const body = await ready.json();
      assert.equal(body.status, "ready");
      assert.equal(body.gateways[0].status, "ok");
      gateway.fault = { kind: "status", status: 401 };
      // A probe answers /ready for READY_PROBE_TTL_MS; the next one sees the fault.
      await new Promise((r) => setTimeout(r, READY_PROBE_TTL_MS));
      const notReady = await fetch(`${server.url}/ready`);
      assert.equal(notReady.status, 503);
      const reasons = await notReady.json();
      assert.deepEqual(reasons.reasons, ["no gateway instance is healthy"]);
      assert.equal(reasons.gateways[0].status, "unauthorized");
      const health = await (await fetch(`${server.url}/health`)).json();
      assert.deepEqual(
        { ...health, sessions: undefined },
        {
          status: "ok",
          version: health.version,
          transport: "http",
          mode: "stateful",
          auth: "none",
          sessions: undefined,
        },
      );
    });
  },
);

Deno.test(
  "http: SIGTERM is bounded even by a client that never finishes its request",
  opts,
  async () => {
    const server = await startHttp();
    const { hostname, port } = new URL(server.url);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    try {
      // Headers and part of a body, then silence: the request can never complete.
      await conn.write(new TextEncoder().encode(
        `POST /mcp HTTP/1.1\r\nHost: ${hostname}:${port}\r\ncontent-type: application/json\r\n` +
          `accept: application/json, text/event-stream\r\ncontent-length: 1000\r\n\r\n{"jsonrpc":`,
      ));
      await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      const status = await server.stop();
      const seconds = (performance.now() - started) / 1000;
      assert.equal(status.code, 0);
      assert.ok(seconds < 13, `stopped after ${seconds.toFixed(1)} s (bound: 10 s)`);
    } finally {
      conn.close();
    }
  },
);
