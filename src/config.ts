/**
 * Loading the configuration: four sources merged in order (defaults < JSON
 * config file < environment < flags), each value read by its option's entry
 * in {@linkcode optionsSchema}, then shaped into the {@linkcode Config} the
 * rest of the bridge uses.
 *
 * Every bad value becomes a {@linkcode ConfigError}: one line naming the
 * variable, flag or file key, what is wrong and how to fix it, never echoing
 * a secret.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { helpText } from "./config_help.ts";
import {
  instancesSchema,
  OPTION_ENTRIES,
  type OptionEntry,
  type Options,
  optionsSchema,
} from "./config_schema.ts";
import { VERSION } from "./version.ts";

/** A bad option value, reported to the user as one line; exit code 2. */
export class ConfigError extends Error {
  /** Creates an error whose message is the whole line shown to the user. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** One OpenClaw gateway the bridge talks to. */
export interface Instance {
  /** Unique name, used in tool arguments. */
  name: string;
  /** Base URL without trailing slash. */
  url: string;
  /** Bearer token, if the gateway wants one. Never shown. */
  token?: string;
  /** Request timeout in milliseconds. */
  timeoutMs: number;
  /** The instance used when a tool call names none. */
  isDefault: boolean;
  /** Agent used when a call names none. */
  agent?: string;
  /** The `model` of chat requests to this instance (`OPENCLAW_MODEL`, default `openclaw`). */
  model: string;
  /** Most tasks run at once on this instance (tasks issue). */
  concurrency?: number;
}

/** The merged, validated configuration. */
export interface Config {
  /** `stdio` or `http` (`sse` is read as `http`). */
  transport: "stdio" | "http";
  /** Gateways, default first in list order as configured. */
  instances: Instance[];
  /** HTTP port (`PORT`, `-p`; default 3000; 0 lets the system pick one). */
  port: number;
  /** HTTP bind address (`HOST`, default `127.0.0.1`); binding elsewhere requires authentication. */
  host: string;
  /** `--debug`/`DEBUG`: logs at debug level, the redacted configuration first. */
  debug: boolean;
  /** The OAuth authorization server, on with `AUTH_ENABLED` (see `docs/oauth.md`). */
  auth: {
    enabled: boolean;
    clientId?: string;
    clientSecret?: string;
    issuerUrl?: string;
    redirectUris: string[];
    allowDcr: boolean;
    allowCimd: boolean;
    cimdHosts: string[];
    ownerPassword?: string;
    accessTokenTtlMs: number;
    refreshTokenTtlMs: number;
  };
  /** CORS origins; empty means CORS off. */
  corsOrigins: string[];
  /** Trusted reverse-proxy hops in front of us (0: ignore X-Forwarded-For). */
  trustProxy: number;
  /** `OPENCLAW_KV_PATH`; unset, the entry point opens `defaultKvPath(env)`. */
  kvPath?: string;
  /** The task store and runner (`OPENCLAW_TASK_*`). */
  tasks: {
    /** Most tasks running at once in this process. */
    concurrency: number;
    /** Most tasks running at once across every process on the KV; 0: no limit. */
    globalConcurrency: number;
    ttlMs: number;
    leaseMs: number;
    /** Most pending tasks per principal. */
    maxPending: number;
    /** Most UTF-8 message bytes in one principal's pending tasks. */
    maxPendingBytes: number;
    /** Pending tasks older than this fail as expired. */
    pendingTtlMs: number;
  };
  /** How `session_id` reaches the gateway. */
  sessions: {
    /** Prefix keys with the principal: auto, on or off. */
    namespace: "auto" | "on" | "off";
    /** Accept keys shaped like OpenClaw's own (`agent:main:main`). */
    allowInternalKeys: boolean;
  };
  /** `OPENCLAW_RECALL_TOOLS`: who may read conversations (openclaw_sessions, openclaw_history). */
  recallTools: "off" | "owner" | "all";
  /** `OPENCLAW_APPROVALS`: the owner's approval tools and task waits over the gateway WebSocket, or off. */
  approvals: "off" | "owner";
  /** The `/mcp` endpoint: sessions, Host/Origin checks, bearer tokens, rate limit. */
  http: {
    stateless: boolean;
    sessionIdleMs: number;
    maxSessions: number;
    maxSessionsPerPrincipal: number;
    allowedHosts: string[];
    allowedOrigins: string[];
    /** `MCP_AUTH_TOKENS` and `MCP_OWNER_TOKENS`: every static token accepted on `/mcp`. */
    authTokens: string[];
    /** `MCP_OWNER_TOKENS`: the static tokens whose callers are owners (recall tools). */
    ownerTokens: string[];
    /** `MCP_METRICS_TOKEN`: the bearer token that may read `/metrics` (see `src/metrics/access.ts`). */
    metricsToken?: string;
    allowInsecure: boolean;
    rateLimitPerMinute: number;
    /** `MCP_OPERATOR_PAGE`: the owner's page at `/` (see `docs/operator.md`). */
    operatorPage: boolean;
  };
}

/** What the command line asks for. */
export type Command =
  | { kind: "help"; text: string }
  | { kind: "version"; text: string }
  | { kind: "run"; config: Config };

/** Inputs to {@linkcode loadConfig}; all effects are passed in. */
export interface ConfigSources {
  /** Command-line arguments (without the program name). */
  args: string[];
  /** Environment variables by name (the process's, or a plain object in tests). */
  env: Record<string, string | undefined>;
  /** Reads the `--config` file; default `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
}

/** Config key -> the variable, flag or file key its value came from. */
type Origins = Record<string, string>;

/** `NAME="value"`, shortened, or `NAME (value hidden)` for a secret. */
function describe(spec: OptionEntry, origin: string, value: unknown, whole = false): string {
  if (spec.secret) return `${origin} (value hidden)`;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const shown = whole || text.length <= 60 ? text : text.slice(0, 57) + "...";
  return `${origin}=${JSON.stringify(shown)}`;
}

/** Reads one value with its option's schema; the first issue becomes the error line. */
function check(spec: OptionEntry, origin: string, value: unknown): void {
  const result = spec.schema.safeParse(value, { reportInput: true });
  if (result.success) return;
  const issue: z.core.$ZodIssue = result.error.issues[0];
  // An issue inside a list names the item at fault, in full, not the whole list.
  const at = issue.path.length > 0
    ? describe(spec, origin, issue.input, true)
    : describe(spec, origin, value);
  throw new ConfigError(`${at}: ${issue.message}`);
}

/**
 * An empty variable (`PORT=` in a compose file) counts as unset, except for a
 * free-text option (a plain string schema), where "" is a value.
 */
function isUnset(spec: OptionEntry, text: string): boolean {
  if (text !== "") return false;
  let schema: z.core.$ZodType = spec.schema;
  while (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) {
    schema = schema.unwrap();
  }
  return !(schema instanceof z.ZodString);
}

/** The `--config` file's entries, in file order. */
function readConfigFile(path: string, read: (path: string) => string): [string, unknown][] {
  const name = `--config ${JSON.stringify(path)}`;
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : "cannot be read";
    throw new ConfigError(`${name}: ${why}; check the path`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name}: not valid JSON; fix the file's syntax`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(`${name}: must hold a JSON object`);
  }
  return Object.entries(data);
}

function parseFlags(args: string[]) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const spec of OPTION_ENTRIES) {
    if (!spec.flag) continue;
    options[spec.flag] = { type: spec.switch ? "boolean" : "string" };
    if (spec.short) options[spec.flag].short = spec.short;
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = (error instanceof Error ? error.message.split("\n")[0] : String(error))
      .replace(/\.$/, "");
    throw new ConfigError(`${message}; run with --help to see every option`);
  }
}

/**
 * Reads every source and returns what the command line asks for.
 *
 * @throws {ConfigError} for any bad value, with a one-line message.
 * @example
 * ```ts
 * const command = loadConfig({ args: ["--timeout", "5000"], env: {} });
 * if (command.kind === "run") console.log(command.config.instances[0].timeoutMs);
 * ```
 */
export function loadConfig(sources: ConfigSources): Command {
  const flags = parseFlags(sources.args);
  if (flags.help) return { kind: "help", text: helpText() };
  if (flags.version) return { kind: "version", text: `openclaw-mcp ${VERSION}` };

  // Each source's value is checked as it is read, so a bad one fails even where a
  // later source overrides it; the last one read wins.
  const given: Record<string, unknown> = {};
  const origins: Origins = {};
  const take = (spec: OptionEntry, origin: string, value: unknown) => {
    check(spec, origin, value);
    given[spec.key] = value;
    origins[spec.key] = origin;
  };
  if (typeof flags.config === "string") {
    const path = flags.config;
    for (const [key, value] of readConfigFile(path, sources.readFile ?? Deno.readTextFileSync)) {
      const spec = OPTION_ENTRIES.find((o) => o.key === key);
      if (!spec) {
        throw new ConfigError(
          `--config ${JSON.stringify(path)}: unknown key ${JSON.stringify(key)}; known keys: ${
            OPTION_ENTRIES.map((o) => o.key).join(", ")
          }`,
        );
      }
      take(spec, `config file key "${key}"`, value);
    }
  }
  for (const spec of OPTION_ENTRIES) {
    // Aliases first, so the canonical name wins when both are set.
    for (const name of [...(spec.env ?? [])].reverse()) {
      const text = sources.env[name];
      if (text !== undefined && !isUnset(spec, text)) take(spec, name, text);
    }
  }
  for (const spec of OPTION_ENTRIES) {
    const value = spec.flag ? flags[spec.flag] : undefined;
    if (value !== undefined) take(spec, `--${spec.flag}`, value);
  }
  // Every given value passed its schema above; this adds the defaults.
  return { kind: "run", config: toConfig(optionsSchema.parse(given), origins) };
}

/** The flat options in the nested shape the bridge uses, after the checks across options. */
function toConfig(options: Options, origins: Origins): Config {
  const instances = resolveInstances(options, origins.instances ?? "OPENCLAW_INSTANCES");
  if ((options.clientId === undefined) !== (options.clientSecret === undefined)) {
    throw new ConfigError(
      "MCP_CLIENT_ID and MCP_CLIENT_SECRET go together; set both (or neither)",
    );
  }
  return {
    transport: options.transport,
    instances,
    port: options.port,
    host: options.host,
    debug: options.debug,
    auth: {
      enabled: options.authEnabled,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      issuerUrl: options.issuerUrl,
      redirectUris: options.redirectUris,
      allowDcr: options.allowDcr,
      allowCimd: options.allowCimd,
      cimdHosts: options.cimdHosts,
      // An empty password means none, as an unset one does.
      ownerPassword: options.ownerPassword || undefined,
      accessTokenTtlMs: options.accessTokenTtlMs,
      refreshTokenTtlMs: options.refreshTokenTtlMs,
    },
    corsOrigins: options.corsOrigins,
    trustProxy: options.trustProxy,
    kvPath: options.kvPath,
    tasks: {
      concurrency: options.taskConcurrency,
      globalConcurrency: options.taskGlobalConcurrency,
      ttlMs: options.taskTtlMs,
      leaseMs: options.taskLeaseMs,
      maxPending: options.taskMaxPending,
      maxPendingBytes: options.taskMaxPendingBytes,
      pendingTtlMs: options.taskPendingTtlMs,
    },
    recallTools: options.recallTools,
    approvals: options.approvals,
    sessions: {
      namespace: options.sessionNamespace,
      allowInternalKeys: options.allowInternalSessionKeys,
    },
    http: {
      stateless: options.stateless,
      sessionIdleMs: options.sessionIdleMs,
      maxSessions: options.maxSessions,
      maxSessionsPerPrincipal: options.maxSessionsPerPrincipal,
      allowedHosts: options.allowedHosts,
      allowedOrigins: options.allowedOrigins,
      // Owner tokens are accepted like any static token; they also mark the owner.
      authTokens: [...new Set([...options.authTokens, ...options.ownerTokens])],
      ownerTokens: options.ownerTokens,
      // An empty token means none, as an unset one does.
      metricsToken: options.metricsToken || undefined,
      allowInsecure: options.allowInsecure,
      rateLimitPerMinute: options.rateLimit,
      operatorPage: options.operatorPage,
    },
  };
}

/**
 * The gateways: `OPENCLAW_INSTANCES` if set (its default is the one marked,
 * else the first), or one instance named "default" from `OPENCLAW_URL`.
 */
function resolveInstances(options: Options, origin: string): Instance[] {
  const { timeoutMs, model } = options;
  if (options.instances === undefined) {
    return [{
      name: "default",
      url: options.openclawUrl,
      // An empty token means none, as an unset one does.
      token: options.gatewayToken || undefined,
      timeoutMs,
      isDefault: true,
      model,
    }];
  }
  const list = instancesSchema.safeParse(options.instances);
  if (!list.success) {
    const issue = list.error.issues[0];
    const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`)
      .join("");
    const fix = issue.path.includes("token")
      ? "tokens are never shown; check the token's type"
      : 'expected [{"name":"prod","url":"http://127.0.0.1:18789"}]';
    throw new ConfigError(`${origin}${path}: ${issue.message}; ${fix}`);
  }
  const seen = new Set<string>();
  for (const entry of list.data) {
    if (seen.has(entry.name)) {
      throw new ConfigError(
        `${origin}: instance name "${entry.name}" is used twice; give each instance its own name`,
      );
    }
    seen.add(entry.name);
  }
  const marked = list.data.filter((e) => e.default);
  if (marked.length > 1) {
    throw new ConfigError(
      `${origin}: ${marked.length} instances are marked default (${
        marked.map((e) => e.name).join(", ")
      }); mark exactly one`,
    );
  }
  const defaultName = marked[0]?.name ?? list.data[0].name;
  return list.data.map((e) => ({
    name: e.name,
    url: e.url,
    token: e.token,
    timeoutMs: e.timeout ?? timeoutMs,
    isDefault: e.name === defaultName,
    agent: e.agent,
    model: e.model ?? model,
    concurrency: e.concurrency,
  }));
}
