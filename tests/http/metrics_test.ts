/**
 * `/metrics` end to end: the spawned server, a loopback test gateway, the
 * v1 SDK client making real tool calls, and each scrape read by an
 * independent Prometheus text parser. Counters must move by exactly the
 * calls made; the access rules hold for every kind of credential.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { VERSION } from "../../src/version.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, type HttpServerProcess, startHttp } from "../../testing/spawn.ts";
import { authorize, authorizeUrl, mcpStatus, pkce, redirectFrom } from "../helpers/oauth.ts";
import { parseMetrics, type Scrape } from "../helpers/prometheus.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const METRICS_TOKEN = "metrics-token-0123456789abcdef";
const STATIC_TOKEN = "static-token-0123456789abcdef";

async function withServer(
  env: Record<string, string>,
  fn: (server: HttpServerProcess, gateway: TestGateway) => Promise<void>,
) {
  const gateway = await TestGateway.start();
  const server = await startHttp({ env: { ...gatewayEnv(gateway.url), ...env } });
  try {
    await fn(server, gateway);
  } finally {
    const status = await server.stop();
    await gateway.close();
    assert.equal(status.code, 0, `server exit: ${server.stderr().slice(-500)}`);
  }
  assert.doesNotMatch(server.stderr(), /"level":"error"|\bat .*\.ts:\d+/, "no error, no stack");
}

function getMetrics(url: string, token?: string): Promise<Response> {
  return fetch(`${url}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

async function scrape(url: string, token?: string): Promise<Scrape> {
  const response = await getMetrics(url, token);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return await parseMetrics(await response.text());
}

async function connect(url: string, token: string) {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "metrics-tests", version: "0" });
  await client.connect(transport);
  return { client, transport };
}

/** The error code of a tool result, or "ok". */
function outcome(result: Record<string, unknown>): string {
  if (!result.isError) return "ok";
  return (result.structuredContent as { error: { code: string } }).error.code;
}

Deno.test(
  "metrics: tool calls, gateway requests, tasks and sessions move by exactly the calls made",
  opts,
  async () => {
    await withServer(
      { MCP_AUTH_TOKENS: STATIC_TOKEN, MCP_METRICS_TOKEN: METRICS_TOKEN },
      async (server, gateway) => {
        const url = server.url;
        const before = await scrape(url, METRICS_TOKEN);
        const { client, transport } = await connect(url, STATIC_TOKEN);
        assert.equal((await scrape(url, METRICS_TOKEN)).value("openclaw_mcp_sessions_open"), 1);

        const chat = (args: Record<string, unknown>) =>
          client.callTool({ name: "openclaw_chat", arguments: args });
        assert.equal(outcome(await chat({ message: "one" })), "ok");
        assert.equal(outcome(await chat({ message: "two" })), "ok");
        assert.equal(outcome(await chat({})), "invalid_argument");
        gateway.fault = { kind: "status", status: 401 };
        assert.equal(outcome(await chat({ message: "refused" })), "gateway_unauthorized");
        gateway.fault = { kind: "status", status: 500 };
        assert.equal(outcome(await chat({ message: "broken" })), "gateway_error");
        gateway.fault = { kind: "none" };

        const submitted = await client.callTool({
          name: "openclaw_chat_async",
          arguments: { message: "in the background" },
        });
        assert.equal(outcome(submitted), "ok");
        const taskId = (submitted.structuredContent as { task_id: string }).task_id;
        let polls = 0;
        for (let status = ""; status !== "completed"; polls++) {
          assert.ok(polls < 100, "the task completes");
          if (polls) await new Promise((r) => setTimeout(r, 50));
          const got = await client.callTool({
            name: "openclaw_task_status",
            arguments: { task_id: taskId },
          });
          status = (got.structuredContent as { status: string }).status;
        }
        await transport.terminateSession();
        await client.close();

        // Task counts come from KV, cached for 5 s: scrape until the completed task shows.
        let after = await scrape(url, METRICS_TOKEN);
        for (let i = 0; after.value("openclaw_mcp_tasks", { status: "completed" }) === 0; i++) {
          assert.ok(i < 40, "the task count shows within the cache window");
          await new Promise((r) => setTimeout(r, 250));
          after = await scrape(url, METRICS_TOKEN);
        }

        const delta = (get: (s: Scrape) => number) => get(after) - get(before);
        const calls = (tool: string, outcome: string) =>
          delta((s) => s.value("openclaw_mcp_tool_calls_total", { tool, outcome }));
        assert.equal(calls("openclaw_chat", "ok"), 2);
        assert.equal(calls("openclaw_chat", "invalid_argument"), 1);
        assert.equal(calls("openclaw_chat", "gateway_unauthorized"), 1);
        assert.equal(calls("openclaw_chat", "gateway_error"), 1);
        assert.equal(calls("openclaw_chat_async", "ok"), 1);
        assert.equal(calls("openclaw_task_status", "ok"), polls);
        const allCalls = after.family("openclaw_mcp_tool_calls_total").data
          .reduce((sum, d) => sum + (d.value ?? 0), 0);
        assert.equal(allCalls, 6 + polls, "no other call was counted");
        assert.equal(
          delta((s) =>
            s.count("openclaw_mcp_tool_call_duration_seconds", { tool: "openclaw_chat" })
          ),
          4,
          "every openclaw_chat call that ran, not the refused arguments",
        );

        const requests = (endpoint: string, status: string) =>
          delta((s) =>
            s.value("openclaw_mcp_gateway_requests_total", {
              instance: "default",
              endpoint,
              status,
            })
          );
        assert.equal(requests("/v1/chat/completions", "200"), 3, "two chats and the task");
        assert.equal(requests("/v1/chat/completions", "401"), 1);
        assert.equal(requests("/v1/chat/completions", "500"), 1);
        const counted = after.family("openclaw_mcp_gateway_requests_total").data
          .reduce((sum, d) => sum + (d.value ?? 0), 0);
        assert.equal(counted, gateway.requests.length, "every request the gateway saw, no more");

        assert.equal(after.value("openclaw_mcp_tasks", { status: "completed" }), 1);
        assert.equal(after.value("openclaw_mcp_tasks", { status: "pending" }), 0);
        assert.equal(after.value("openclaw_mcp_tasks", { status: "running" }), 0);
        const instance = { instance: "default" };
        assert.equal(delta((s) => s.count("openclaw_mcp_task_queue_wait_seconds", instance)), 1);
        assert.equal(delta((s) => s.count("openclaw_mcp_task_run_duration_seconds", instance)), 1);
        assert.equal(after.value("openclaw_mcp_sessions_open"), 0, "the session was closed");
      },
    );
  },
);

Deno.test(
  "metrics: the metrics token and a static token read /metrics; nothing else does",
  opts,
  async () => {
    await withServer(
      { MCP_AUTH_TOKENS: STATIC_TOKEN, MCP_METRICS_TOKEN: METRICS_TOKEN },
      async (server) => {
        const url = server.url;
        for (const token of [undefined, "wrong-token-0123456789abcdef"]) {
          const refused = await getMetrics(url, token);
          assert.equal(refused.status, 401, `token ${token}`);
          assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer\b/);
          const body = await refused.text();
          assert.equal(JSON.parse(body).error, "unauthorized");
          assert.doesNotMatch(body, /wrong-token/, "the token is never echoed");
        }
        assert.equal((await getMetrics(url, METRICS_TOKEN)).status, 200);
        assert.equal((await getMetrics(url, STATIC_TOKEN)).status, 200);
        assert.equal(
          (await mcpStatus(url, METRICS_TOKEN)).status,
          401,
          "the metrics token is not an MCP credential",
        );
        assert.doesNotMatch(server.stderr(), /0123456789abcdef/, "no token in the log");
      },
    );
  },
);

Deno.test(
  "metrics: with OAuth on and no metrics token, an OAuth access token is refused",
  opts,
  async () => {
    const client = { id: "static-client", secret: "s".repeat(40) };
    const callback = "http://127.0.0.1:9/callback";
    await withServer({
      AUTH_ENABLED: "true",
      MCP_CLIENT_ID: client.id,
      MCP_CLIENT_SECRET: client.secret,
      MCP_REDIRECT_URIS: callback,
    }, async (server) => {
      const url = server.url;
      const { verifier, challenge } = await pkce();
      const back = redirectFrom(
        await authorize(authorizeUrl(url, {
          response_type: "code",
          client_id: client.id,
          redirect_uri: callback,
          code_challenge: challenge,
          code_challenge_method: "S256",
        })),
      );
      assert.ok(back.code);
      const response = await fetch(`${url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: back.code,
          redirect_uri: callback,
          code_verifier: verifier,
          client_id: client.id,
          client_secret: client.secret,
        }),
      });
      const { access_token: accessToken } = await response.json();
      assert.equal((await mcpStatus(url, accessToken)).status, 200, "a valid access token");
      const refused = await getMetrics(url, accessToken);
      assert.equal(refused.status, 401);
      assert.match((await refused.json()).hint, /OAuth access tokens are not accepted/);
      assert.equal((await getMetrics(url)).status, 401, "not open to loopback with OAuth on");
    });
  },
);

Deno.test(
  "metrics: without any auth, a loopback client of a loopback bind reads /metrics",
  opts,
  async () => {
    await withServer({}, async (server) => {
      const s = await scrape(server.url);
      assert.equal(s.value("openclaw_mcp_build_info", { version: VERSION }), 1);
      assert.equal(s.value("openclaw_mcp_sessions_open"), 0);
    });
  },
);
