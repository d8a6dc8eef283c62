/** `@openclaw/mcp/server`: the library entry exports what it documents, and its example works. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import * as mod from "../src/mod.ts";

Deno.test("mod: the runtime exports of the library entry", () => {
  // Types are checked by deno doc --lint; this pins the values a caller can import.
  assert.deepEqual(Object.keys(mod).sort(), [
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
  ]);
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
