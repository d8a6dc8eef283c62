/**
 * Out of file handles: the spawned server runs under `ulimit -n 256` and
 * 300 idle TCP connections use up its handles, which makes Deno's listener
 * fail (EMFILE). The server must log it, keep running, listen again once
 * the connections are gone, and answer /health and an MCP initialize.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, INITIALIZE, startHttp } from "../../testing/spawn.ts";
import { SHUTDOWN_MS } from "../../src/http/serve.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FILE_LIMIT = 256;
const CONNECTIONS = 300;

/** Polls `probe` until it returns a value, for at most `ms`. */
async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number) {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms`);
}

/** The status of a request, or undefined if it failed (refused, reset, timed out). */
async function statusOf(url: string, init: RequestInit = {}): Promise<Response | undefined> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
  } catch {
    return undefined;
  }
}

/** Opens idle connections until the server's file handles run out; returns them. */
async function exhaustHandles(server: { url: string; stderr: () => string }) {
  const { hostname, port } = new URL(server.url);
  const connections: Deno.TcpConn[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    try {
      connections.push(await Deno.connect({ hostname, port: Number(port) }));
    } catch {
      // Refused while the listener is down: what we came to cause.
    }
  }
  await waitFor(
    () => server.stderr().includes("Too many open files") || undefined,
    5_000,
  ).catch(() => assert.fail(`the file handles never ran out:\n${server.stderr()}`));
  return connections;
}

Deno.test(
  `reliability: ${CONNECTIONS} idle connections exhaust ${FILE_LIMIT} file handles; the server survives`,
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const server = await startHttp({ env: gatewayEnv(gateway.url), fileLimit: FILE_LIMIT });
    const connections: Deno.TcpConn[] = [];
    try {
      connections.push(...await exhaustHandles(server));
      for (const conn of connections.splice(0)) conn.close();

      const health = await waitFor(async () => {
        assert.equal(server.exited(), undefined, `server exited:\n${server.stderr()}`);
        const response = await statusOf(`${server.url}/health`);
        await response?.body?.cancel();
        return response?.status === 200 ? response : undefined;
      }, 10_000).catch((error) => {
        assert.equal(server.exited(), undefined, `server exited:\n${server.stderr()}`);
        throw error;
      });
      assert.equal(health.status, 200);

      const init = await statusOf(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify(INITIALIZE),
      });
      assert.equal(init?.status, 200, "MCP initialize after recovery");
      assert.ok(init?.headers.get("mcp-session-id"), "a session was created");
      await init?.body?.cancel();

      const log = server.stderr();
      assert.match(log, /"event":"http_listener_failed","error":"[^"]*Too many open files/);
      assert.match(log, /"event":"http_listener_resumed"/);
      assert.doesNotMatch(log, /\n\s+at /, "no stack trace");
      const status = await server.stop();
      assert.equal(status.code, 0, "graceful exit after recovery");
    } finally {
      for (const conn of connections) conn.close();
      await server.stop();
      await gateway.close();
    }
  },
);

Deno.test(
  "reliability: SIGTERM while file handles are used up still stops gracefully within 10 s",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const server = await startHttp({ env: gatewayEnv(gateway.url), fileLimit: FILE_LIMIT });
    const connections: Deno.TcpConn[] = [];
    try {
      connections.push(...await exhaustHandles(server));
      assert.equal(server.exited(), undefined, `server exited:\n${server.stderr()}`);
      // The idle connections stay open: shutdown must not wait for them.
      const started = performance.now();
      const status = await server.stop();
      assert.equal(status.code, 0, server.stderr());
      assert.ok(performance.now() - started < SHUTDOWN_MS + 2_000, "bounded shutdown");
      assert.match(server.stderr(), /"event":"shutting_down"/);
    } finally {
      for (const conn of connections) conn.close();
      await server.stop();
      await gateway.close();
    }
  },
);
