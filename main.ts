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
import { ConfigError, loadConfig, redactedConfig } from "./src/config.ts";
import { createLogger } from "./src/log.ts";
import { GatewayRegistry } from "./src/gateway/registry.ts";
import { createServer, createToolset } from "./src/server.ts";
import { runStdio } from "./src/stdio.ts";
import { checkExposure, serveHttp } from "./src/http/serve.ts";
import { defaultKvPath, openTaskKv } from "./src/tasks/kv.ts";
import { TaskRunner } from "./src/tasks/runner.ts";
import { TaskStore } from "./src/tasks/store.ts";

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

  const shutdown = new AbortController();
  const gateways = new GatewayRegistry(config.instances);
  const store = new TaskStore(kv, { ttlMs: config.tasks.ttlMs });
  const runner = new TaskRunner({
    store,
    gateways,
    log,
    concurrency: config.tasks.concurrency,
    leaseMs: config.tasks.leaseMs,
    instanceConcurrency: Object.fromEntries(
      config.instances.filter((i) => i.concurrency).map((i) => [i.name, i.concurrency!]),
    ),
  });
  runner.start();
  const tasks = { store, runner, ttlMs: config.tasks.ttlMs };
  const toolset = createToolset({ gateways, tasks });
  const serverFor = (owner: string) =>
    createServer({ gateways, log, shutdown: shutdown.signal, owner, tasks, toolset });
  try {
    if (config.transport === "http") {
      await serveHttp({ config, createServer: serverFor, shutdown, gateways, kv, log });
    } else {
      await runStdio({ server: serverFor("local"), shutdown, log });
    }
  } finally {
    // Running tasks go back to the queue for the next process on this KV.
    await runner.stop();
    kv.close();
    log.info("stopped", { transport: config.transport });
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
