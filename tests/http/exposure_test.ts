import assert from "node:assert/strict";
import { type Config, ConfigError, loadConfig } from "../../src/config.ts";
import { checkExposure, MIN_PASSWORD_CHARS, MIN_TOKEN_CHARS } from "../../src/http/serve.ts";
import { runMain } from "../../testing/spawn.ts";

function config(env: Record<string, string>): Config {
  const command = loadConfig({ args: ["--transport", "http"], env });
  assert.equal(command.kind, "run");
  return (command as { config: Config }).config;
}

const strong = "0123456789abcdef0123456789abcdef";

Deno.test("exposure: a short static token is refused on a public bind, naming the variable, never the value", () => {
  const short = "x".repeat(MIN_TOKEN_CHARS - 1);
  assert.throws(
    () => checkExposure(config({ HOST: "0.0.0.0", MCP_AUTH_TOKENS: `${strong},${short}` })),
    (e: unknown) =>
      e instanceof ConfigError && /MCP_AUTH_TOKENS/.test(e.message) &&
      /token 2 is shorter than 16 characters/.test(e.message) &&
      /openssl rand -hex 32/.test(e.message) && !e.message.includes(short),
  );
  // The same token is fine on loopback (a local tool), and a long one anywhere.
  checkExposure(config({ HOST: "127.0.0.1", MCP_AUTH_TOKENS: "x" }));
  checkExposure(config({ HOST: "0.0.0.0", MCP_AUTH_TOKENS: strong }));
});

Deno.test("exposure: a short metrics token is refused on a public bind, never echoed", () => {
  const short = "m".repeat(MIN_TOKEN_CHARS - 1);
  assert.throws(
    () =>
      checkExposure(config({ HOST: "0.0.0.0", MCP_AUTH_TOKENS: strong, MCP_METRICS_TOKEN: short })),
    (e: unknown) =>
      e instanceof ConfigError &&
      /MCP_METRICS_TOKEN\/--metrics-token \(value hidden\): shorter than 16/.test(e.message) &&
      !e.message.includes(short),
  );
  checkExposure(config({ HOST: "127.0.0.1", MCP_METRICS_TOKEN: "m" }));
  checkExposure(config({ HOST: "0.0.0.0", MCP_AUTH_TOKENS: strong, MCP_METRICS_TOKEN: strong }));
});

Deno.test("exposure: a short owner password is refused on a public bind with OAuth on", () => {
  const env = { HOST: "0.0.0.0", AUTH_ENABLED: "true", MCP_ISSUER_URL: "https://mcp.example" };
  const short = "p".repeat(MIN_PASSWORD_CHARS - 1);
  assert.throws(
    () => checkExposure(config({ ...env, MCP_OWNER_PASSWORD: short })),
    (e: unknown) =>
      e instanceof ConfigError && /MCP_OWNER_PASSWORD \(value hidden\): shorter than 12/.test(
        e.message,
      ) && !e.message.includes(short),
  );
  checkExposure(config({ ...env, MCP_OWNER_PASSWORD: "p".repeat(MIN_PASSWORD_CHARS) }));
  checkExposure(config({ ...env, HOST: "127.0.0.1", MCP_OWNER_PASSWORD: "p" }));
});

Deno.test("exposure: the command exits 2 with one line for a 1-character token on 0.0.0.0", {
  sanitizeResources: false,
}, async () => {
  const run = await runMain(["--transport", "http", "--host", "0.0.0.0", "--port", "0"], {
    env: { MCP_AUTH_TOKENS: "k" },
  });
  assert.equal(run.code, 2);
  assert.equal(run.stderr.trim().split("\n").length, 1);
  assert.match(run.stderr, /token 1 is shorter than 16 characters/);
});
