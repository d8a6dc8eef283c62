/**
 * The whole HTTP app in this process, served on a loopback port with a real
 * bridge (runner included) on an in-memory KV, for tests that need both real
 * HTTP (cookies, redirects, SSE) and a look inside (the KV, the clock).
 *
 * @module
 */
import { loadConfig } from "../../src/config.ts";
import { startBridge } from "../../src/bridge.ts";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { createLogger } from "../../src/log.ts";

/** The served app. */
export interface ServedApp {
  /** Its base URL, `http://127.0.0.1:<port>` (the OAuth issuer unless `MCP_ISSUER_URL` is set). */
  url: string;
  /** The app and its parts. */
  http: HttpApp;
  /** Its store. */
  kv: Deno.Kv;
  /** JSON log lines so far. */
  logs: Record<string, unknown>[];
}

/** Serves the app configured by `env` (and `args`) for the duration of `fn`. */
export async function withServedApp(
  options: { env: Record<string, string>; args?: string[]; now?: () => number },
  fn: (app: ServedApp) => Promise<void>,
): Promise<void> {
  const command = loadConfig({
    args: ["--transport", "http", ...(options.args ?? [])],
    env: { MCP_RATE_LIMIT: "0", ...options.env },
  });
  if (command.kind !== "run") throw new Error("expected a run command");
  const config = command.config;
  const kv = await Deno.openKv(":memory:");
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({ write: (line) => logs.push(JSON.parse(line)) });
  const bridge = startBridge(config, { kv, log });
  let url = "";
  const http = await createApp({
    config,
    createServer: bridge.serverFor,
    gateways: bridge.gateways,
    kv,
    log,
    issuer: () => config.auth.issuerUrl ?? url,
    metrics: bridge.metrics,
    now: options.now,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => http.app.fetch(request, info),
  );
  url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  try {
    await fn({ url, http, kv, logs });
  } finally {
    http.operator?.close();
    await http.sessions?.close();
    await http.modern.close();
    bridge.shutdown.abort();
    await server.shutdown();
    await bridge.stop();
    kv.close();
  }
}
