import assert from "node:assert/strict";
import { GatewayClient } from "../../src/gateway/client.ts";
import { agentsFromModels } from "../../src/gateway/reply.ts";
import type { Instance } from "../../src/config.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { codeOf } from "../helpers/error_code.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function instance(url: string, extra: Partial<Instance> = {}): Instance {
  return {
    name: "t",
    url,
    token: "test-token",
    timeoutMs: 2_000,
    isDefault: true,
    model: "openclaw",
    ...extra,
  };
}

Deno.test("client: streams deltas in order and returns the joined reply", opts, async () => {
  const gateway = await TestGateway.start();
  try {
    const client = new GatewayClient(instance(gateway.url));
    const deltas: string[] = [];
    const reply = await client.chat({ message: "a b c", onDelta: (d) => deltas.push(d) });
    assert.equal(reply.reply, "echo: a b c");
    assert.deepEqual(deltas, ["echo: ", "a ", "b ", "c"]);
    assert.equal(reply.finishReason, "stop");
  } finally {
    await gateway.close();
  }
});

Deno.test("client: timeout and caller cancellation are told apart", opts, async () => {
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "hang" };
  try {
    const client = new GatewayClient(instance(gateway.url, { timeoutMs: 200 }));
    assert.equal(await codeOf(client.chat({ message: "x" })), "gateway_timeout");
    const slow = new GatewayClient(instance(gateway.url, { timeoutMs: 60_000 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    assert.equal(await codeOf(slow.chat({ message: "x", signal: controller.signal })), "cancelled");
    await gateway.waitFor(() => gateway.chats.every((c) => c.aborted));
  } finally {
    await gateway.close();
  }
});

Deno.test("client: 408/504 are timeouts, redirects are not followed", opts, async () => {
  const gateway = await TestGateway.start();
  try {
    const client = new GatewayClient(instance(gateway.url));
    gateway.fault = { kind: "status", status: 408 };
    assert.equal(await codeOf(client.chat({ message: "x" })), "gateway_timeout");
    gateway.fault = { kind: "status", status: 504 };
    assert.equal(await codeOf(client.chat({ message: "x" })), "gateway_timeout");
    gateway.fault = { kind: "status", status: 302 };
    assert.equal(await codeOf(client.chat({ message: "x" })), "gateway_not_found");
    gateway.fault = { kind: "status", status: 403 };
    assert.equal(await codeOf(client.chat({ message: "x" })), "gateway_unauthorized");
  } finally {
    await gateway.close();
  }
});

Deno.test("client: a JSON body over the cap is refused", opts, async () => {
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "huge", bytes: 2_000 };
  try {
    const client = new GatewayClient(instance(gateway.url), { maxReplyBytes: 1_000 });
    assert.equal(await codeOf(client.chat({ message: "x" })), "gateway_bad_reply");
  } finally {
    await gateway.close();
  }
});

Deno.test("client: health verdicts, with a hint when no token is set", opts, async () => {
  const gateway = await TestGateway.start();
  try {
    const ok = await new GatewayClient(instance(gateway.url)).health();
    assert.equal(ok.status, "ok");
    assert.equal(ok.httpStatus, 200);
    const noToken = await new GatewayClient(instance(gateway.url, { token: undefined })).health();
    assert.equal(noToken.status, "unauthorized");
    assert.match(noToken.message, /No token is configured/);
    gateway.fault = { kind: "delay", ms: 1_000 };
    const slow = await new GatewayClient(instance(gateway.url, { timeoutMs: 100 })).health();
    assert.equal(slow.status, "timeout");
    gateway.fault = { kind: "status", status: 500 };
    assert.equal((await new GatewayClient(instance(gateway.url)).health()).status, "error");
  } finally {
    await gateway.close();
  }
});

Deno.test("client: agents come from model ids", () => {
  assert.deepEqual(
    agentsFromModels(["openclaw", "openclaw/default", "openclaw/main", "openclaw:ops", "gpt-4"]),
    ["main", "ops"],
  );
});

Deno.test("client: a starting gateway (readyz 503) is not_ready", opts, async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/readyz"
        ? Response.json({ ready: false }, { status: 503 })
        : Response.json({ data: [] }),
  );
  try {
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
    const report = await new GatewayClient(instance(url)).health();
    assert.equal(report.status, "not_ready");
    assert.match(report.message, /starting/);
  } finally {
    await server.shutdown();
  }
});
