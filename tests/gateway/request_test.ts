import assert from "node:assert/strict";
import type { Instance } from "../../src/config.ts";
import { BridgeError } from "../../src/errors.ts";
import {
  GatewayCall,
  gatewayHeaders,
  type GatewayTarget,
  MAX_REPLY_BYTES,
} from "../../src/gateway/request.ts";
import { BodyTooLarge } from "../../src/read_capped.ts";
import { codeOf } from "../helpers/error_code.ts";

function target(url: string, extra: Partial<Instance> = {}, maxReplyBytes = 1_000): GatewayTarget {
  return {
    instance: { name: "t", url, timeoutMs: 2_000, isDefault: true, model: "openclaw", ...extra },
    fetch,
    maxReplyBytes,
  };
}

/** A loopback server that answers `/moved` with a redirect and hangs on `/hang`. */
function serve(): { url: string; server: Deno.HttpServer } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/moved") return Response.redirect("http://127.0.0.1:9/elsewhere", 302);
    if (path === "/hang") {
      return new Promise<Response>((resolve) =>
        req.signal.addEventListener("abort", () => resolve(new Response(null)))
      );
    }
    return Response.json({ path, auth: req.headers.get("authorization") });
  });
  return { url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`, server };
}

Deno.test("request: headers carry the bearer token only when there is one", () => {
  assert.deepEqual(gatewayHeaders({ token: "s" }, { "x-a": "1" }), {
    accept: "application/json",
    "x-a": "1",
    authorization: "Bearer s",
  });
  assert.deepEqual(gatewayHeaders({}), { accept: "application/json" });
  assert.equal(MAX_REPLY_BYTES, 10 * 1024 * 1024);
});

Deno.test("request: send fetches under the instance URL and does not follow redirects", async () => {
  const { url, server } = serve();
  try {
    using call = new GatewayCall(target(url));
    const ok = await call.send("/v1/models", { headers: gatewayHeaders({ token: "s" }) });
    assert.deepEqual(await call.readJson(ok), { path: "/v1/models", auth: "Bearer s" });
    const moved = await call.send("/moved");
    assert.equal(moved.status, 302);
    await moved.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("request: the timeout and the caller's cancellation are told apart", async () => {
  const { url, server } = serve();
  try {
    {
      using call = new GatewayCall(target(url, { timeoutMs: 100 }));
      assert.equal(await codeOf(call.send("/hang")), "gateway_timeout");
      assert.equal(call.timedOut(), true);
    }
    const caller = new AbortController();
    using call = new GatewayCall(target(url, { timeoutMs: 60_000 }), caller.signal);
    setTimeout(() => caller.abort(), 50);
    assert.equal(await codeOf(call.send("/hang")), "cancelled");
    assert.equal(call.timedOut(), false);
    assert.equal(call.signal.aborted, true);
  } finally {
    await server.shutdown();
  }
});

Deno.test("request: nothing listening is gateway_unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  using call = new GatewayCall(target(`http://127.0.0.1:${port}`));
  assert.equal(await codeOf(call.send("/readyz")), "gateway_unreachable");
});

Deno.test("request: readJson refuses a body that is not JSON or over the cap", async () => {
  using call = new GatewayCall(target("http://127.0.0.1:9", {}, 10));
  assert.deepEqual(await call.readJson(new Response('{"a":1}')), { a: 1 });
  assert.equal(await codeOf(call.readJson(new Response("{nope"))), "gateway_bad_reply");
  assert.equal(await codeOf(call.readJson(new Response("x".repeat(11)))), "gateway_bad_reply");
});

Deno.test("request: readError keeps bridge errors and words the rest", () => {
  using call = new GatewayCall(target("http://127.0.0.1:9", {}, 3 * 1048576));
  const own = new BridgeError("internal", "x");
  assert.equal(call.readError(own), own);
  const large = call.readError(new BodyTooLarge(1));
  assert.equal(large.code, "gateway_bad_reply");
  assert.match(large.message, /larger than 3 MB/);
  assert.equal(call.readError(new TypeError("reset")).code, "gateway_disconnected");
});
