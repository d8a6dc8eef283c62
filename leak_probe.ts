import { SessionManager } from "./src/http/sessions.ts";
import { createServer, createToolset } from "./src/server.ts";
import { GatewayRegistry } from "./src/gateway/registry.ts";
import { silentLogger } from "./src/log.ts";
import { INITIALIZE } from "./tests/helpers/spawn.ts";
const gateways = new GatewayRegistry([{
  name: "d",
  url: "http://127.0.0.1:9",
  timeoutMs: 1000,
  isDefault: true,
  model: "openclaw",
}]);
const toolset = createToolset({ gateways });
const shutdown = new AbortController();
const refs: WeakRef<object>[] = [];
const mgr = new SessionManager({
  createServer: (owner) => {
    const s = createServer({
      gateways,
      log: silentLogger,
      owner,
      toolset,
      shutdown: shutdown.signal,
    });
    refs.push(new WeakRef(s));
    return s;
  },
  idleMs: 100,
  max: 100000,
  log: silentLogger,
});
const gc = (globalThis as unknown as { gc: () => void }).gc;
gc();
const base = Deno.memoryUsage().heapUsed;
for (let i = 0; i < 2000; i++) {
  const r = await mgr.handle(
    new Request("http://x/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(INITIALIZE),
    }),
    "anon",
    INITIALIZE,
  );
  await r.body?.cancel();
}
console.log("open", mgr.size, "heap MB", ((Deno.memoryUsage().heapUsed - base) / 1e6).toFixed(1));
await new Promise((r) => setTimeout(r, 300));
mgr.sweep();
for (let i = 0; i < 5; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 50));
}
console.log(
  "after expiry: open",
  mgr.size,
  "alive servers",
  refs.filter((r) => r.deref()).length,
  "heap MB",
  ((Deno.memoryUsage().heapUsed - base) / 1e6).toFixed(1),
);
await mgr.close();
