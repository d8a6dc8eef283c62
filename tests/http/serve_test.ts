/**
 * `checkExposure` (what may be served where) and `serveHttp` in process on a
 * loopback port 0: it serves, stops when `shutdown` aborts, and turns a bind
 * failure into a one-line `ConfigError`.
 */
import assert from "node:assert/strict";
import { type Config, ConfigError, loadConfig } from "../../src/config.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { createLogger, silentLogger } from "../../src/log.ts";
import { createServer } from "../../src/server.ts";
import {
  checkExposure,
  MIN_PASSWORD_CHARS,
  MIN_TOKEN_CHARS,
  serveHttp,
} from "../../src/http/serve.ts";

const GATEWAY = { OPENCLAW_URL: "http://127.0.0.1:9", OPENCLAW_GATEWAY_TOKEN: "gateway-token" };

function config(args: string[], env: Record<string, string> = {}): Config {
  const command = loadConfig({
    args: ["--transport", "http", ...args],
    env: { ...GATEWAY, ...env },
  });
  if (command.kind !== "run") throw new Error("expected a run command");
  return command.config;
}

Deno.test("checkExposure: loopback needs nothing; a public bind needs authentication or --allow-insecure", () => {
  checkExposure(config(["--host", "127.0.0.1"]));
  checkExposure(config(["--host", "::1"]));
  assert.throws(
    () => checkExposure(config(["--host", "0.0.0.0"])),
    (e: Error) =>
      e instanceof ConfigError &&
      /^HOST\/--host="0\.0\.0\.0" is not a loopback address/.test(e.message),
  );
  checkExposure(config(["--host", "0.0.0.0", "--allow-insecure"]));
  checkExposure(config(["--host", "0.0.0.0"], { MCP_AUTH_TOKENS: "t".repeat(MIN_TOKEN_CHARS) }));
});

Deno.test("checkExposure: short tokens and passwords are refused on a public bind, never shown", () => {
  const short = "s".repeat(MIN_TOKEN_CHARS - 1);
  assert.throws(
    () =>
      checkExposure(
        config(["--host", "0.0.0.0"], { MCP_AUTH_TOKENS: `${"t".repeat(32)},${short}` }),
      ),
    (e: Error) =>
      e instanceof ConfigError && /token 2 is shorter than 16/.test(e.message) &&
      !e.message.includes(short),
  );
  checkExposure(config(["--host", "127.0.0.1"], { MCP_AUTH_TOKENS: short }));
  const password = "p".repeat(MIN_PASSWORD_CHARS - 1);
  const oauth = {
    AUTH_ENABLED: "true",
    MCP_ISSUER_URL: "https://mcp.example.com",
    MCP_OWNER_PASSWORD: password,
  };
  assert.throws(
    () => checkExposure(config(["--host", "0.0.0.0"], oauth)),
    (e: Error) =>
      /MCP_OWNER_PASSWORD \(value hidden\)/.test(e.message) && !e.message.includes(password),
  );
  checkExposure(config(["--host", "0.0.0.0"], { ...oauth, MCP_OWNER_PASSWORD: "p".repeat(12) }));
});

/** Runs `fn` with console.error captured (serveHttp prints one line for people). */
async function quietly<T>(fn: (printed: string[]) => Promise<T>): Promise<T> {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    return await fn(printed);
  } finally {
    console.error = original;
  }
}

Deno.test("serveHttp: serves on the port it got, and stops when shutdown aborts", async () => {
  const c = { ...config(["--host", "127.0.0.1", "--port", "0"]) };
  const gateways = new GatewayRegistry(c.instances);
  const kv = await Deno.openKv(":memory:");
  const events: Record<string, unknown>[] = [];
  const log = createLogger({ write: (line) => events.push(JSON.parse(line)) });
  const shutdown = new AbortController();
  try {
    await quietly(async (printed) => {
      const served = serveHttp({
        config: c,
        createServer: () => createServer({ gateways, log: silentLogger }),
        shutdown,
        gateways,
        kv,
        log,
      });
      while (!events.some((e) => e.event === "listening")) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const listening = events.find((e) => e.event === "listening")!;
      const url = String(listening.url);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(listening.port, 0);
      assert.deepEqual(printed, [`openclaw-mcp: serving MCP (Streamable HTTP) at ${url}/mcp`]);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");

      shutdown.abort();
      await served;
      assert.ok(events.some((e) => e.event === "shutting_down"));
      await assert.rejects(fetch(`${url}/health`), "no longer listening");
    });
  } finally {
    kv.close();
  }
});

Deno.test("serveHttp: a port in use is a one-line ConfigError saying what to do", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const kv = await Deno.openKv(":memory:");
  try {
    const c = config(["--host", "127.0.0.1", "--port", String(taken.addr.port)]);
    const gateways = new GatewayRegistry(c.instances);
    const error = await serveHttp({
      config: c,
      createServer: () => createServer({ gateways, log: silentLogger }),
      shutdown: new AbortController(),
      gateways,
      kv,
      log: silentLogger,
    }).catch((e) => e);
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /the address is already in use; .*--port 0 picks a free one/);
    assert.ok(!error.message.includes("\n"));
  } finally {
    taken.close();
    kv.close();
  }
});
