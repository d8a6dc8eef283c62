/** `GatewayRegistry`: instances by name, the default, and a coded error for an unknown name. */
import assert from "node:assert/strict";
import type { Instance } from "../../src/config.ts";
import type { BridgeError } from "../../src/errors.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";

function instance(name: string, isDefault = false): Instance {
  return {
    name,
    url: `http://127.0.0.1:9/${name}`,
    timeoutMs: 1_000,
    isDefault,
    model: "openclaw",
  };
}

Deno.test("registry: a client per instance, in configuration order", () => {
  const registry = new GatewayRegistry([instance("a"), instance("b", true), instance("c")]);
  assert.deepEqual(registry.list().map((c) => c.instance.name), ["a", "b", "c"]);
  assert.equal(registry.get("c").instance.url, "http://127.0.0.1:9/c");
  assert.equal(registry.get("a"), registry.list()[0], "the same client every time");
});

Deno.test("registry: no name gives the default instance, else the first", () => {
  assert.equal(
    new GatewayRegistry([instance("a"), instance("b", true)]).get().instance.name,
    "b",
  );
  assert.equal(new GatewayRegistry([instance("a"), instance("b")]).get().instance.name, "a");
});

Deno.test("registry: an unknown name is unknown_instance, listing the known ones", () => {
  const registry = new GatewayRegistry([instance("prod", true), instance("staging")]);
  assert.throws(
    () => registry.get("dev"),
    (e: BridgeError) =>
      e.code === "unknown_instance" && e.message === 'No gateway instance is named "dev".' &&
      e.hint === "Use one of: prod, staging (see openclaw_instances).",
  );
  assert.throws(() => registry.get(""), (e: BridgeError) => e.code === "unknown_instance");
});
