/**
 * The `openclaw-mcp` command: reads flags, env and an optional config file,
 * then serves MCP over stdio (default) or Streamable HTTP.
 *
 * ```sh
 * deno run -A main.ts --openclaw-url http://127.0.0.1:18789 --gateway-token "$TOKEN"
 * ```
 *
 * @module
 */
import { ConfigError, loadConfig, redactedConfig } from "./src/config.ts";
import { createLogger } from "./src/log.ts";
import { GatewayRegistry } from "./src/gateway/registry.ts";
import { createServer } from "./src/server.ts";
import { StdioTransport } from "./src/stdio.ts";
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

  if (config.transport === "http") {
    console.error(
      "openclaw-mcp: the HTTP transport is not available in this version yet; use --transport stdio",
    );
    kv.close();
    return 2;
  }

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
  const server = createServer({
    gateways,
    log,
    shutdown: shutdown.signal,
    owner: "local",
    tasks: { store, runner, ttlMs: config.tasks.ttlMs },
  });
  const transport = new StdioTransport();
  // The client closed stdin: cancel work in flight, let the replies that
  // are owed go out (bounded), then close.
  transport.onInputEnd = async () => {
    shutdown.abort();
    await transport.drain(2_000);
    await server.close();
  };
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  const stop = () => {
    shutdown.abort();
    server.close().catch(() => {});
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Not every platform has every signal (Windows has no SIGTERM).
    }
  }
  if (Deno.stdin.isTerminal()) {
    console.error(
      "openclaw-mcp: waiting for an MCP client on stdin (this is the stdio transport; use --transport http to serve HTTP, --help for options)",
    );
  }
  await server.connect(transport);
  log.info("started", { transport: "stdio", instances: config.instances.length });
  await closed;
  shutdown.abort();
  // Running tasks go back to the queue for the next process on this KV.
  await runner.stop();
  kv.close();
  log.info("stopped", { transport: "stdio" });
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
