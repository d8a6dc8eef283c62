/**
 * Configuration: one table of options, four sources merged in order
 * (defaults < JSON config file < environment < flags), one zod schema.
 *
 * Names match the Node `openclaw-mcp` server so users can switch without
 * edits. Every bad value becomes a {@linkcode ConfigError}: one line naming the
 * variable or flag, what is wrong and how to fix it, never echoing a secret.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";

/** The version printed by `--version` and reported by `/health`. */
export const VERSION = "0.1.0";

/** A bad option value, reported to the user as one line; exit code 2. */
export class ConfigError extends Error {
  /** Creates an error whose message is the whole line shown to the user. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** How an option's text is read. */
export type Kind = "string" | "int" | "bool" | "list" | "json" | "url" | "enum" | "hops";

/** One option: where it comes from, its type and its help line. */
export interface OptionSpec {
  /** Key in the merged config and in a JSON config file. */
  key: string;
  /** Environment variable names, canonical first. */
  env?: string[];
  /** Long flag without dashes. */
  flag?: string;
  /** One-letter flag. */
  short?: string;
  /** How the text is read. */
  kind: Kind;
  /** Allowed values for `enum`. */
  values?: string[];
  /** Inclusive bounds for `int`. */
  min?: number;
  /** Inclusive bounds for `int`. */
  max?: number;
  /** Default as shown in help; the typed default lives in the schema. */
  defaultText?: string;
  /** Never echo the value. */
  secret?: boolean;
  /** For `bool` env values: anything other than a clear "false" counts as true. */
  lenient?: boolean;
  /** A `bool` flag that takes a value (`--trust-proxy 1`), as the Node server's does. */
  valueFlag?: boolean;
  /** One line for `--help`. */
  help: string;
}

/** Every option the bridge understands. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: "openclawUrl",
    env: ["OPENCLAW_URL"],
    flag: "openclaw-url",
    short: "u",
    kind: "url",
    defaultText: "http://127.0.0.1:18789",
    help: "OpenClaw gateway URL (single-instance mode)",
  },
  {
    key: "gatewayToken",
    env: ["OPENCLAW_GATEWAY_TOKEN"],
    flag: "gateway-token",
    kind: "string",
    secret: true,
    help: "Bearer token for the gateway (single-instance mode)",
  },
  {
    key: "model",
    env: ["OPENCLAW_MODEL"],
    flag: "model",
    short: "m",
    kind: "string",
    defaultText: "openclaw",
    help: "Model name sent to the gateway",
  },
  {
    key: "timeoutMs",
    env: ["OPENCLAW_TIMEOUT_MS"],
    flag: "timeout",
    kind: "int",
    min: 1,
    max: 3_600_000,
    defaultText: "120000",
    help: "Gateway request timeout in milliseconds",
  },
  {
    key: "instances",
    env: ["OPENCLAW_INSTANCES"],
    kind: "json",
    help: 'JSON array of gateways: [{"name","url","token?","timeout?","default?","agent?"}]',
  },
  {
    key: "transport",
    env: ["MCP_TRANSPORT"],
    flag: "transport",
    short: "t",
    kind: "enum",
    values: ["stdio", "http", "sse"],
    defaultText: "stdio",
    help: "MCP transport: stdio, or http (Streamable HTTP at /mcp; sse is an alias)",
  },
  {
    key: "port",
    env: ["PORT"],
    flag: "port",
    short: "p",
    kind: "int",
    min: 0,
    max: 65535,
    defaultText: "3000",
    help: "HTTP port",
  },
  {
    key: "host",
    env: ["HOST"],
    flag: "host",
    kind: "string",
    defaultText: "127.0.0.1",
    help: "HTTP bind address",
  },
  {
    key: "debug",
    env: ["DEBUG"],
    flag: "debug",
    kind: "bool",
    lenient: true,
    defaultText: "false",
    help: "Log debug events to stderr",
  },
  {
    key: "authEnabled",
    env: ["AUTH_ENABLED", "OAUTH_ENABLED"],
    flag: "auth",
    kind: "bool",
    defaultText: "false",
    help: "Require OAuth 2.1 on the HTTP transport",
  },
  {
    key: "clientId",
    env: ["MCP_CLIENT_ID"],
    flag: "client-id",
    kind: "string",
    help: "Pre-registered OAuth client id",
  },
  {
    key: "clientSecret",
    env: ["MCP_CLIENT_SECRET"],
    flag: "client-secret",
    kind: "string",
    secret: true,
    help: "Pre-registered OAuth client secret (at least 32 characters)",
  },
  {
    key: "issuerUrl",
    env: ["MCP_ISSUER_URL"],
    flag: "issuer-url",
    kind: "url",
    help: "Public base URL of this server (OAuth issuer)",
  },
  {
    key: "redirectUris",
    env: ["MCP_REDIRECT_URIS"],
    flag: "redirect-uris",
    kind: "list",
    help: "Comma-separated OAuth redirect URIs for the pre-registered client",
  },
  {
    key: "allowDcr",
    env: ["MCP_ALLOW_DCR", "MCP_DANGEROUSLY_ALLOW_DCR", "MCP_DANGEROUSLY_ALLOW_DCR_PUBLIC"],
    flag: "allow-dcr",
    kind: "bool",
    defaultText: "false",
    help: "Allow OAuth dynamic client registration (POST /register)",
  },
  {
    key: "allowCimd",
    env: ["MCP_ALLOW_CIMD"],
    kind: "bool",
    defaultText: "false",
    help: "Accept OAuth Client ID Metadata Documents (https client_id URLs)",
  },
  {
    key: "cimdHosts",
    env: ["MCP_CIMD_HOSTS"],
    kind: "list",
    defaultText: "claude.ai",
    help: "Hosts whose client metadata documents are trusted",
  },
  {
    key: "ownerPassword",
    env: ["MCP_OWNER_PASSWORD"],
    kind: "string",
    secret: true,
    help: "Password the owner types on the consent page to approve a new OAuth client",
  },
  {
    key: "accessTokenTtlMs",
    env: ["MCP_ACCESS_TOKEN_TTL_MS"],
    kind: "int",
    min: 1_000,
    max: 30 * 24 * 3_600_000,
    defaultText: "3600000",
    help: "OAuth access token lifetime (ms)",
  },
  {
    key: "refreshTokenTtlMs",
    env: ["MCP_REFRESH_TOKEN_TTL_MS"],
    kind: "int",
    min: 1_000,
    max: 365 * 24 * 3_600_000,
    defaultText: "2592000000",
    help: "OAuth refresh token lifetime (ms)",
  },
  {
    key: "corsOrigins",
    env: ["CORS_ORIGINS"],
    kind: "list",
    help: "Comma-separated CORS origins (off unless set)",
  },
  {
    key: "trustProxy",
    env: ["TRUST_PROXY"],
    flag: "trust-proxy",
    valueFlag: true,
    kind: "hops",
    min: 0,
    max: 10,
    defaultText: "false",
    help:
      "Reverse proxies in front of this server whose X-Forwarded-For is trusted: false (0), true (1) or a hop count; the client is the entry that many from the right",
  },
  {
    key: "stateless",
    env: ["MCP_STATELESS"],
    flag: "stateless",
    kind: "bool",
    defaultText: "false",
    help:
      "HTTP without sessions: a fresh server per request, JSON responses (replicas, Deno Deploy)",
  },
  {
    key: "sessionIdleMs",
    env: ["MCP_SESSION_IDLE_MS"],
    kind: "int",
    min: 100,
    max: 7 * 24 * 3_600_000,
    defaultText: "1800000",
    help: "HTTP sessions idle this long (ms) are closed",
  },
  {
    key: "maxSessions",
    env: ["MCP_MAX_SESSIONS"],
    kind: "int",
    min: 1,
    max: 1_000_000,
    defaultText: "1000",
    help: "Most live HTTP sessions; more get 503",
  },
  {
    key: "maxSessionsPerPrincipal",
    env: ["MCP_MAX_SESSIONS_PER_PRINCIPAL"],
    kind: "int",
    min: 1,
    max: 1_000_000,
    defaultText: "100",
    help:
      "Most live HTTP sessions per principal (token or OAuth login); past it the principal's oldest idle session is closed",
  },
  {
    key: "sessionNamespace",
    env: ["MCP_SESSION_NAMESPACE"],
    kind: "enum",
    values: ["auto", "on", "off"],
    defaultText: "auto",
    help:
      "Prefix session_id with the caller's principal before it reaches the gateway: auto (when more than one principal can exist), on, off",
  },
  {
    key: "allowInternalSessionKeys",
    env: ["MCP_ALLOW_INTERNAL_SESSION_KEYS"],
    kind: "bool",
    defaultText: "false",
    help:
      "Accept session_id values shaped like OpenClaw's own session keys (agent:main:main); only with MCP_SESSION_NAMESPACE off",
  },
  {
    key: "allowedHosts",
    env: ["MCP_ALLOWED_HOSTS"],
    kind: "list",
    help: "Extra Host names accepted (DNS-rebinding protection); loopback names always are",
  },
  {
    key: "allowedOrigins",
    env: ["MCP_ALLOWED_ORIGINS"],
    kind: "list",
    help: "Extra browser Origins accepted, e.g. https://app.example.com",
  },
  {
    key: "authTokens",
    env: ["MCP_AUTH_TOKENS"],
    flag: "auth-token",
    kind: "list",
    secret: true,
    help: "Static bearer tokens accepted on /mcp (comma-separated)",
  },
  {
    key: "allowInsecure",
    env: ["MCP_ALLOW_INSECURE"],
    flag: "allow-insecure",
    kind: "bool",
    defaultText: "false",
    help: "Allow serving a non-loopback address without any authentication",
  },
  {
    key: "rateLimit",
    env: ["MCP_RATE_LIMIT"],
    kind: "int",
    min: 0,
    max: 1_000_000,
    defaultText: "600",
    help: "Requests per minute per client on /mcp (0 turns the limit off)",
  },
  {
    key: "taskConcurrency",
    env: ["OPENCLAW_TASK_CONCURRENCY"],
    flag: "task-concurrency",
    kind: "int",
    min: 1,
    max: 256,
    defaultText: "4",
    help: "Most async tasks running at once in this process",
  },
  {
    key: "taskMaxPending",
    env: ["OPENCLAW_TASK_MAX_PENDING"],
    kind: "int",
    min: 1,
    max: 1_000_000,
    defaultText: "100",
    help: "Most pending async tasks per principal; more are refused with quota_exceeded",
  },
  {
    key: "taskMaxPendingBytes",
    env: ["OPENCLAW_TASK_MAX_PENDING_BYTES"],
    kind: "int",
    min: 1_000,
    max: 10_000_000_000,
    defaultText: "10000000",
    help: "Most message bytes (UTF-8) in one principal's pending async tasks",
  },
  {
    key: "taskPendingTtlMs",
    env: ["OPENCLAW_TASK_PENDING_TTL_MS"],
    kind: "int",
    min: 1_000,
    max: 365 * 24 * 3_600_000,
    defaultText: "86400000",
    help: "A task still pending this long after it was queued fails as expired (ms)",
  },
  {
    key: "taskTtlMs",
    env: ["OPENCLAW_TASK_TTL_MS"],
    kind: "int",
    min: 1_000,
    max: 365 * 24 * 3_600_000,
    defaultText: "86400000",
    help: "How long finished tasks are kept, in milliseconds",
  },
  {
    key: "taskLeaseMs",
    env: ["OPENCLAW_TASK_LEASE_MS"],
    kind: "int",
    min: 300,
    max: 3_600_000,
    defaultText: "30000",
    help: "Lease of a running task; a task whose runner died is recovered after this",
  },
  {
    key: "kvPath",
    env: ["OPENCLAW_KV_PATH"],
    flag: "kv-path",
    kind: "string",
    defaultText: "$XDG_DATA_HOME/openclaw-mcp/tasks.kv",
    help: "Deno KV file for tasks (or :memory:)",
  },
];

const INSTANCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const httpUrl = z.string().trim().refine((text) => {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && !url.username &&
      !url.password;
  } catch {
    return false;
  }
}, "must be an http:// or https:// URL without credentials").transform((text) =>
  text.replace(/\/+$/, "")
);

const instanceEntry = z.object({
  name: z.string().regex(
    INSTANCE_NAME,
    "must be 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
  ),
  url: httpUrl,
  token: z.string().min(1, "must not be empty (leave it out for no token)").optional(),
  timeout: z.number().int().min(1).max(3_600_000).optional(),
  default: z.boolean().optional(),
  agent: z.string().regex(AGENT_ID, "must be an OpenClaw agent id like 'main'").optional(),
  model: z.string().min(1).optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
}).strict();

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
  /** Model sent to the gateway. */
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
  /** HTTP port. */
  port: number;
  /** HTTP bind address. */
  host: string;
  /** Debug logging. */
  debug: boolean;
  /** OAuth settings. */
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
  /** Deno KV path, if set. */
  kvPath?: string;
  /** Async task settings. */
  tasks: {
    concurrency: number;
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
  /** Streamable HTTP settings. */
  http: {
    stateless: boolean;
    sessionIdleMs: number;
    maxSessions: number;
    maxSessionsPerPrincipal: number;
    allowedHosts: string[];
    allowedOrigins: string[];
    authTokens: string[];
    allowInsecure: boolean;
    rateLimitPerMinute: number;
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
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Reads the `--config` file; default `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
}

type Raw = Record<string, unknown>;
type Origins = Record<string, string>;

function describe(spec: OptionSpec, origin: string, value: unknown): string {
  if (spec.secret) return `${origin} (value hidden)`;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const shown = text.length > 60 ? text.slice(0, 57) + "..." : text;
  return `${origin}=${JSON.stringify(shown)}`;
}

function coerce(spec: OptionSpec, origin: string, text: string): unknown {
  const fail = (problem: string, fix: string): never => {
    throw new ConfigError(`${describe(spec, origin, text)}: ${problem}; ${fix}`);
  };
  switch (spec.kind) {
    case "string":
      return text;
    case "url": {
      const parsed = httpUrl.safeParse(text);
      if (!parsed.success) fail("not a valid URL", "use a form like http://127.0.0.1:18789");
      return parsed.data;
    }
    case "int": {
      if (!/^-?\d+$/.test(text.trim())) {
        fail("not a whole number", `use digits only, e.g. ${spec.defaultText ?? "1"}`);
      }
      const n = Number(text);
      if (n < (spec.min ?? -Infinity) || n > (spec.max ?? Infinity)) {
        fail("out of range", `use a number from ${spec.min} to ${spec.max}`);
      }
      return n;
    }
    case "hops": {
      const t = text.trim().toLowerCase();
      if (["true", "yes", "on"].includes(t)) return 1;
      if (["false", "no", "off", ""].includes(t)) return 0;
      if (/^\d+$/.test(t)) {
        const n = Number(t);
        if (n > (spec.max ?? Infinity)) {
          fail("out of range", `use a hop count from 0 to ${spec.max}`);
        }
        return n;
      }
      // The Node server (Express) also took addresses and subnets: one proxy hop.
      return 1;
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(t)) return true;
      if (["false", "0", "no", "off", ""].includes(t)) return false;
      if (spec.lenient) return true;
      return fail("not a boolean", "use true or false");
    }
    case "list":
      return text.split(",").map((s) => s.trim()).filter(Boolean);
    case "enum":
      if (!spec.values?.includes(text)) {
        fail("not an allowed value", `use one of ${spec.values?.join(", ")}`);
      }
      return text;
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        return fail("not valid JSON", "check quotes and brackets (it must be a JSON array)");
      }
  }
}

function fromFile(path: string, read: (path: string) => string, raw: Raw, origins: Origins) {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : "cannot be read";
    throw new ConfigError(`--config ${JSON.stringify(path)}: ${why}; check the path`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(
      `--config ${JSON.stringify(path)}: not valid JSON; fix the file's syntax`,
    );
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(`--config ${JSON.stringify(path)}: must hold a JSON object`);
  }
  for (const [key, value] of Object.entries(data)) {
    const spec = OPTIONS.find((o) => o.key === key);
    if (!spec) {
      const known = OPTIONS.map((o) => o.key).join(", ");
      throw new ConfigError(
        `--config ${JSON.stringify(path)}: unknown key ${
          JSON.stringify(key)
        }; known keys: ${known}`,
      );
    }
    const origin = `config file key "${key}"`;
    // Values in the file may be typed JSON already, or strings like env values.
    raw[key] = typeof value === "string" && spec.kind !== "string"
      ? coerce(spec, origin, value)
      : checkFileValue(spec, origin, value);
    origins[key] = origin;
  }
}

function checkFileValue(spec: OptionSpec, origin: string, value: unknown): unknown {
  const expected: Record<Kind, string> = {
    string: "string",
    url: "string",
    enum: "string",
    int: "number",
    bool: "boolean",
    hops: "number",
    list: "object",
    json: "object",
  };
  if (spec.kind === "hops" && typeof value === "boolean") return value ? 1 : 0;
  if (typeof value !== expected[spec.kind] || (spec.kind === "list" && !Array.isArray(value))) {
    throw new ConfigError(
      `${describe(spec, origin, value)}: wrong type; use a ${
        spec.kind === "list" ? "JSON array of strings" : expected[spec.kind]
      }`,
    );
  }
  if (spec.kind === "int" || spec.kind === "hops") return coerce(spec, origin, String(value));
  return value;
}

function parseFlags(args: string[]) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const spec of OPTIONS) {
    if (!spec.flag) continue;
    options[spec.flag] = { type: spec.kind === "bool" && !spec.valueFlag ? "boolean" : "string" };
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

function resolveInstances(raw: Raw, origins: Origins): Instance[] {
  const timeoutMs = (raw.timeoutMs as number | undefined) ?? 120_000;
  const model = (raw.model as string | undefined) ?? "openclaw";
  if (raw.instances === undefined) {
    return [{
      name: "default",
      url: (raw.openclawUrl as string | undefined) ?? "http://127.0.0.1:18789",
      token: (raw.gatewayToken as string | undefined) || undefined,
      timeoutMs,
      isDefault: true,
      model,
    }];
  }
  const origin = origins.instances ?? "OPENCLAW_INSTANCES";
  const list = z.array(instanceEntry).min(1, "must list at least one instance").safeParse(
    raw.instances,
  );
  if (!list.success) {
    const issue = list.error.issues[0];
    const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join(
      "",
    );
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

  const raw: Raw = {};
  const origins: Origins = {};
  if (typeof flags.config === "string") {
    fromFile(flags.config, sources.readFile ?? Deno.readTextFileSync, raw, origins);
  }
  for (const spec of OPTIONS) {
    for (const name of [...(spec.env ?? [])].reverse()) {
      const text = sources.env[name];
      if (text === undefined || (text === "" && spec.kind !== "string")) continue;
      raw[spec.key] = coerce(spec, name, text);
      origins[spec.key] = name;
    }
  }
  for (const spec of OPTIONS) {
    const value = spec.flag ? flags[spec.flag] : undefined;
    if (value === undefined) continue;
    const origin = `--${spec.flag}`;
    raw[spec.key] = typeof value === "boolean" ? value : coerce(spec, origin, value);
    origins[spec.key] = origin;
  }

  const transport = (raw.transport as string | undefined) ?? "stdio";
  const config: Config = {
    transport: transport === "stdio" ? "stdio" : "http",
    instances: resolveInstances(raw, origins),
    port: (raw.port as number | undefined) ?? 3000,
    host: (raw.host as string | undefined) ?? "127.0.0.1",
    debug: (raw.debug as boolean | undefined) ?? false,
    auth: {
      enabled: (raw.authEnabled as boolean | undefined) ?? false,
      clientId: raw.clientId as string | undefined,
      clientSecret: raw.clientSecret as string | undefined,
      issuerUrl: raw.issuerUrl as string | undefined,
      redirectUris: (raw.redirectUris as string[] | undefined) ?? [...CLAUDE_CALLBACKS],
      allowDcr: (raw.allowDcr as boolean | undefined) ?? false,
      allowCimd: (raw.allowCimd as boolean | undefined) ?? false,
      cimdHosts: ((raw.cimdHosts as string[] | undefined) ?? ["claude.ai"]).map((h) =>
        h.toLowerCase()
      ),
      ownerPassword: (raw.ownerPassword as string | undefined) || undefined,
      accessTokenTtlMs: (raw.accessTokenTtlMs as number | undefined) ?? 3_600_000,
      refreshTokenTtlMs: (raw.refreshTokenTtlMs as number | undefined) ?? 30 * 86_400_000,
    },
    corsOrigins: (raw.corsOrigins as string[] | undefined) ?? [],
    trustProxy: (raw.trustProxy as number | undefined) ?? 0,
    kvPath: raw.kvPath as string | undefined,
    tasks: {
      concurrency: (raw.taskConcurrency as number | undefined) ?? 4,
      ttlMs: (raw.taskTtlMs as number | undefined) ?? 86_400_000,
      leaseMs: (raw.taskLeaseMs as number | undefined) ?? 30_000,
      maxPending: (raw.taskMaxPending as number | undefined) ?? 100,
      maxPendingBytes: (raw.taskMaxPendingBytes as number | undefined) ?? 10_000_000,
      pendingTtlMs: (raw.taskPendingTtlMs as number | undefined) ?? 86_400_000,
    },
    sessions: {
      namespace: (raw.sessionNamespace as "auto" | "on" | "off" | undefined) ?? "auto",
      allowInternalKeys: (raw.allowInternalSessionKeys as boolean | undefined) ?? false,
    },
    http: {
      stateless: (raw.stateless as boolean | undefined) ?? false,
      sessionIdleMs: (raw.sessionIdleMs as number | undefined) ?? 1_800_000,
      maxSessions: (raw.maxSessions as number | undefined) ?? 1000,
      maxSessionsPerPrincipal: (raw.maxSessionsPerPrincipal as number | undefined) ?? 100,
      allowedHosts: ((raw.allowedHosts as string[] | undefined) ?? []).map((h) => h.toLowerCase()),
      allowedOrigins: (raw.allowedOrigins as string[] | undefined) ?? [],
      authTokens: (raw.authTokens as string[] | undefined) ?? [],
      allowInsecure: (raw.allowInsecure as boolean | undefined) ?? false,
      rateLimitPerMinute: (raw.rateLimit as number | undefined) ?? 600,
    },
  };
  checkAuth(config, origins);
  return { kind: "run", config };
}

/** Claude's OAuth callbacks: the default redirect URIs of the pre-registered client. */
export const CLAUDE_CALLBACKS = [
  "https://claude.ai/api/mcp/auth_callback",
  "https://claude.com/api/mcp/auth_callback",
];

function checkAuth(config: Config, origins: Origins): void {
  const auth = config.auth;
  if (auth.clientSecret !== undefined && auth.clientSecret.length < 32) {
    throw new ConfigError(
      `${
        origins.clientSecret ?? "MCP_CLIENT_SECRET"
      } (value hidden): shorter than 32 characters; generate one with: openssl rand -hex 32`,
    );
  }
  if ((auth.clientId === undefined) !== (auth.clientSecret === undefined)) {
    throw new ConfigError(
      "MCP_CLIENT_ID and MCP_CLIENT_SECRET go together; set both (or neither)",
    );
  }
  for (const uri of auth.redirectUris) {
    if (!isSafeRedirect(uri)) {
      throw new ConfigError(
        `${origins.redirectUris ?? "MCP_REDIRECT_URIS"}=${
          JSON.stringify(uri)
        }: not an https (or loopback http) URL; list exact callback URLs`,
      );
    }
  }
}

/** An https URL, or http on a loopback host (native apps, tests); never with a fragment. */
export function isSafeRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    if (url.hash) return false;
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" &&
      ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

/** The `--help` text: every option with its flag, env name and default. */
export function helpText(): string {
  const lines = [
    `openclaw-mcp ${VERSION}: MCP server bridging MCP clients to OpenClaw gateways`,
    "",
    "Usage: openclaw-mcp [options]",
    "",
    "Options (flags win over env, env over --config file, file over defaults):",
  ];
  const rows: [string, string][] = [
    ["-h, --help", "Show this help and exit"],
    ["-V, --version", "Print the version and exit"],
    ["--config FILE", "JSON file with any option below, keyed by its config key"],
  ];
  for (const spec of OPTIONS) {
    const flag = spec.flag
      ? `${spec.short ? `-${spec.short}, ` : ""}--${spec.flag}${
        spec.kind === "bool" && !spec.valueFlag ? "" : " VALUE"
      }`
      : "(env only)";
    const env = spec.env ? ` [env ${spec.env.join(", ")}]` : "";
    const def = spec.defaultText ? ` (default: ${spec.defaultText})` : "";
    rows.push([flag, `${spec.help}${env}${def}; config key "${spec.key}"`]);
  }
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  for (const [a, b] of rows) lines.push(`  ${a.padEnd(width)}${b}`);
  return lines.join("\n");
}

/** The config with secrets removed, safe for logs and status output. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    instances: config.instances.map(({ token, ...rest }) => ({ ...rest, hasToken: !!token })),
    auth: {
      ...config.auth,
      clientSecret: config.auth.clientSecret ? "[redacted]" : undefined,
      ownerPassword: config.auth.ownerPassword ? "[redacted]" : undefined,
    },
    http: { ...config.http, authTokens: `${config.http.authTokens.length} configured` },
  };
}
