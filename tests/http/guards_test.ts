/** Every HTTP guard against the spawned server: each refusal, and what must still pass. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TestGateway } from "../../testing/test_gateway.ts";
import {
  gatewayEnv,
  type HttpServerProcess,
  INITIALIZE,
  runMain,
  startHttp,
} from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ACCEPT = "application/json, text/event-stream";
const INIT = JSON.stringify(INITIALIZE);

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT, ...headers },
    body,
  });
}

async function serve(
  env: Record<string, string>,
  fn: (server: HttpServerProcess, gateway: TestGateway) => Promise<void>,
  args: string[] = [],
) {
  const gateway = await TestGateway.start();
  const server = await startHttp({ args, env: { ...gatewayEnv(gateway.url), ...env } });
  try {
    await fn(server, gateway);
  } finally {
    await server.stop();
    await gateway.close();
  }
}

/** One HTTP/1.1 request over a raw socket, so Host can be anything (fetch sets its own). */
async function rawStatus(url: string, path: string, host: string): Promise<number> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const request = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\n` +
      `accept: ${ACCEPT}\r\ncontent-length: ${new TextEncoder().encode(INIT).length}\r\n` +
      `connection: close\r\n\r\n${INIT}`;
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(256);
    const n = await conn.read(buffer);
    const head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  } finally {
    conn.close();
  }
}

async function expectJson(response: Response, status: number): Promise<Record<string, unknown>> {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return await response.json();
}

Deno.test("guards: Host and Origin checks (DNS-rebinding protection)", opts, async () => {
  await serve({
    MCP_ALLOWED_HOSTS: "mcp.internal",
    MCP_ALLOWED_ORIGINS: "https://app.example.com",
    MCP_ISSUER_URL: "https://public.example.org",
  }, async (server) => {
    const port = new URL(server.url).port;
    assert.equal(await rawStatus(server.url, "/mcp", `evil.example:${port}`), 403);
    assert.equal(await rawStatus(server.url, "/health", "evil.example"), 403, "every route");
    assert.equal(await rawStatus(server.url, "/mcp", `attacker.localhost.evil:${port}`), 403);
    for (
      const host of [
        `localhost:${port}`,
        `127.0.0.1:${port}`,
        `mcp.internal:${port}`,
        "public.example.org",
      ]
    ) {
      assert.equal(await rawStatus(server.url, "/mcp", host), 200, host);
    }
    const evil = await expectJson(
      await post(server.url, INIT, { origin: "https://evil.example" }),
      403,
    );
    assert.match(JSON.stringify(evil), /Invalid Origin header/);
    for (
      const origin of [
        "http://localhost:6274",
        "https://app.example.com",
        "https://public.example.org",
      ]
    ) {
      const r = await post(server.url, INIT, { origin });
      assert.equal(r.status, 200, origin);
      await r.body?.cancel();
    }
  });
});

Deno.test("guards: CORS preflight from CORS_ORIGINS, wildcard subdomains", opts, async () => {
  await serve({ CORS_ORIGINS: "https://claude.ai,*.example.com" }, async (server) => {
    for (const origin of ["https://claude.ai", "https://app.example.com"]) {
      const r = await fetch(`${server.url}/mcp`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, authorization, mcp-protocol-version",
        },
      });
      assert.equal(r.status, 204, origin);
      assert.equal(r.headers.get("access-control-allow-origin"), origin);
      assert.match(r.headers.get("access-control-allow-headers") ?? "", /Authorization/);
      assert.match(r.headers.get("access-control-allow-headers") ?? "", /Mcp-Protocol-Version/);
      assert.match(r.headers.get("access-control-allow-headers") ?? "", /Last-Event-ID/);
      await r.body?.cancel();
    }
    const actual = await post(server.url, INIT, { origin: "https://claude.ai" });
    assert.match(actual.headers.get("access-control-expose-headers") ?? "", /Mcp-Session-Id/);
    await actual.body?.cancel();
    const other = await fetch(`${server.url}/mcp`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(other.status, 403);
    await other.body?.cancel();
  });
});

Deno.test(
  "guards: body limit 413 JSON, bad JSON 400 -32700, wrong type 415, wrong method 405, 404 JSON",
  opts,
  async () => {
    await serve({}, async (server) => {
      const big = await expectJson(await post(server.url, "x".repeat(5 * 1024 * 1024)), 413);
      assert.equal((big.error as { code: number }).code, -32000);
      const bad = await expectJson(await post(server.url, "{not json"), 400);
      assert.equal((bad.error as { code: number }).code, -32700);
      const type = await expectJson(
        await post(server.url, INIT, { "content-type": "text/plain" }),
        415,
      );
      assert.match(JSON.stringify(type), /Content-Type must be application\/json/);
      const put = await fetch(`${server.url}/mcp`, { method: "PUT", body: "{}" });
      await expectJson(put, 405);
      const missing = await expectJson(await fetch(`${server.url}/elsewhere`), 404);
      assert.equal(missing.error, "not_found");
      for (const path of ["/sse", "/messages"]) {
        const gone = await expectJson(await fetch(`${server.url}${path}`), 410);
        assert.match(String(gone.message), /\/mcp/);
      }
    });
  },
);

Deno.test(
  "guards: a 100,000-character message in any script fits the body limit",
  opts,
  async () => {
    await serve({}, async (server, gateway) => {
      const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
      const client = new Client({ name: "big", version: "0" });
      await client.connect(transport);
      // Cyrillic: 2 bytes each in UTF-8; send it \u-escaped, 6 bytes each.
      const message = "ж".repeat(100_000);
      const result = await client.callTool({ name: "openclaw_chat", arguments: { message } });
      assert.equal(result.isError, undefined);
      const escaped = JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "openclaw_chat", arguments: { message } },
      }).replace(/ж/g, "\\u0436");
      assert.ok(escaped.length > 600_000);
      const r = await post(server.url, escaped, {
        "mcp-session-id": transport.sessionId!,
        "mcp-protocol-version": "2025-11-25",
      });
      assert.equal(r.status, 200);
      assert.match(await r.text(), /"id":9/);
      assert.equal(gateway.chats.length, 2);
      await client.close();
    });
  },
);

Deno.test("guards: the rate limit answers 429 with Retry-After", opts, async () => {
  await serve({ MCP_RATE_LIMIT: "5" }, async (server) => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 7; i++) {
      const r = await post(server.url, INIT);
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after");
      await r.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200, "health is not rate limited");
    await health.body?.cancel();
  });
});

Deno.test(
  "guards: the rate limit keys on the verified token, not the header's spelling",
  opts,
  async () => {
    await serve(
      { MCP_AUTH_TOKENS: "token-one-0123456789", MCP_RATE_LIMIT: "5" },
      async (server) => {
        // Each request spells the header differently (more spaces after "Bearer").
        const statuses: number[] = [];
        for (let i = 1; i <= 15; i++) {
          const r = await post(server.url, INIT, {
            authorization: `Bearer${" ".repeat(i)}token-one-0123456789`,
          });
          statuses.push(r.status);
          if (r.status === 429) {
            assert.ok(Number(r.headers.get("retry-after")) >= 1);
            const body = await expectJson(r, 429);
            assert.equal((body.error as { code: number }).code, -32000);
          } else await r.body?.cancel();
        }
        assert.ok(statuses.filter((s) => s === 200).length <= 5, statuses.join(","));
        assert.deepEqual(statuses.slice(5), Array(10).fill(429), statuses.join(","));
      },
    );
  },
);

Deno.test(
  "guards: wrong tokens are throttled per address before auth, however they are spelled",
  opts,
  async () => {
    await serve(
      { MCP_AUTH_TOKENS: "token-one-0123456789", MCP_RATE_LIMIT: "5" },
      async (server) => {
        const statuses: number[] = [];
        for (let i = 1; i <= 15; i++) {
          const r = await post(server.url, INIT, { authorization: `Bearer wrong-${i}` });
          statuses.push(r.status);
          await r.body?.cancel();
        }
        assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(10).fill(429)]);
      },
    );
  },
);

Deno.test(
  "guards: per-address limits count an IPv6 /64 as one address (a host holds the whole /64)",
  opts,
  async () => {
    // TRUST_PROXY=1: this test is the proxy and writes the client address.
    await serve(
      { MCP_AUTH_TOKENS: "token-one-0123456789", MCP_RATE_LIMIT: "5", TRUST_PROXY: "1" },
      async (server) => {
        const statuses: number[] = [];
        for (let i = 1; i <= 15; i++) {
          const r = await post(server.url, INIT, {
            authorization: `Bearer wrong-${i}`,
            "x-forwarded-for": `2001:db8:1:2::${i.toString(16)}`,
          });
          statuses.push(r.status);
          await r.body?.cancel();
        }
        // Before: every address of the /64 had a fresh budget (15 x 401).
        assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(10).fill(429)]);
        const other = await post(server.url, INIT, {
          authorization: "Bearer wrong-other",
          "x-forwarded-for": "2001:db8:1:3::1",
        });
        assert.equal(other.status, 401, "another /64 has its own budget");
        await other.body?.cancel();
      },
    );
  },
);

Deno.test(
  "guards: each message of a JSON-RPC batch counts against the rate limit",
  opts,
  async () => {
    await serve({ MCP_RATE_LIMIT: "150" }, async (server) => {
      const init = await post(server.url, INIT);
      const session = init.headers.get("mcp-session-id")!;
      await init.body?.cancel();
      const headers = { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
      const initialized = await post(
        server.url,
        JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
        headers,
      );
      await initialized.body?.cancel();
      const batch = (from: number, n: number) =>
        JSON.stringify(
          Array.from({ length: n }, (_, i) => ({ jsonrpc: "2.0", id: from + i, method: "ping" })),
        );
      // 148 tokens left: a batch of 100 passes and takes 100.
      const first = await post(server.url, batch(100, 100), headers);
      assert.equal(first.status, 200);
      assert.equal((await first.text()).match(/"result"/g)?.length, 100);
      // 48 left: the next batch of 100 is refused whole, as one JSON-RPC error with Retry-After.
      const second = await post(server.url, batch(200, 100), headers);
      const refused = await expectJson(second, 429);
      assert.equal((refused.error as { code: number }).code, -32000);
      assert.ok(Number(second.headers.get("retry-after")) >= 1);
      // The refusal took nothing: 48 single calls still pass before one is refused. The bucket
      // refills 150 per minute (one per 400 ms), so a slow machine may earn a few more meanwhile.
      const started = performance.now();
      let passed = 0;
      let status = 200;
      while (status === 200 && passed < 100) {
        const r = await post(server.url, batch(300 + passed, 1).slice(1, -1), headers);
        status = r.status;
        await r.body?.cancel();
        if (status === 200) passed++;
      }
      const refilled = Math.ceil((performance.now() - started) / 400);
      assert.equal(status, 429, "single calls are refused once the bucket is empty");
      assert.ok(passed >= 48, `the refused batch took nothing (${passed} singles passed)`);
      assert.ok(passed <= 48 + refilled, `${passed} singles passed; 48 + ${refilled} refilled`);
    });
  },
);

Deno.test(
  "guards: static bearer tokens; 401 with WWW-Authenticate; tasks per token",
  opts,
  async () => {
    await serve(
      { MCP_AUTH_TOKENS: "token-one-0123456789,token-two-0123456789" },
      async (server) => {
        const none = await post(server.url, INIT);
        assert.equal(none.status, 401);
        assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
        await none.body?.cancel();
        const wrong = await post(server.url, INIT, { authorization: "Bearer token-three" });
        assert.equal(wrong.status, 401);
        assert.match(wrong.headers.get("www-authenticate") ?? "", /invalid_token/);
        await wrong.body?.cancel();

        const connect = async (token: string) => {
          const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          });
          const client = new Client({ name: token, version: "0" });
          await client.connect(transport);
          return { client, transport };
        };
        const one = await connect("token-one-0123456789");
        const two = await connect("token-two-0123456789");
        const made = await one.client.callTool({
          name: "openclaw_chat_async",
          arguments: { message: "mine" },
        });
        const id = (made.structuredContent as { task_id: string }).task_id;
        const seen = await two.client.callTool({
          name: "openclaw_task_status",
          arguments: { task_id: id },
        });
        assert.equal(
          (seen.structuredContent as { error: { code: string } }).error.code,
          "task_not_found",
        );
        const listed = await two.client.callTool({ name: "openclaw_task_list", arguments: {} });
        assert.deepEqual((listed.structuredContent as { tasks: unknown[] }).tasks, []);
        const mine = await one.client.callTool({
          name: "openclaw_task_status",
          arguments: { task_id: id },
        });
        assert.equal((mine.structuredContent as { task_id: string }).task_id, id);

        // A session belongs to the token that opened it.
        const hijack = await post(
          server.url,
          JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/list" }),
          {
            authorization: "Bearer token-two-0123456789",
            "mcp-session-id": one.transport.sessionId!,
          },
        );
        assert.equal(hijack.status, 404);
        await hijack.body?.cancel();
        assert.doesNotMatch(server.stderr(), /token-one|token-two/, "tokens never reach the log");
        await one.client.close();
        await two.client.close();
      },
      ["--debug"],
    );
  },
);

Deno.test("guards: a non-loopback bind without auth is refused", opts, async () => {
  const run = await runMain(["--transport", "http", "--host", "0.0.0.0", "--port", "0"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /not a loopback address and no authentication is configured/);
  assert.match(run.stderr, /--allow-insecure/);
});
