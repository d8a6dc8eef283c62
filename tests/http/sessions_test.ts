/** Session caps per principal and in all: who gets room, whose session is evicted, and when 503. */
import assert from "node:assert/strict";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { SessionManager } from "../../src/http/sessions.ts";
import { silentLogger } from "../../src/log.ts";
import { createServer, createToolset } from "../../src/server.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { INITIALIZE } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ACCEPT = "application/json, text/event-stream";

async function withSessions(
  options: { max: number; maxPerPrincipal: number },
  fn: (sessions: SessionManager, gateway: TestGateway, clock: { t: number }) => Promise<void>,
) {
  const gateway = await TestGateway.start();
  const gateways = new GatewayRegistry([gateway.instance({ name: "test" })]);
  const toolset = createToolset({ gateways });
  const shutdown = new AbortController();
  const clock = { t: 1_000_000 };
  const sessions = new SessionManager({
    createServer: (owner) =>
      createServer({ gateways, log: silentLogger, owner, toolset, shutdown: shutdown.signal }),
    idleMs: 3_600_000,
    ...options,
    log: silentLogger,
    now: () => clock.t,
  });
  try {
    await fn(sessions, gateway, clock);
  } finally {
    shutdown.abort();
    await sessions.close();
    await gateway.close();
  }
}

function post(body: unknown, session?: string): Request {
  return new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: ACCEPT,
      ...(session ? { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** Opens a session for `owner`; its id, or the refusal status. */
async function open(sessions: SessionManager, owner: string): Promise<string | number> {
  const response = await sessions.handle(post(INITIALIZE), owner, INITIALIZE);
  await response.body?.cancel();
  return response.headers.get("mcp-session-id") ?? response.status;
}

async function use(sessions: SessionManager, owner: string, id: string): Promise<number> {
  const body = { jsonrpc: "2.0", id: 2, method: "tools/list" };
  const response = await sessions.handle(post(body, id), owner, body);
  await response.text();
  return response.status;
}

Deno.test(
  "sessions: a principal at its own cap makes room from its own idle sessions; others still get in",
  opts,
  async () => {
    await withSessions({ max: 20, maxPerPrincipal: 12 }, async (sessions, _gateway, clock) => {
      const a: string[] = [];
      // Tenant A tries for the whole server (global cap - 1 and more): it never holds more than 12.
      for (let i = 0; i < 19; i++) {
        clock.t += 1_000;
        const id = await open(sessions, "tenant-a");
        assert.equal(typeof id, "string", `A's session ${i}: ${id}`);
        a.push(id as string);
      }
      assert.equal(sessions.size, 12);
      // A's oldest idle sessions made the room, and now tell its client to re-initialize.
      for (const id of a.slice(0, 7)) assert.equal(await use(sessions, "tenant-a", id), 404);
      for (const id of a.slice(7)) assert.equal(await use(sessions, "tenant-a", id), 200);

      // Tenant B gets sessions although A is at its cap.
      const b: string[] = [];
      for (let i = 0; i < 8; i++) {
        clock.t += 1_000;
        b.push(await open(sessions, "tenant-b") as string);
      }
      assert.equal(sessions.size, 20, "the global cap is reached");
      // At the global cap, B's new session evicts B's own oldest idle one, never A's.
      clock.t += 1_000;
      const ninth = await open(sessions, "tenant-b");
      assert.equal(typeof ninth, "string");
      assert.equal(sessions.size, 20);
      assert.equal(await use(sessions, "tenant-b", b[0]), 404);
      for (const id of a.slice(7)) assert.equal(await use(sessions, "tenant-a", id), 200);
      // A third tenant has nothing of its own to evict: 503.
      assert.equal(await open(sessions, "tenant-c"), 503);
    });
  },
);

Deno.test(
  "sessions: the least recently used idle session goes; one with a call in flight never does",
  opts,
  async () => {
    await withSessions({ max: 10, maxPerPrincipal: 2 }, async (sessions, gateway, clock) => {
      const first = await open(sessions, "a") as string;
      clock.t += 1_000;
      const second = await open(sessions, "a") as string;
      clock.t += 1_000;
      assert.equal(await use(sessions, "a", first), 200, "first is now the most recently used");
      clock.t += 1_000;
      const third = await open(sessions, "a") as string;
      assert.equal(await use(sessions, "a", second), 404, "second was least recently used");
      assert.equal(await use(sessions, "a", first), 200);

      // Calls in flight on both remaining sessions: no room, 503, nothing evicted.
      gateway.fault = { kind: "hang" };
      const call = (id: string) => {
        const body = {
          jsonrpc: "2.0",
          id: 9,
          method: "tools/call",
          params: { name: "openclaw_chat", arguments: { message: "slow" } },
        };
        return sessions.handle(post(body, id), "a", body);
      };
      const busy = await Promise.all([call(first), call(third)]);
      await gateway.waitFor(() => gateway.chats.length === 2);
      assert.equal(await open(sessions, "a"), 503);
      assert.equal(sessions.size, 2);
      // The client of `third` goes away: its call is no longer in flight.
      await busy[1].body?.cancel();
      clock.t += 1_000;
      assert.equal(typeof await open(sessions, "a"), "string");
      assert.equal(await use(sessions, "a", third), 404);
      await busy[0].body?.cancel();
    });
  },
);

Deno.test(
  "sessions: resuming from an event whose stream was dropped is a clear 400",
  opts,
  async () => {
    await withSessions({ max: 10, maxPerPrincipal: 10 }, async (sessions) => {
      const id = await open(sessions, "a") as string;
      const response = await sessions.handle(
        new Request("http://127.0.0.1/mcp", {
          method: "GET",
          headers: {
            accept: "text/event-stream",
            "mcp-session-id": id,
            "mcp-protocol-version": "2025-11-25",
            "last-event-id": "dropped-stream_7",
          },
        }),
        "a",
      );
      assert.equal(response.status, 400);
      assert.match((await response.json()).error.message, /no longer held/);
    });
  },
);
