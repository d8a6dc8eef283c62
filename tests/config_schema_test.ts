import assert from "node:assert/strict";
import { OPTION_ENTRIES, OPTIONS, optionsSchema } from "../src/config_schema.ts";

function entry(key: string) {
  const found = OPTION_ENTRIES.find((o) => o.key === key);
  if (!found) throw new Error(`no option ${key}`);
  return found;
}

/** The option's value for one raw input, or the first issue's message. */
function read(key: string, value: unknown): unknown {
  const result = entry(key).schema.safeParse(value);
  return result.success ? result.data : `error: ${result.error.issues[0].message}`;
}

Deno.test("config schema: every option has metadata, a help line and unique names", () => {
  assert.deepEqual(OPTIONS.map((o) => o.key), Object.keys(optionsSchema.shape), "table order");
  const envs = OPTIONS.flatMap((o) => o.env ?? []);
  assert.equal(new Set(envs).size, envs.length, "no env name is used twice");
  const flags = OPTIONS.flatMap((o) => [o.flag, o.short]).filter(Boolean);
  assert.equal(new Set(flags).size, flags.length, "no flag is used twice");
  for (const o of OPTIONS) {
    assert.ok(o.help.length > 0, `${o.key} has help`);
    assert.ok(o.env?.length || o.flag, `${o.key} can be set from env or a flag`);
  }
});

Deno.test("config schema: a default is written once, in the schema, and shown from it", () => {
  const defaults = optionsSchema.parse({});
  assert.equal(defaults.timeoutMs, 120_000);
  assert.equal(defaults.trustProxy, 0);
  assert.equal(defaults.transport, "stdio");
  assert.deepEqual(defaults.cimdHosts, ["claude.ai"]);
  assert.equal(defaults.kvPath, undefined, "computed at startup from $XDG_DATA_HOME");
  assert.equal(entry("timeoutMs").defaultText, "120000");
  assert.equal(entry("debug").defaultText, "false");
  assert.equal(entry("corsOrigins").defaultText, undefined, "an empty list shows no default");
  assert.equal(entry("kvPath").defaultText, "$XDG_DATA_HOME/openclaw-mcp/tasks.kv");
  // Two parses never share a default list.
  optionsSchema.parse({}).redirectUris.push("https://x.example/cb");
  assert.equal(optionsSchema.parse({}).redirectUris.length, 2);
});

Deno.test("config schema: whole numbers are digits in bounds, as text or JSON", () => {
  assert.equal(read("port", " 8080 "), 8080);
  assert.equal(read("port", 8080), 8080, "a config file may give a number");
  for (const text of ["1e3", "0x10", "1.5", "", "abc"]) {
    assert.match(
      String(read("port", text)),
      /^error: not a whole number; use digits only, e\.g\. 3000$/,
    );
  }
  assert.match(String(read("port", 1.5)), /not a whole number/);
  assert.match(String(read("port", "65536")), /out of range; use a number from 0 to 65535/);
  assert.match(String(read("port", true)), /wrong type; use a number/);
});

Deno.test("config schema: booleans are strict words, DEBUG is lenient", () => {
  for (const text of ["true", "TRUE", " yes ", "On", "1"]) {
    assert.equal(read("stateless", text), true);
  }
  for (const text of ["false", "No", "off", "0", ""]) assert.equal(read("stateless", text), false);
  assert.equal(read("stateless", true), true, "a JSON boolean or a switch flag");
  assert.match(String(read("stateless", "y")), /not a boolean; use true or false/);
  assert.match(String(read("stateless", 1)), /wrong type; use a boolean/);
  assert.equal(read("debug", "openclaw:*"), true, "anything but an explicit false");
  assert.equal(read("debug", "off"), false);
  assert.match(String(read("debug", 1)), /wrong type/);
});

Deno.test("config schema: TRUST_PROXY is a hop count", () => {
  const cases: [unknown, number][] = [
    ["false", 0],
    ["0", 0],
    ["", 0],
    ["true", 1],
    ["yes", 1],
    ["2", 2],
    ["10", 10],
    ["10.0.0.0/8", 1],
    ["192.168.1.1", 1],
    ["-1", 1],
    [true, 1],
    [false, 0],
    [3, 3],
  ];
  for (const [input, hops] of cases) assert.equal(read("trustProxy", input), hops, String(input));
  assert.match(String(read("trustProxy", "11")), /out of range; use a hop count from 0 to 10/);
});

Deno.test("config schema: lists split on commas or come as JSON arrays", () => {
  assert.deepEqual(read("corsOrigins", " a ,, b,"), ["a", "b"]);
  assert.deepEqual(read("corsOrigins", ["a", " b "]), ["a", " b "]);
  assert.match(String(read("corsOrigins", ["a", 5])), /wrong type; use a JSON array of strings/);
  assert.deepEqual(read("cimdHosts", "Claude.AI"), ["claude.ai"], "host lists are lowercased");
  assert.match(
    String(read("redirectUris", "https://a.example/cb,http://evil.example/cb")),
    /not an https \(or loopback http\) URL/,
  );
});

Deno.test("config schema: enums, URLs and JSON text", () => {
  assert.equal(read("transport", "sse"), "http", "sse is an alias of http");
  assert.match(
    String(read("transport", "ws")),
    /not an allowed value; use one of stdio, http, sse/,
  );
  assert.equal(read("openclawUrl", " https://gw.example/// "), "https://gw.example");
  assert.match(String(read("openclawUrl", "http://u:p@gw")), /not a valid URL/);
  assert.deepEqual(read("instances", '[{"name":"a"}]'), [{ name: "a" }], "shape checked later");
  assert.match(String(read("instances", "[{")), /not valid JSON/);
  assert.match(String(read("clientSecret", "short")), /shorter than 32 characters/);
});
