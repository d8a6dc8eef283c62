import assert from "node:assert/strict";
import { type Config, ConfigError, loadConfig } from "../src/config.ts";
import { helpText } from "../src/config_help.ts";
import { redactedConfig } from "../src/config_redact.ts";
import { OPTIONS } from "../src/config_schema.ts";

function run(
  args: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): Config {
  const command = loadConfig({
    args,
    env,
    readFile: (path) => {
      if (!(path in files)) throw new Deno.errors.NotFound(path);
      return files[path];
    },
  });
  assert.equal(command.kind, "run");
  return (command as { config: Config }).config;
}

function fails(
  args: string[],
  env: Record<string, string>,
  pattern: RegExp,
  files: Record<string, string> = {},
): string {
  try {
    run(args, env, files);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/, "one line");
    return error.message;
  }
  throw new Error(`expected a ConfigError matching ${pattern}`);
}

Deno.test("config: defaults match the Node server", () => {
  const config = run([]);
  assert.equal(config.transport, "stdio");
  assert.equal(config.port, 3000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.debug, false);
  assert.equal(config.auth.enabled, false);
  assert.deepEqual(config.instances, [{
    name: "default",
    url: "http://127.0.0.1:18789",
    token: undefined,
    timeoutMs: 120_000,
    isDefault: true,
    model: "openclaw",
  }]);
});

Deno.test("config: every env name of the Node server is read", () => {
  const config = run([], {
    OPENCLAW_URL: "http://gw.local:1234/",
    OPENCLAW_GATEWAY_TOKEN: "tok",
    OPENCLAW_MODEL: "openclaw/main",
    OPENCLAW_TIMEOUT_MS: "5000",
    PORT: "8080",
    HOST: "0.0.0.0",
    DEBUG: "true",
    AUTH_ENABLED: "true",
    MCP_CLIENT_ID: "cid",
    MCP_CLIENT_SECRET: "s".repeat(32),
    MCP_ISSUER_URL: "https://mcp.example.com",
    MCP_REDIRECT_URIS: "https://a.example/cb, https://b.example/cb",
    CORS_ORIGINS: "https://claude.ai,*.example.com",
    TRUST_PROXY: "1",
    OPENCLAW_KV_PATH: ":memory:",
    MCP_TRANSPORT: "sse",
  });
  assert.equal(config.instances[0].url, "http://gw.local:1234");
  assert.equal(config.instances[0].token, "tok");
  assert.equal(config.instances[0].model, "openclaw/main");
  assert.equal(config.instances[0].timeoutMs, 5000);
  assert.equal(config.port, 8080);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.debug, true);
  assert.equal(config.transport, "http", "sse is an alias of http");
  assert.deepEqual(config.auth, {
    enabled: true,
    clientId: "cid",
    clientSecret: "s".repeat(32),
    issuerUrl: "https://mcp.example.com",
    redirectUris: ["https://a.example/cb", "https://b.example/cb"],
    allowDcr: false,
    allowCimd: false,
    cimdHosts: ["claude.ai"],
    ownerPassword: undefined,
    accessTokenTtlMs: 3_600_000,
    refreshTokenTtlMs: 2_592_000_000,
  });
  const oauth = run([], {
    MCP_DANGEROUSLY_ALLOW_DCR: "true",
    MCP_ALLOW_CIMD: "true",
    MCP_CIMD_HOSTS: "Claude.ai,cimd.example",
    MCP_OWNER_PASSWORD: "pw",
  }).auth;
  assert.equal(oauth.allowDcr, true, "the old DCR name is accepted");
  assert.equal(oauth.allowCimd, true);
  assert.deepEqual(oauth.cimdHosts, ["claude.ai", "cimd.example"]);
  assert.deepEqual(run([]).auth.redirectUris, [
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
  ]);
  assert.deepEqual(config.corsOrigins, ["https://claude.ai", "*.example.com"]);
  assert.equal(config.trustProxy, 1);
  assert.equal(config.kvPath, ":memory:");
  assert.equal(run([], { OAUTH_ENABLED: "true" }).auth.enabled, true, "OAUTH_ENABLED alias");
});

Deno.test("config: every flag is read, short forms too", () => {
  const config = run([
    "-u",
    "http://127.0.0.1:9",
    "--gateway-token",
    "t",
    "-m",
    "openclaw/x",
    "-t",
    "http",
    "-p",
    "9000",
    "--host",
    "::1",
    "--timeout",
    "42",
    "--debug",
    "--auth",
    "--client-id",
    "c",
    "--client-secret",
    "x".repeat(40),
    "--issuer-url",
    "https://i.example",
    "--redirect-uris",
    "https://r.example/cb",
    "--kv-path",
    "/tmp/x.kv",
  ]);
  assert.equal(config.instances[0].url, "http://127.0.0.1:9");
  assert.equal(config.instances[0].token, "t");
  assert.equal(config.instances[0].model, "openclaw/x");
  assert.equal(config.instances[0].timeoutMs, 42);
  assert.equal(config.transport, "http");
  assert.equal(config.port, 9000);
  assert.equal(config.host, "::1");
  assert.equal(config.debug, true);
  assert.equal(config.auth.enabled, true);
  assert.equal(config.auth.clientId, "c");
  assert.equal(config.auth.issuerUrl, "https://i.example");
  assert.deepEqual(config.auth.redirectUris, ["https://r.example/cb"]);
  assert.equal(config.kvPath, "/tmp/x.kv");
  const compat = run(["--allow-dcr", "--trust-proxy", "10.0.0.0/8"]);
  assert.equal(compat.auth.allowDcr, true, "the Node server's --allow-dcr");
  assert.equal(compat.trustProxy, 1, "the Node server's --trust-proxy takes a value");
  assert.equal(run(["--trust-proxy", "false"]).trustProxy, 0);
  assert.equal(run(["--trust-proxy", "2"]).trustProxy, 2, "a hop count");
  assert.equal(run([], { MCP_DANGEROUSLY_ALLOW_DCR_PUBLIC: "true" }).auth.allowDcr, true);
});

Deno.test("config: precedence is defaults < file < env < flags", () => {
  const files = {
    "c.json": JSON.stringify({ timeoutMs: 1000, port: 1111, host: "::1", debug: true }),
  };
  const fileOnly = run(["--config", "c.json"], {}, files);
  assert.equal(fileOnly.instances[0].timeoutMs, 1000);
  assert.equal(fileOnly.port, 1111);
  assert.equal(fileOnly.debug, true);
  const envWins = run(["--config", "c.json"], { OPENCLAW_TIMEOUT_MS: "2000", PORT: "2222" }, files);
  assert.equal(envWins.instances[0].timeoutMs, 2000);
  assert.equal(envWins.port, 2222);
  assert.equal(envWins.host, "::1", "file value kept where env is silent");
  const flagWins = run(
    ["--config", "c.json", "--timeout", "3000"],
    { OPENCLAW_TIMEOUT_MS: "2000" },
    files,
  );
  assert.equal(flagWins.instances[0].timeoutMs, 3000);
  assert.equal(flagWins.port, 1111);
});

Deno.test("config: a config file may hold instances and string values", () => {
  const files = {
    "c.json": JSON.stringify({
      timeoutMs: "900",
      instances: [{ name: "a", url: "http://127.0.0.1:1" }, {
        name: "b",
        url: "http://127.0.0.1:2",
        timeout: 50,
        default: true,
        agent: "main",
        concurrency: 2,
      }],
    }),
  };
  const config = run(["--config", "c.json"], {}, files);
  assert.deepEqual(config.instances.map((i) => [i.name, i.isDefault, i.timeoutMs, i.agent]), [
    ["a", false, 900, undefined],
    ["b", true, 50, "main"],
  ]);
  assert.equal(config.instances[1].concurrency, 2);
});

Deno.test("config: OPENCLAW_INSTANCES default is the first one unless marked", () => {
  const two = JSON.stringify([{ name: "one", url: "http://127.0.0.1:1" }, {
    name: "two",
    url: "https://gw.example",
    token: "t2",
  }]);
  const config = run([], { OPENCLAW_INSTANCES: two, OPENCLAW_GATEWAY_TOKEN: "ignored" });
  assert.deepEqual(config.instances.map((i) => i.isDefault), [true, false]);
  assert.equal(config.instances[0].token, undefined, "instances do not inherit the global token");
  assert.equal(config.instances[1].token, "t2");
});

Deno.test("config: every bad value names its source and the fix", () => {
  fails(
    [],
    { OPENCLAW_TIMEOUT_MS: "abc" },
    /^OPENCLAW_TIMEOUT_MS="abc": not a whole number; use digits/,
  );
  fails(
    [],
    { OPENCLAW_TIMEOUT_MS: "0" },
    /OPENCLAW_TIMEOUT_MS="0": out of range; use a number from 1/,
  );
  fails(["--timeout=-5"], {}, /--timeout="-5": out of range/);
  fails(["--timeout", "-5"], {}, /^Option '--timeout' argument is ambiguous; run with --help/);
  fails([], { PORT: "70000" }, /PORT="70000": out of range; use a number from 0 to 65535/);
  fails(
    [],
    { OPENCLAW_URL: "ftp://x" },
    /OPENCLAW_URL="ftp:\/\/x": not a valid URL; use a form like http/,
  );
  fails([], { OPENCLAW_URL: "http://user:pw@host" }, /OPENCLAW_URL=.*not a valid URL/);
  fails(
    ["-t", "websocket"],
    {},
    /--transport="websocket": not an allowed value; use one of stdio, http, sse/,
  );
  fails([], { AUTH_ENABLED: "maybe" }, /AUTH_ENABLED="maybe": not a boolean; use true or false/);
  fails([], { OPENCLAW_INSTANCES: "[{" }, /OPENCLAW_INSTANCES=.*not valid JSON/);
  fails([], { OPENCLAW_INSTANCES: "[]" }, /OPENCLAW_INSTANCES: must list at least one instance/);
  fails(
    [],
    { OPENCLAW_INSTANCES: '[{"name":"Bad Name","url":"http://x"}]' },
    /OPENCLAW_INSTANCES\[0\]\.name: must be 1-63 lowercase/,
  );
  fails(
    [],
    { OPENCLAW_INSTANCES: '[{"name":"a","url":"nope"}]' },
    /OPENCLAW_INSTANCES\[0\]\.url: must be an http/,
  );
  fails(
    [],
    { OPENCLAW_INSTANCES: '[{"name":"a","url":"http://x","colour":"red"}]' },
    /OPENCLAW_INSTANCES\[0\]/,
  );
  fails(
    [],
    { OPENCLAW_INSTANCES: '[{"name":"a","url":"http://x"},{"name":"a","url":"http://y"}]' },
    /instance name "a" is used twice/,
  );
  fails(
    [],
    {
      OPENCLAW_INSTANCES:
        '[{"name":"a","url":"http://x","default":true},{"name":"b","url":"http://y","default":true}]',
    },
    /2 instances are marked default \(a, b\); mark exactly one/,
  );
  fails(["--bogus"], {}, /Unknown option '--bogus'.*run with --help/);
  fails(
    [],
    { MCP_CLIENT_ID: "c", MCP_CLIENT_SECRET: "short" },
    /MCP_CLIENT_SECRET \(value hidden\): shorter than 32/,
  );
  fails([], { MCP_CLIENT_ID: "c" }, /MCP_CLIENT_ID and MCP_CLIENT_SECRET go together/);
  fails(
    [],
    { MCP_REDIRECT_URIS: "http://evil.example/cb" },
    /MCP_REDIRECT_URIS="http:\/\/evil.example\/cb": not an https/,
  );
  fails(["--config", "missing.json"], {}, /--config "missing.json": file not found/);
  fails(["--config", "c.json"], {}, /not valid JSON/, { "c.json": "{" });
  fails(["--config", "c.json"], {}, /unknown key "timeout"; known keys/, {
    "c.json": '{"timeout":5}',
  });
  fails(["--config", "c.json"], {}, /config file key "port".*wrong type/, {
    "c.json": '{"port":true}',
  });
});

Deno.test("config: errors never echo a secret", () => {
  const message = fails(
    [],
    { OPENCLAW_INSTANCES: '[{"name":"a","url":"http://x","token":12345678}]' },
    /OPENCLAW_INSTANCES\[0\]\.token/,
  );
  assert.doesNotMatch(message, /12345678/);
  const file = fails(["--config", "c.json"], {}, /clientSecret.*value hidden/, {
    "c.json": '{"clientSecret": 987654321}',
  });
  assert.doesNotMatch(file, /987654321/);
});

Deno.test("config: DEBUG is lenient, other booleans are strict", () => {
  assert.equal(run([], { DEBUG: "openclaw:*" }).debug, true);
  assert.equal(run([], { DEBUG: "false" }).debug, false);
  assert.equal(run([], { DEBUG: "" }).debug, false);
});

Deno.test("config: help lists every option with env and default; version prints", () => {
  const help = helpText();
  for (const spec of OPTIONS) {
    for (const name of spec.env ?? []) assert.ok(help.includes(name), `help mentions ${name}`);
    if (spec.flag) assert.ok(help.includes(`--${spec.flag}`), `help mentions --${spec.flag}`);
    if (spec.defaultText) assert.ok(help.includes(spec.defaultText), `default of ${spec.key}`);
  }
  assert.equal(loadConfig({ args: ["-h"], env: {} }).kind, "help");
  const version = loadConfig({ args: ["-V"], env: {} });
  assert.equal(version.kind, "version");
  assert.match((version as { text: string }).text, /^openclaw-mcp \d+\.\d+\.\d+$/);
});

Deno.test("config: the redacted view hides tokens and the client secret", () => {
  const config = run([], {
    OPENCLAW_GATEWAY_TOKEN: "gw-secret",
    MCP_CLIENT_ID: "cid",
    MCP_CLIENT_SECRET: "client-secret-value-0123456789abcdef",
    MCP_OWNER_PASSWORD: "owner-pass-word",
    MCP_AUTH_TOKENS: "static-token-1",
  });
  const text = JSON.stringify(redactedConfig(config));
  assert.doesNotMatch(text, /gw-secret|client-secret-value|owner-pass-word|static-token-1/);
  assert.match(text, /"hasToken":true/);
});

Deno.test("config: a bad value fails even where a later source overrides it", () => {
  fails(["--port", "80"], { PORT: "abc" }, /^PORT="abc": not a whole number/);
  fails([], { MCP_ALLOW_DCR: "true", MCP_DANGEROUSLY_ALLOW_DCR: "maybe" }, /ALLOW_DCR="maybe"/);
  assert.equal(
    run([], { MCP_ALLOW_DCR: "false", MCP_DANGEROUSLY_ALLOW_DCR: "true" }).auth.allowDcr,
    false,
    "the canonical name wins over an alias",
  );
});

Deno.test("config: an empty variable is unset, except for free text", () => {
  const config = run([], { PORT: "", MCP_REDIRECT_URIS: "", DEBUG: "", OPENCLAW_MODEL: "" });
  assert.equal(config.port, 3000);
  assert.equal(config.auth.redirectUris.length, 2, "the default callbacks stay");
  assert.equal(config.instances[0].model, "", "free text takes the empty string");
  assert.equal(run([], { OPENCLAW_GATEWAY_TOKEN: "" }).instances[0].token, undefined);
});

Deno.test("config: an error inside a list names the item, and file lists hold strings", () => {
  const uri = "http://evil.example/" + "x".repeat(80);
  fails([], { MCP_REDIRECT_URIS: `https://ok.example/cb,${uri}` }, new RegExp(`="${uri}": not`));
  fails(["--config", "c.json"], {}, /"allowedHosts".*wrong type; use a JSON array of strings/, {
    "c.json": '{"allowedHosts":["a", 5]}',
  });
  const hosts = run(["--config", "c.json"], {}, { "c.json": '{"allowedHosts":["A.example"]}' });
  assert.deepEqual(hosts.http.allowedHosts, ["a.example"]);
});
