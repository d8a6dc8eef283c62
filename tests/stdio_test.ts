/**
 * `StdioTransport` over in-memory byte streams: framing, protocol errors for
 * bad lines, end of input, draining owed replies; and `runStdio` on such a
 * transport: the era picked by the opening, the owed reply flushed at end of
 * input, `closed` once. No process spawn (the process-level behaviour,
 * signals and exit, is in tests/e2e/stdio_test.ts).
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { GatewayRegistry } from "../src/gateway/registry.ts";
import { silentLogger } from "../src/log.ts";
import { Server } from "@modelcontextprotocol/server";
import { createServer, type Era } from "../src/server.ts";
import { INITIALIZE } from "../testing/spawn.ts";
import { MAX_LINE_BYTES, runStdio, StdioTransport } from "../src/stdio.ts";

const encoder = new TextEncoder();

/** A transport whose input we write and whose output lines we read. */
function pipe() {
  let input!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (input = c) });
  let text = "";
  const waiters: (() => void)[] = [];
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      text += new TextDecoder().decode(chunk);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const transport = new StdioTransport(readable, writable);
  const received: JSONRPCMessage[] = [];
  transport.onmessage = (message) => received.push(message);
  const lines = () => text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return {
    transport,
    received,
    lines,
    write: (s: string) => input.enqueue(encoder.encode(s)),
    writeBytes: (b: Uint8Array) => input.enqueue(b),
    end: () => input.close(),
    /** Resolves once `n` lines were written. */
    async outputLines(n: number) {
      while (lines().length < n) await new Promise<void>((r) => waiters.push(r));
      return lines();
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("stdio: one message per line, across chunk boundaries, CRLF and blank lines allowed", async () => {
  const p = pipe();
  await p.transport.start();
  p.write('{"jsonrpc":"2.0","id":1,"meth');
  p.write('od":"ping"}\r\n\n  \n{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  await tick();
  assert.deepEqual(p.received, [
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
  ]);
  await p.transport.close();
});

Deno.test("stdio: a UTF-8 character split across chunks arrives whole", async () => {
  const p = pipe();
  await p.transport.start();
  const bytes = encoder.encode('{"jsonrpc":"2.0","id":"é€😀","method":"ping"}\n');
  const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of €
  p.writeBytes(bytes.subarray(0, cut));
  p.writeBytes(bytes.subarray(cut));
  await tick();
  assert.deepEqual(p.received, [{ jsonrpc: "2.0", id: "é€😀", method: "ping" }]);
  await p.transport.close();
});

Deno.test("stdio: a line that is not JSON or not JSON-RPC gets an error reply, not silence", async () => {
  const p = pipe();
  await p.transport.start();
  p.write("this is not json\n");
  p.write('{"id":7,"hello":"world"}\n');
  const [parse, invalid] = await p.outputLines(2);
  assert.deepEqual(parse, {
    jsonrpc: "2.0",
    id: null,
    error: { code: -32700, message: "Parse error: the line is not JSON" },
  });
  assert.equal(invalid.id, 7, "the id is echoed when there is one");
  assert.equal(invalid.error.code, -32600);
  assert.deepEqual(p.received, []);
  await p.transport.close();
});

Deno.test("stdio: a line over the cap is refused once and skipped up to the next newline", async () => {
  const p = pipe();
  await p.transport.start();
  p.write("x".repeat(MAX_LINE_BYTES + 1));
  p.write("more of the same line\n");
  p.write('{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
  const [tooLarge] = await p.outputLines(1);
  await tick();
  assert.deepEqual(tooLarge.error, { code: -32600, message: "Message too large" });
  assert.equal(p.lines().length, 1, "one refusal, not one per chunk");
  assert.deepEqual(p.received, [{ jsonrpc: "2.0", id: 2, method: "ping" }]);
  await p.transport.close();
});

Deno.test("stdio: end of input closes the transport once; later sends are dropped", async () => {
  const p = pipe();
  let closed = 0;
  p.transport.onclose = () => closed++;
  await p.transport.start();
  p.end();
  await tick();
  assert.equal(closed, 1);
  await p.transport.close();
  assert.equal(closed, 1, "close is idempotent");
  await p.transport.send({ jsonrpc: "2.0", id: 1, result: {} });
  assert.deepEqual(p.lines(), []);
});

Deno.test("stdio: onInputEnd replaces the default close; drain waits for owed replies", async () => {
  const p = pipe();
  let ended = false;
  p.transport.onInputEnd = () => void (ended = true);
  let closed = false;
  p.transport.onclose = () => closed = true;
  await p.transport.start();
  p.write('{"jsonrpc":"2.0","id":"a","method":"ping"}\n');
  p.end();
  await tick();
  assert.ok(ended);
  assert.ok(!closed, "the owner decides when to close");

  let drained = false;
  const draining = p.transport.drain(5_000).then(() => drained = true);
  await tick();
  assert.ok(!drained, "request a has no reply yet");
  await p.transport.send({ jsonrpc: "2.0", id: "a", result: {} });
  await draining;
  assert.ok(drained);

  const start = performance.now();
  await p.transport.drain(50);
  assert.ok(performance.now() - start < 40, "nothing owed: at once");
  await p.transport.close();
  assert.ok(closed);
});

Deno.test("stdio: drain gives up after its timeout when a reply never comes", async () => {
  const p = pipe();
  p.transport.onInputEnd = () => {};
  await p.transport.start();
  p.write('{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
  await tick();
  const start = performance.now();
  await p.transport.drain(30);
  assert.ok(performance.now() - start >= 25);
  await p.transport.close();
});

Deno.test("stdio: the MCP server answers initialize and tools/list over the transport", async () => {
  const gateways = new GatewayRegistry([{
    name: "default",
    url: "http://127.0.0.1:9",
    timeoutMs: 1_000,
    isDefault: true,
    model: "openclaw",
  }]);
  const server = createServer({ gateways, log: silentLogger });
  const p = pipe();
  await server.connect(p.transport);
  p.write(JSON.stringify(INITIALIZE) + "\n");
  const [init] = await p.outputLines(1);
  assert.equal(init.id, 1);
  assert.equal(init.result.serverInfo.name, "openclaw-mcp");
  p.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  p.write('{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n');
  const [, list] = await p.outputLines(2);
  assert.equal(list.id, 2);
  assert.ok(list.result.tools.some((t: { name: string }) => t.name === "openclaw_chat"));
  let closed = false;
  server.onclose = () => closed = true;
  p.end();
  await tick();
  assert.ok(closed, "end of input closes the server");
});

Deno.test("stdio: closed fires once, after onclose, however often close is called", async () => {
  const p = pipe();
  const order: string[] = [];
  p.transport.onclose = () => order.push("onclose");
  p.transport.closed = () => order.push("closed");
  await p.transport.start();
  p.end();
  await tick();
  await p.transport.close();
  assert.deepEqual(order, ["onclose", "closed"]);
});

/** The 2026-07-28 envelope a modern request carries in `params._meta`. */
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "stdio-test", version: "0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/**
 * `runStdio` on an in-memory transport with the real server factory,
 * recording each era it is asked for and each time `closed` fires.
 */
function runOnPipe() {
  const p = pipe();
  const eras: Era[] = [];
  const shutdown = new AbortController();
  const running = runStdio({
    createServer: (era) => {
      eras.push(era);
      return createServer({ gateways: noGateway(), log: silentLogger, era });
    },
    shutdown,
    log: silentLogger,
    transport: p.transport,
  });
  // runStdio hooks `closed` synchronously; count the calls through it.
  let closedCalls = 0;
  const hook = p.transport.closed!;
  p.transport.closed = () => {
    closedCalls++;
    hook();
  };
  return { ...p, eras, shutdown, running, closedCalls: () => closedCalls };
}

function noGateway(): GatewayRegistry {
  return new GatewayRegistry([{
    name: "default",
    url: "http://127.0.0.1:9",
    timeoutMs: 1_000,
    isDefault: true,
    model: "openclaw",
  }]);
}

Deno.test(
  "runStdio: a modern opening (server/discover) is answered and pins 2026-07-28",
  async () => {
    const r = runOnPipe();
    r.write(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "server/discover",
        params: { _meta: ENVELOPE },
      }) + "\n",
    );
    const [discover] = await r.outputLines(1);
    assert.equal(discover.id, 1);
    assert.deepEqual(discover.result.supportedVersions, ["2026-07-28"]);
    assert.equal(discover.result._meta["io.modelcontextprotocol/serverInfo"].name, "openclaw-mcp");
    r.write(
      JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: ENVELOPE } }) +
        "\n",
    );
    const [, list] = await r.outputLines(2);
    assert.equal(list.id, 2);
    assert.ok(list.result.tools.some((t: { name: string }) => t.name === "openclaw_chat"));
    assert.ok(r.eras.length >= 1 && r.eras.every((era) => era === "modern"), `${r.eras}`);
    r.write('{"jsonrpc":"2.0","id":3,"method":"tools/list"}\n');
    const [, , claimless] = await r.outputLines(3);
    assert.equal(claimless.id, 3);
    assert.ok(claimless.error, "pinned modern: a request without the envelope is refused");

    r.end();
    await r.running;
    assert.ok(r.shutdown.signal.aborted, "end of input aborts the shutdown signal");
    assert.equal(r.closedCalls(), 1, "closed fires once");
  },
);

Deno.test("runStdio: a legacy initialize pins 2025-11-25 for the connection", async () => {
  const r = runOnPipe();
  r.write(JSON.stringify(INITIALIZE) + "\n");
  const [init] = await r.outputLines(1);
  assert.equal(init.result.protocolVersion, "2025-11-25");
  assert.equal(init.result.serverInfo.name, "openclaw-mcp");
  r.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  r.write('{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n');
  const [, list] = await r.outputLines(2);
  assert.equal(list.id, 2, "a claim-less request is served: the connection is legacy");
  assert.ok(list.result.tools.length > 0);
  assert.deepEqual(r.eras, ["legacy"]);
  r.end();
  await r.running;
  assert.equal(r.closedCalls(), 1);
});

Deno.test(
  "runStdio: at end of input the work in flight is cancelled and its reply flushed before closing",
  async () => {
    const p = pipe();
    const shutdown = new AbortController();
    let cancelled = false;
    const running = runStdio({
      createServer: () => {
        const server = new Server({ name: "slow", version: "0" }, { capabilities: { tools: {} } });
        server.setRequestHandler("tools/call", async (_request, ctx) => {
          const stop = AbortSignal.any([ctx.mcpReq.signal, shutdown.signal]);
          await new Promise((resolve) => stop.addEventListener("abort", resolve, { once: true }));
          cancelled = shutdown.signal.aborted;
          return { content: [{ type: "text", text: "stopped" }], isError: true };
        });
        return server;
      },
      shutdown,
      log: silentLogger,
      transport: p.transport,
    });
    p.write(JSON.stringify(INITIALIZE) + "\n");
    await p.outputLines(1);
    p.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    p.write(
      '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"x","arguments":{}}}\n',
    );
    await tick();
    p.end();
    await running;
    assert.ok(cancelled, "the shutdown signal reached the handler");
    const reply = p.lines().find((l) => l.id === 9);
    assert.deepEqual(reply?.result?.content, [{ type: "text", text: "stopped" }], "the owed reply");
  },
);
