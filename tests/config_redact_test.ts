import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { redactedConfig } from "../src/config_redact.ts";
import { OPTIONS } from "../src/config_schema.ts";

Deno.test("config redact: no secret option's value reaches the redacted view", () => {
  const secrets = OPTIONS.filter((o) => o.secret);
  assert.ok(secrets.length >= 4, "gateway token, client secret, owner password, bearer tokens");
  const env: Record<string, string> = { MCP_CLIENT_ID: "cid" };
  for (const o of secrets) {
    const name = o.env?.[0];
    assert.ok(name, `${o.key} is settable from env`);
    env[name] = `secret-${o.key}-0123456789abcdef0123456789abcdef`;
  }
  const command = loadConfig({ args: [], env });
  assert.ok(command.kind === "run");
  const text = JSON.stringify(redactedConfig(command.config));
  for (const o of secrets) assert.doesNotMatch(text, new RegExp(`secret-${o.key}`), o.key);
  assert.match(text, /"clientId":"cid"/, "what is not secret stays visible");
});

Deno.test("config redact: instances show whether they have a token, never the token", () => {
  const command = loadConfig({
    args: [],
    env: {
      OPENCLAW_INSTANCES: JSON.stringify([
        { name: "a", url: "http://127.0.0.1:1", token: "instance-token-a" },
        { name: "b", url: "http://127.0.0.1:2" },
      ]),
    },
  });
  assert.ok(command.kind === "run");
  const view = redactedConfig(command.config);
  assert.doesNotMatch(JSON.stringify(view), /instance-token-a/);
  assert.deepEqual(
    (view.instances as { hasToken: boolean }[]).map((i) => i.hasToken),
    [true, false],
  );
});
