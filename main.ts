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
import { ConfigError, loadConfig } from "./src/config.ts";
import { redactedConfig } from "./src/config_redact.ts";
import { createLogger } from "./src/log.ts";
import { startBridge } from "./src/bridge.ts";
import { runStdio } from "./src/stdio.ts";
import { checkExposure, serveHttp } from "./src/http/serve.ts";
import { defaultKvPath, openTaskKv } from "./src/tasks/kv.ts";

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const env = Deno.env.toObject();
  let command;
  let kv: Deno.Kv;
  try {
    command = loadConfig({ args, env });
    if (command.kind !== "run") {
      console.log(command.text);
      return 0;
    }
    if (command.config.transport === "http") {
      checkExposure(command.config);
    }
    kv = await openTaskKv(command.config.kvPath ?? defaultKvPath(env));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`openclaw-mcp: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const config = command.config;
  const log = createLogger({ level: config.debug ? "debug" : "info" });
  log.debug("config", redactedConfig(config));

  const bridge = startBridge(config, { kv, log });
  let code = 0;
  try {
    if (config.transport === "http") {
      await serveHttp({
        config,
        createServer: bridge.serverFor,
        shutdown: bridge.shutdown,
        gateways: bridge.gateways,
        kv,
        log,
      });
    } else {
      await runStdio({ server: bridge.serverFor("local"), shutdown: bridge.shutdown, log });
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`openclaw-mcp: ${error.message}`);
    code = 2;
  } finally {
    // Running tasks go back to the queue for the next process on this KV.
    await bridge.stop();
    kv.close();
    log.info("stopped", { transport: config.transport });
  }
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
