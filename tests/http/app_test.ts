/**
 * The HTTP app in process (real Hono app on a loopback port, real bridge,
 * loopback test gateway), where the test needs to look inside: a session's
 * event-store bytes, or a clock it controls.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { loadConfig } from "../../src/config.ts";
import { startBridge } from "../../src/bridge.ts";
import { createApp, type HttpApp, READY_PROBE_TTL_MS } from "../../src/http/app.ts";
import { EVENT_BYTES_PER_SESSION } from "../../src/http/event_store.ts";
import { createLogger, silentLogger } from "../../src/log.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, INITIALIZE } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

interface InProcess {
  url: string;
  http: HttpApp;
  gateway: TestGateway;
  clock: { t: number };
}

async function withApp(
  fn: (app: InProcess) => Promise<void>,
  options: { env?: Record<string, string>; chunkDelayMs?: number; realClock?: boolean } = {},
) {
  const gateway = await TestGateway.start({ chunkDelayMs: options.chunkDelayMs });
  const command = loadConfig({
    args: ["--transport", "http"],
    env: { ...gatewayEnv(gateway.url), MCP_RATE_LIMIT: "0", ...(options.env ?? {}) },
  });
  if (command.kind !== "run") throw new Error("expected a run command");
  const config = command.config;
  const kv = await Deno.openKv(":memory:");
  const bridge = startBridge(config, { kv, log: silentLogger });
  const clock = { t: Date.now() };
  let url = "";
  const http = await createApp({
    config,
    createServer: bridge.serverFor,
    gateways: bridge.gateways,
    kv,
    log: silentLogger,
    issuer: () => url,
    now: options.realClock ? Date.now : () => clock.t,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => http.app.fetch(request, info),
  );
  url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  try {
    await fn({ url, http, gateway, clock });
  } finally {
    await http.sessions?.close();
    bridge.shutdown.abort();
    await server.shutdown();
    await bridge.stop();
    kv.close();
    await gateway.close();
  }
}

Deno.test(
  "app: 200 calls with progress in one session keep the event store under its byte bound",
  opts,
  async () => {
    await withApp(async ({ url, http }) => {
      const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
      const client = new Client({ name: "memory", version: "0" });
      await client.connect(transport);
      // ~20 KB replies streamed in 10 chunks: each call stores progress and a ~40 KB result.
      const message = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(2_000)).join(" ");
      let progressEvents = 0;
      let peak = 0;
      const calls = 200;
      for (let i = 0; i < calls; i += 20) {
        await Promise.all(Array.from({ length: 20 }, async (_, j) => {
          const result = await client.callTool(
            { name: "openclaw_chat", arguments: { message: `${i + j} ${message}` } },
            undefined,
            { onprogress: () => progressEvents++ },
          );
          assert.equal(result.isError, undefined);
        }));
        peak = Math.max(peak, http.sessions!.eventBytes(transport.sessionId!)!);
      }
      // Unbounded, the store held 8.5 MB here (10.6 MB while progress carried the whole reply).
      assert.ok(progressEvents >= calls, `${progressEvents} progress events`);
      assert.ok(peak <= EVENT_BYTES_PER_SESSION, `peak ${peak} > ${EVENT_BYTES_PER_SESSION}`);
      await client.close();
    }, { chunkDelayMs: 30, realClock: true });
  },
);

Deno.test("app: 50 /ready hits cost one gateway probe per window", opts, async () => {
  await withApp(async ({ url, gateway, clock }) => {
    const probes = () => gateway.requests.filter((r) => r.path === "/readyz").length;
    const hit = async () => {
      const response = await fetch(`${url}/ready`);
      await response.body?.cancel();
      return response.status;
    };
    // Concurrent hits share the probe in flight; later ones reuse its result.
    const statuses = await Promise.all(Array.from({ length: 25 }, hit));
    for (let i = 0; i < 25; i++) statuses.push(await hit());
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.equal(probes(), 1, `${probes()} probes for 50 hits`);

    gateway.fault = { kind: "status", status: 401 };
    clock.t += READY_PROBE_TTL_MS - 1;
    assert.equal(await hit(), 200, "still the cached verdict");
    assert.equal(probes(), 1);
    clock.t += 1;
    assert.equal(await hit(), 503, "a new window probes again and sees the fault");
    assert.equal(probes(), 2);
  });
});

Deno.test("app: a per-principal session cap not below the global one is warned about at start", async () => {
  // MCP_MAX_SESSIONS lowered, the per-principal default (100) left: one token could take
  // every session and the others get 503 (issue 11 item 6, again by configuration).
  for (const [max, warned] of [["20", true], ["1000", false]] as const) {
    const command = loadConfig({
      args: ["--transport", "http"],
      env: {
        ...gatewayEnv("http://127.0.0.1:9"),
        MCP_AUTH_TOKENS: "token-one-0123456789,token-two-0123456789",
        MCP_MAX_SESSIONS: max,
      },
    });
    if (command.kind !== "run") throw new Error("expected a run command");
    const kv = await Deno.openKv(":memory:");
    const bridge = startBridge(command.config, { kv, log: silentLogger });
    const lines: string[] = [];
    const http = await createApp({
      config: command.config,
      createServer: bridge.serverFor,
      gateways: bridge.gateways,
      kv,
      log: createLogger({ write: (line) => lines.push(line) }),
      issuer: () => "http://127.0.0.1:1",
    });
    await http.sessions?.close();
    bridge.shutdown.abort();
    await bridge.stop();
    kv.close();
    const warning = lines.find((l) => l.includes("sessions_per_principal_not_below_total"));
    assert.equal(Boolean(warning), warned, lines.join("\n"));
    if (warning) assert.match(warning, /MCP_MAX_SESSIONS_PER_PRINCIPAL/);
    assert.ok(!lines.join("").includes("0123456789"), "no token in the logs");
  }
});

Deno.test("app: errors outside /mcp are {error: code, message, hint} with the code's status; /mcp keeps JSON-RPC", async () => {
  const command = loadConfig({
    args: ["--transport", "http"],
    env: { ...gatewayEnv("http://127.0.0.1:9"), MCP_RATE_LIMIT: "0" },
  });
  if (command.kind !== "run") throw new Error("expected a run command");
  const kv = await Deno.openKv(":memory:");
  const bridge = startBridge(command.config, { kv, log: silentLogger });
  const http = await createApp({
    config: command.config,
    createServer: () => {
      throw new Error("secret detail of a crash");
    },
    // /ready reaches for the gateways first: a crash there lands in onError.
    gateways: {
      list: () => {
        throw new Error("secret detail of a crash");
      },
    } as unknown as typeof bridge.gateways,
    kv,
    log: silentLogger,
    issuer: () => "http://127.0.0.1:1",
  });
  const request = (path: string, init: RequestInit = {}) =>
    http.app.request(`http://127.0.0.1${path}`, {
      ...init,
      headers: { host: "127.0.0.1", ...(init.headers ?? {}) },
    });
  const errorBody = async (response: Response, status: number) => {
    assert.equal(response.status, status);
    const body = await response.json();
    assert.deepEqual(Object.keys(body).sort(), ["error", "hint", "message"]);
    assert.equal(typeof body.message, "string");
    assert.ok(body.hint.length > 0, "a hint says what to do");
    return body;
  };
  try {
    const missing = await errorBody(await request("/nope"), 404);
    assert.equal(missing.error, "not_found");
    assert.match(missing.message, /GET \/nope/);
    for (const path of ["/sse", "/messages"]) {
      const gone = await errorBody(await request(path, { method: "POST" }), 410);
      assert.equal(gone.error, "gone");
      assert.match(gone.message, /\/mcp/);
    }
    const crashed = await errorBody(await request("/ready"), 500);
    assert.equal(crashed.error, "internal");
    assert.doesNotMatch(JSON.stringify(crashed), /secret detail/);
    const host = await errorBody(
      await request("/health", { headers: { host: "evil.example" } }),
      403,
    );
    assert.equal(host.error, "forbidden");
    assert.match(host.message, /Invalid Host header/);
    assert.match(host.hint, /MCP_ALLOWED_HOSTS/);

    // /mcp answers in JSON-RPC, the language MCP clients read.
    const mcpHost = await request("/mcp", { method: "POST", headers: { host: "evil.example" } });
    assert.equal(mcpHost.status, 403);
    assert.deepEqual((await mcpHost.json()).error, {
      code: -32000,
      message: "Invalid Host header: add the name to MCP_ALLOWED_HOSTS to accept it",
    });
    const mcpCrash = await request("/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(INITIALIZE),
    });
    const rpc = await mcpCrash.json();
    assert.equal(mcpCrash.status, 500);
    assert.equal(rpc.jsonrpc, "2.0");
    assert.equal(rpc.error.code, -32603);
    assert.doesNotMatch(JSON.stringify(rpc), /secret detail/);
  } finally {
    await http.sessions?.close();
    bridge.shutdown.abort();
    await bridge.stop();
    kv.close();
  }
});
