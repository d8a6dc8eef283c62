/** `@openclaw/mcp/server`: the library entry exports what it documents, and its example works. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import * as mod from "../src/mod.ts";

Deno.test("mod: the library entry keeps the values callers import", () => {
  // Types are checked by deno doc --lint; this catches a value export removed or renamed.
  for (
    const name of [
      "BridgeError",
      "ConfigError",
      "GatewayClient",
      "GatewayRegistry",
      "OPTIONS",
      "TaskRunner",
      "TaskStore",
      "VERSION",
      "createLogger",
      "createServer",
      "defaultKvPath",
      "helpText",
      "loadConfig",
      "openTaskKv",
      "silentLogger",
    ]
  ) assert.ok(name in mod && mod[name as keyof typeof mod] !== undefined, name);
  assert.equal(typeof mod.createServer, "function");
  assert.match(mod.VERSION, /^\d+\.\d+\.\d+/);
});

Deno.test("mod: the module doc's example serves tools over an in-memory transport", async () => {
  const gateways = new mod.GatewayRegistry([{
    name: "default",
    url: "http://127.0.0.1:9",
    timeoutMs: 1_000,
    isDefault: true,
    model: "openclaw",
  }]);
  const server = mod.createServer({ gateways, log: mod.silentLogger });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "embedder", version: "0" });
  await client.connect(clientSide);
  assert.equal(client.getServerVersion()?.version, mod.VERSION);
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === "openclaw_chat"));
  await client.close();
});
