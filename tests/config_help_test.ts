import assert from "node:assert/strict";
import { flagForms, helpText } from "../src/config_help.ts";
import { OPTIONS } from "../src/config_schema.ts";
import { VERSION } from "../src/version.ts";

function spec(key: string) {
  const found = OPTIONS.find((o) => o.key === key);
  if (!found) throw new Error(`no option ${key}`);
  return found;
}

Deno.test("config help: flag forms put the short flag first and VALUE after value flags", () => {
  assert.deepEqual(flagForms(spec("openclawUrl")), ["-u", "--openclaw-url VALUE"]);
  assert.deepEqual(flagForms(spec("debug")), ["--debug"], "a switch takes no value");
  assert.deepEqual(flagForms(spec("trustProxy")), ["--trust-proxy VALUE"]);
  assert.deepEqual(flagForms(spec("allowCimd")), [], "env only");
});

Deno.test("config help: one row per option with env names, default and config key", () => {
  const help = helpText();
  assert.ok(help.startsWith(`openclaw-mcp ${VERSION}: `));
  for (const o of OPTIONS) {
    const row = help.split("\n").find((line) => line.endsWith(`config key "${o.key}"`));
    assert.ok(row, `a row for ${o.key}`);
    assert.ok(row.includes(o.help), `${o.key}: help line`);
    if (o.env) assert.ok(row.includes(`[env ${o.env.join(", ")}]`), `${o.key}: env names`);
    if (o.defaultText) assert.ok(row.includes(`(default: ${o.defaultText})`), `${o.key}: default`);
    const flag = flagForms(o).join(", ") || "(env only)";
    assert.ok(row.trimStart().startsWith(flag), `${o.key}: ${flag}`);
  }
  assert.match(help, /-h, --help/);
  assert.match(help, /-V, --version/);
  assert.match(help, /--config FILE/);
});
