/** `healthHandler` through Hono's `app.request()`: what `/health` says, and when it counts sessions. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { healthHandler, type HealthOptions } from "../../src/http/health.ts";
import { VERSION } from "../../src/version.ts";

async function health(options: HealthOptions): Promise<Record<string, unknown>> {
  const app = new Hono();
  app.get("/health", healthHandler(options));
  const response = await app.request("/health");
  assert.equal(response.status, 200);
  return await response.json();
}

Deno.test("health: status, version, transport, session mode and auth mode", async () => {
  assert.deepEqual(await health({ stateless: false, auth: "bearer", sessions: () => 3 }), {
    status: "ok",
    version: VERSION,
    transport: "http",
    mode: "stateful",
    auth: "bearer",
  });
  const stateless = await health({ stateless: true, auth: "oauth" });
  assert.equal(stateless.mode, "stateless");
  assert.equal(stateless.auth, "oauth");
});

Deno.test("health: the session count only with --debug, read on each hit", async () => {
  let open = 2;
  const app = new Hono();
  app.get(
    "/health",
    healthHandler({ stateless: false, auth: "none", debug: true, sessions: () => open }),
  );
  assert.equal((await (await app.request("/health")).json()).sessions, 2);
  open = 0;
  assert.equal((await (await app.request("/health")).json()).sessions, 0);
  assert.equal((await health({ stateless: true, auth: "none", debug: true })).sessions, 0);
});
