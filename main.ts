/**
 * The `openclaw-mcp` command: reads flags, env and an optional config file,
 * opens the task store, then serves MCP over stdio (default) or Streamable
 * HTTP (`--transport http`).
 *
 * ```sh
 * deno run -A --unstable-kv main.ts --openclaw-url http://127.0.0.1:18789 --gateway-token "$TOKEN"
 * ```
 *
 * @module
 */
import { loadConfig } from "./src/config.ts";
import { redactedConfig } from "./src/config_redact.ts";
import { runEntry } from "./src/entry.ts";
import { createLogger } from "./src/log.ts";
import { startBridge } from "./src/bridge.ts";
import { runStdio } from "./src/stdio.ts";
import { checkExposure, serveHttp } from "./src/http/serve.ts";
import { defaultKvPath, openTaskKv } from "./src/tasks/kv.ts";

/**
 * Runs the command line until the transport stops and returns the exit
 * code: 0, or 2 for a bad configuration, reported on stderr in one line.
 */
export function main(args: string[]): Promise<number> {
  return runEntry(() => serve(args));
}

async function serve(args: string[]): Promise<void> {
  const env = Deno.env.toObject();
  const command = loadConfig({ args, env });
  if (command.kind !== "run") {
    console.log(command.text);
    return;
  }
  const config = command.config;
  if (config.transport === "http") checkExposure(config);
  const kv = await openTaskKv(config.kvPath ?? defaultKvPath(env));
  const log = createLogger({ level: config.debug ? "debug" : "info" });
  log.debug("config", redactedConfig(config));

  // On stdio the runner waits for a first real request: a 2026-07-28 client
  // probes with server/discover in a throwaway copy of this process, which
  // must not claim tasks queued by others on the same KV.
  const stdio = config.transport !== "http";
  const bridge = startBridge(config, { kv, log, deferRunner: stdio });
  try {
    if (config.transport === "http") {
      await serveHttp({
        config,
        createServer: bridge.serverFor,
        shutdown: bridge.shutdown,
        gateways: bridge.gateways,
        kv,
        log: bridge.log,
        metrics: bridge.metrics,
      });
    } else {
      await runStdio({
        createServer: (era) => bridge.serverFor("local", era),
        shutdown: bridge.shutdown,
        log: bridge.log,
        onRequest: (method) => {
          if (method !== "server/discover") bridge.startRunner();
        },
      });
    }
  } finally {
    // Running tasks go back to the queue for the next process on this KV.
    await bridge.stop();
    kv.close();
    log.info("stopped", { transport: config.transport });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
