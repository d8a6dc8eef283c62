/**
 * The Deno Deploy entry: Streamable HTTP in stateless mode, configured from
 * environment variables only (Deploy passes no flags), with the project's
 * KV database from `Deno.openKv()` (Deploy provides it without a flag).
 *
 * Set at least `OPENCLAW_URL` and `OPENCLAW_GATEWAY_TOKEN` (or
 * `OPENCLAW_INSTANCES`), and authentication: `MCP_AUTH_TOKENS`, or
 * `AUTH_ENABLED=true` with `MCP_ISSUER_URL` (your deployment's URL) for
 * OAuth. See docs/deployment.md.
 *
 * @module
 */
import { type Config, ConfigError, loadConfig } from "./src/config.ts";
import { runEntry } from "./src/entry.ts";
import { createLogger, type Logger } from "./src/log.ts";
import { startBridge } from "./src/bridge.ts";
import { createApp } from "./src/http/app.ts";
import { checkExposure } from "./src/http/serve.ts";

/** The Deploy app: a fetch handler, and a way to stop its task runner. */
export interface DeployApp {
  /** Serve this with `Deno.serve`. */
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  /** Stops the task runner; its running tasks go back to the queue for another isolate. */
  stop: () => Promise<void>;
}

/**
 * Builds the Deno Deploy app from environment variables.
 *
 * @throws {ConfigError} for a bad value, or a public server without authentication.
 */
export async function deployHandler(
  env: Record<string, string | undefined>,
  kv: Deno.Kv,
  options: { log?: Logger } = {},
): Promise<DeployApp> {
  const command = loadConfig({ args: [], env });
  if (command.kind !== "run") throw new ConfigError("unexpected command");
  // Deploy serves the public internet: stateless (any isolate may take any
  // request) and never without authentication unless explicitly allowed.
  const config = {
    ...command.config,
    transport: "http" as const,
    host: "0.0.0.0",
    http: { ...command.config.http, stateless: true },
  };
  checkExposure(config);
  const issuer = deployIssuer(config);
  const log = options.log ?? createLogger({ level: config.debug ? "debug" : "info" });
  const bridge = startBridge(config, { kv, log });
  let app, modern, operator;
  try {
    ({ app, modern, operator } = await createApp({
      config,
      createServer: bridge.serverFor,
      gateways: bridge.gateways,
      kv,
      log: bridge.log,
      metrics: bridge.metrics,
      issuer: () => issuer,
    }));
  } catch (error) {
    await bridge.stop();
    throw error;
  }
  const stop = async () => {
    operator?.close();
    await modern.close();
    await bridge.stop();
  };
  return { handler: (request, info) => app.fetch(request, info), stop };
}

/**
 * The OAuth issuer on Deploy: `MCP_ISSUER_URL`, required when OAuth is on.
 * Every isolate must name the same issuer whatever Host a request carries,
 * so it is never taken from a request (the first one to reach an isolate
 * could name any host). Static tokens need no issuer.
 */
function deployIssuer(config: Config): string {
  const issuer = config.auth.issuerUrl;
  if (!config.auth.enabled) return issuer ?? "";
  if (issuer === undefined) {
    throw new ConfigError(
      "AUTH_ENABLED=true on Deno Deploy needs MCP_ISSUER_URL, the public URL clients reach (it is never taken from a request's Host); set MCP_ISSUER_URL to https://<project>.deno.dev or your custom domain",
    );
  }
  return issuer;
}

if (import.meta.main) {
  const code = await runEntry(async () => {
    const { handler } = await deployHandler(Deno.env.toObject(), await Deno.openKv());
    Deno.serve(handler);
  });
  if (code !== 0) Deno.exit(code);
}
