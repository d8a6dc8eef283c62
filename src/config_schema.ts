/**
 * Every option the bridge understands, as one zod schema. Each entry is the
 * option's type, which also reads its text (from env, a flag or a config
 * file), and its default; registered beside it are its env names, flag,
 * secret flag and help line. Loading, help and docs all read this table.
 *
 * Names match the Node `openclaw-mcp` server so users can switch without
 * edits. Issue messages are the user-facing "problem; fix" half of a
 * {@linkcode ConfigError} line; the loader prefixes the source.
 *
 * @module
 */
import { z } from "zod";
import { CLAUDE_CALLBACKS, isSafeRedirect } from "./auth/redirect_policy.ts";

/** Where an option comes from and how it is explained; its type and default live in its schema. */
export interface OptionMeta {
  /** Environment variable names, canonical first, then accepted aliases. */
  env?: readonly string[];
  /** Long flag without dashes. */
  flag?: string;
  /** One-letter alias, without its dash (`p` for `-p`). */
  short?: string;
  /** The flag takes no value (`--debug`); other flags take one (`--port 80`). */
  switch?: boolean;
  /** Never echo the value, not even in an error message. */
  secret?: boolean;
  /** One line for `--help` and docs/configuration.md. */
  help: string;
  /** Shown as the default when the schema has none because it is computed at startup. */
  defaultText?: string;
}

/** One option as help and docs show it. */
export interface OptionSpec extends OptionMeta {
  /** Key in the merged config and in a JSON config file. */
  key: string;
}

/** One option as the loader reads it: its spec and its schema. */
export interface OptionEntry extends OptionSpec {
  /** Reads one value (env or flag text, or a config file's JSON value) into the option's type. */
  schema: z.ZodType;
}

const WHOLE_NUMBER = /^-?\d+$/;
const DIGITS = /^\d+$/;
const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off", ""];
/** Gateway instance names, as tool arguments spell them. */
export const INSTANCE_NAME: RegExp = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const wrongType = (expected: string) => `wrong type; use a ${expected}`;

/** Env and flags give text; a config file may give the JSON type instead, read as its text. */
function textOr(json: z.ZodType, expected: string) {
  return z.union([z.string(), json.transform((value) => JSON.stringify(value))], {
    error: wrongType(expected),
  });
}

function text() {
  return z.string({ error: wrongType("string") });
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && !url.username &&
      !url.password;
  } catch {
    return false;
  }
}

/** An http(s) URL without credentials, trailing slashes dropped. */
function httpUrl(message: string) {
  return z.string().trim().refine(isHttpUrl, message).transform((url) => url.replace(/\/+$/, ""));
}

function url() {
  return text().pipe(httpUrl("not a valid URL; use a form like http://127.0.0.1:18789"));
}

/** A whole number in bounds; the text must be digits, the default is the example. */
function int(bounds: { min: number; max: number; default: number }) {
  const range = `out of range; use a number from ${bounds.min} to ${bounds.max}`;
  return textOr(z.number(), "number")
    .pipe(
      z.string().trim().regex(
        WHOLE_NUMBER,
        `not a whole number; use digits only, e.g. ${bounds.default}`,
      ),
    )
    .pipe(z.coerce.number<string>().min(bounds.min, range).max(bounds.max, range))
    .default(bounds.default);
}

/**
 * true/1/yes/on or false/0/no/off (any case); lenient: anything but an
 * explicit false is true. Unset: `options.default` (false unless given).
 */
function bool(options: { lenient?: boolean; default?: boolean } = {}) {
  const words = z.stringbool({
    truthy: TRUE_WORDS,
    falsy: FALSE_WORDS,
    error: "not a boolean; use true or false",
  });
  return textOr(z.boolean(), "boolean")
    .pipe(z.string().trim().pipe(options.lenient ? words.catch(true) : words))
    .default(options.default ?? false);
}

/** Comma-separated text (blanks dropped) or a JSON array of strings, each item read by `item`. */
function list(item: z.ZodType<string, string> = z.string()) {
  const split = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
  return z.union([z.array(z.string()), z.string().transform(split)], {
    error: wrongType("JSON array of strings"),
  }).pipe(z.array(item));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return text().pipe(
    z.enum(values, { error: `not an allowed value; use one of ${values.join(", ")}` }),
  );
}

/**
 * Reverse proxies in front of us: true/false (1/0) or a hop count. The Node
 * server (Express) also took addresses and subnets: those mean one hop.
 */
function hopCount(max: number) {
  const hops = (text: string) =>
    TRUE_WORDS.includes(text)
      ? "1"
      : FALSE_WORDS.includes(text)
      ? "0"
      : DIGITS.test(text)
      ? text
      : "1";
  return textOr(z.union([z.boolean(), z.number()]), "number or a boolean")
    .pipe(z.string().trim().toLowerCase().transform(hops))
    .pipe(z.coerce.number<string>().max(max, `out of range; use a hop count from 0 to ${max}`))
    .default(0);
}

/** JSON text, or a config file's JSON value as is; {@linkcode instancesSchema} checks its shape. */
function json() {
  return z.unknown().transform((value, ctx): unknown => {
    if (typeof value !== "string") return value;
    try {
      const data: unknown = JSON.parse(value);
      return data;
    } catch {
      ctx.addIssue({
        code: "custom",
        message: "not valid JSON; check quotes and brackets (it must be a JSON array)",
      });
      return z.NEVER;
    }
  });
}

const registry = z.registry<OptionMeta>();

function option<T extends z.ZodType>(schema: T, meta: OptionMeta): T {
  registry.add(schema, meta);
  return schema;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Every option: key (config key) to type, default and (registered) metadata. */
export const optionsSchema = z.object({
  openclawUrl: option(url().default("http://127.0.0.1:18789"), {
    env: ["OPENCLAW_URL"],
    flag: "openclaw-url",
    short: "u",
    help: "OpenClaw gateway URL (single-instance mode)",
  }),
  gatewayToken: option(text().optional(), {
    env: ["OPENCLAW_GATEWAY_TOKEN"],
    flag: "gateway-token",
    secret: true,
    help: "Bearer token for the gateway (single-instance mode)",
  }),
  model: option(text().default("openclaw"), {
    env: ["OPENCLAW_MODEL"],
    flag: "model",
    short: "m",
    help: "Model name sent to the gateway",
  }),
  timeoutMs: option(int({ min: 1, max: HOUR, default: 120_000 }), {
    env: ["OPENCLAW_TIMEOUT_MS"],
    flag: "timeout",
    help: "Gateway request timeout in milliseconds",
  }),
  instances: option(json().optional(), {
    env: ["OPENCLAW_INSTANCES"],
    help: 'JSON array of gateways: [{"name","url","token?","timeout?","default?","agent?"}]',
  }),
  transport: option(
    oneOf(["stdio", "http", "sse"]).transform((t) => t === "sse" ? "http" : t).default("stdio"),
    {
      env: ["MCP_TRANSPORT"],
      flag: "transport",
      short: "t",
      help: "MCP transport: stdio, or http (Streamable HTTP at /mcp; sse is an alias)",
    },
  ),
  port: option(int({ min: 0, max: 65535, default: 3000 }), {
    env: ["PORT"],
    flag: "port",
    short: "p",
    help: "HTTP port",
  }),
  host: option(text().default("127.0.0.1"), {
    env: ["HOST"],
    flag: "host",
    help: "HTTP bind address",
  }),
  debug: option(bool({ lenient: true }), {
    env: ["DEBUG"],
    flag: "debug",
    switch: true,
    help: "Log debug events to stderr",
  }),
  authEnabled: option(bool(), {
    env: ["AUTH_ENABLED", "OAUTH_ENABLED"],
    flag: "auth",
    switch: true,
    help: "Require OAuth 2.1 on the HTTP transport",
  }),
  clientId: option(text().optional(), {
    env: ["MCP_CLIENT_ID"],
    flag: "client-id",
    help: "Pre-registered OAuth client id",
  }),
  clientSecret: option(
    text().min(32, "shorter than 32 characters; generate one with: openssl rand -hex 32")
      .optional(),
    {
      env: ["MCP_CLIENT_SECRET"],
      flag: "client-secret",
      secret: true,
      help: "Pre-registered OAuth client secret (at least 32 characters)",
    },
  ),
  issuerUrl: option(url().optional(), {
    env: ["MCP_ISSUER_URL"],
    flag: "issuer-url",
    help: "Public base URL of this server (OAuth issuer)",
  }),
  redirectUris: option(
    list(
      z.string().refine(
        isSafeRedirect,
        "not an https (or loopback http) URL; list exact callback URLs",
      ),
    ).default([...CLAUDE_CALLBACKS]),
    {
      env: ["MCP_REDIRECT_URIS"],
      flag: "redirect-uris",
      help: "Comma-separated OAuth redirect URIs for the pre-registered client",
    },
  ),
  allowDcr: option(bool(), {
    env: ["MCP_ALLOW_DCR", "MCP_DANGEROUSLY_ALLOW_DCR", "MCP_DANGEROUSLY_ALLOW_DCR_PUBLIC"],
    flag: "allow-dcr",
    switch: true,
    help: "Allow OAuth dynamic client registration (POST /register)",
  }),
  allowCimd: option(bool(), {
    env: ["MCP_ALLOW_CIMD"],
    help: "Accept OAuth Client ID Metadata Documents (https client_id URLs)",
  }),
  cimdHosts: option(list(z.string().toLowerCase()).default(["claude.ai"]), {
    env: ["MCP_CIMD_HOSTS"],
    help: "Hosts whose client metadata documents are trusted",
  }),
  ownerPassword: option(text().optional(), {
    env: ["MCP_OWNER_PASSWORD"],
    secret: true,
    help:
      "Password the owner types on the consent page to approve a new OAuth client (and, ticking Owner access, make that login an owner)",
  }),
  accessTokenTtlMs: option(int({ min: 1_000, max: 30 * DAY, default: HOUR }), {
    env: ["MCP_ACCESS_TOKEN_TTL_MS"],
    help: "OAuth access token lifetime (ms)",
  }),
  refreshTokenTtlMs: option(int({ min: 1_000, max: 365 * DAY, default: 30 * DAY }), {
    env: ["MCP_REFRESH_TOKEN_TTL_MS"],
    help: "OAuth refresh token lifetime (ms)",
  }),
  corsOrigins: option(list().default([]), {
    env: ["CORS_ORIGINS"],
    help: "Comma-separated CORS origins (off unless set)",
  }),
  trustProxy: option(hopCount(10), {
    env: ["TRUST_PROXY"],
    flag: "trust-proxy",
    help:
      "Reverse proxies in front of this server whose X-Forwarded-For is trusted: false (0), true (1) or a hop count; the client is the entry that many from the right",
  }),
  stateless: option(bool(), {
    env: ["MCP_STATELESS"],
    flag: "stateless",
    switch: true,
    help:
      "HTTP without sessions: a fresh server per request, JSON responses (replicas, Deno Deploy)",
  }),
  sessionIdleMs: option(int({ min: 100, max: 7 * DAY, default: 30 * 60_000 }), {
    env: ["MCP_SESSION_IDLE_MS"],
    help: "HTTP sessions idle this long (ms) are closed",
  }),
  maxSessions: option(int({ min: 1, max: 1_000_000, default: 1000 }), {
    env: ["MCP_MAX_SESSIONS"],
    help: "Most live HTTP sessions; more get 503",
  }),
  maxSessionsPerPrincipal: option(int({ min: 1, max: 1_000_000, default: 100 }), {
    env: ["MCP_MAX_SESSIONS_PER_PRINCIPAL"],
    help:
      "Most live HTTP sessions per principal (token or OAuth login); past it the principal's oldest idle session is closed",
  }),
  sessionNamespace: option(oneOf(["auto", "on", "off"]).default("auto"), {
    env: ["MCP_SESSION_NAMESPACE"],
    help:
      "Prefix session_id with the caller's principal before it reaches the gateway: auto (when more than one principal can exist), on, off",
  }),
  allowInternalSessionKeys: option(bool(), {
    env: ["MCP_ALLOW_INTERNAL_SESSION_KEYS"],
    help:
      "Accept session_id values shaped like OpenClaw's own session keys (agent:main:main); only with MCP_SESSION_NAMESPACE off",
  }),
  allowedHosts: option(list(z.string().toLowerCase()).default([]), {
    env: ["MCP_ALLOWED_HOSTS"],
    help: "Extra Host names accepted (DNS-rebinding protection); loopback names always are",
  }),
  allowedOrigins: option(list().default([]), {
    env: ["MCP_ALLOWED_ORIGINS"],
    help: "Extra browser Origins accepted, e.g. https://app.example.com",
  }),
  authTokens: option(list().default([]), {
    env: ["MCP_AUTH_TOKENS"],
    flag: "auth-token",
    secret: true,
    help: "Static bearer tokens accepted on /mcp (comma-separated)",
  }),
  ownerTokens: option(list().default([]), {
    env: ["MCP_OWNER_TOKENS"],
    flag: "owner-token",
    secret: true,
    help:
      "Static bearer tokens accepted on /mcp whose callers are owners: all conversations (openclaw_sessions/openclaw_history) and approvals too (comma-separated; MCP_AUTH_TOKENS callers see only their own)",
  }),
  recallTools: option(oneOf(["off", "owner", "all"]).default("owner"), {
    env: ["OPENCLAW_RECALL_TOOLS"],
    help:
      "openclaw_sessions/openclaw_history: owner (owners see every conversation, others only their own), all (everyone sees every conversation), off (tools not offered)",
  }),
  approvals: option(oneOf(["off", "owner"]).default("owner"), {
    env: ["OPENCLAW_APPROVALS"],
    help:
      "openclaw_approvals/openclaw_approval_respond (gateway WebSocket) and waiting_for_approval in task status: owner (owners only: stdio, MCP_OWNER_TOKENS, OAuth owner grants), off (no tools, no WebSocket)",
  }),
  metricsToken: option(text().optional(), {
    env: ["MCP_METRICS_TOKEN"],
    flag: "metrics-token",
    secret: true,
    help:
      "Bearer token that may read /metrics (Prometheus); MCP_AUTH_TOKENS tokens may too, OAuth tokens never; with no auth at all, loopback clients of a loopback bind may",
  }),
  allowInsecure: option(bool(), {
    env: ["MCP_ALLOW_INSECURE"],
    flag: "allow-insecure",
    switch: true,
    help: "Allow serving a non-loopback address without any authentication",
  }),
  operatorPage: option(bool({ default: true }), {
    env: ["MCP_OPERATOR_PAGE"],
    help:
      "Serve the owner's operator page at / (HTTP only; owner password, static token or a loopback client without auth; see docs/operator.md); false answers 404",
  }),
  rateLimit: option(int({ min: 0, max: 1_000_000, default: 600 }), {
    env: ["MCP_RATE_LIMIT"],
    help:
      "Requests per minute per principal (the client address without auth) on /mcp, counted in each process (0 turns the limit off)",
  }),
  taskConcurrency: option(int({ min: 1, max: 256, default: 4 }), {
    env: ["OPENCLAW_TASK_CONCURRENCY"],
    flag: "task-concurrency",
    help: "Most async tasks running at once in this process",
  }),
  taskGlobalConcurrency: option(int({ min: 0, max: 100_000, default: 0 }), {
    env: ["OPENCLAW_TASK_GLOBAL_CONCURRENCY"],
    help: "Most async tasks running at once across every process on the same KV (0: no limit)",
  }),
  taskMaxPending: option(int({ min: 1, max: 1_000_000, default: 100 }), {
    env: ["OPENCLAW_TASK_MAX_PENDING"],
    help: "Most pending async tasks per principal; more are refused with quota_exceeded",
  }),
  taskMaxPendingBytes: option(int({ min: 1_000, max: 10_000_000_000, default: 10_000_000 }), {
    env: ["OPENCLAW_TASK_MAX_PENDING_BYTES"],
    help: "Most message bytes (UTF-8) in one principal's pending async tasks",
  }),
  taskPendingTtlMs: option(int({ min: 1_000, max: 365 * DAY, default: DAY }), {
    env: ["OPENCLAW_TASK_PENDING_TTL_MS"],
    help: "A task still pending this long after it was queued fails as expired (ms)",
  }),
  taskTtlMs: option(int({ min: 1_000, max: 365 * DAY, default: DAY }), {
    env: ["OPENCLAW_TASK_TTL_MS"],
    help: "How long finished tasks are kept, in milliseconds",
  }),
  taskLeaseMs: option(int({ min: 300, max: HOUR, default: 30_000 }), {
    env: ["OPENCLAW_TASK_LEASE_MS"],
    help: "Lease of a running task; a task whose runner died is recovered after this",
  }),
  kvPath: option(text().optional(), {
    env: ["OPENCLAW_KV_PATH"],
    flag: "kv-path",
    defaultText: "$XDG_DATA_HOME/openclaw-mcp/tasks.kv",
    help: "Deno KV file for tasks (or :memory:)",
  }),
});

/** Every option's value once read and defaulted: the flat form of the config. */
export type Options = z.output<typeof optionsSchema>;

/** How a default is shown in help and docs. */
function shown(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(",") : String(value)) || undefined;
}

/** Every option in table order, with its metadata, schema and the default it shows. */
export const OPTION_ENTRIES: readonly OptionEntry[] = Object.entries(optionsSchema.shape).map(
  ([key, schema]) => {
    const meta = registry.get(schema);
    if (!meta) throw new Error(`option "${key}" has no metadata; declare it with option()`);
    return {
      ...meta,
      key,
      schema,
      defaultText: meta.defaultText ?? shown(schema.parse(undefined)),
    };
  },
);

/** Every option in table order, as help and docs show it. */
export const OPTIONS: readonly OptionSpec[] = OPTION_ENTRIES;

/** One entry of `OPENCLAW_INSTANCES` (or `instances` in a config file). */
export const instanceSchema = z.object({
  name: z.string().regex(
    INSTANCE_NAME,
    "must be 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
  ),
  url: httpUrl("must be an http:// or https:// URL without credentials"),
  token: z.string().min(1, "must not be empty (leave it out for no token)").optional(),
  timeout: z.number().int().min(1).max(HOUR).optional(),
  default: z.boolean().optional(),
  agent: z.string().regex(AGENT_ID, "must be an OpenClaw agent id like 'main'").optional(),
  model: z.string().min(1).optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
}).strict();

/** The whole `OPENCLAW_INSTANCES` list; names and the default mark are checked by the loader. */
export const instancesSchema = z.array(instanceSchema).min(1, "must list at least one instance");
