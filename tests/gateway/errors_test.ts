import assert from "node:assert/strict";
import {
  abortedError,
  badReplyError,
  disconnectedError,
  type ErrorInstance,
  statusError,
  streamError,
  unreachableError,
} from "../../src/gateway/errors.ts";

const prod: ErrorInstance = {
  name: "prod",
  url: "http://127.0.0.1:9",
  token: "t",
  timeoutMs: 1_500,
};

function reply(status: number, body?: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers });
}

Deno.test("gateway errors: 401/403 name the token, or its absence", async () => {
  const withToken = await statusError(reply(401), { instance: prod, endpoint: "chat" });
  assert.equal(withToken.code, "gateway_unauthorized");
  assert.equal(withToken.httpStatus, 401);
  assert.match(withToken.message, /instance "prod" \(HTTP 401\)/);
  assert.match(withToken.hint, /matches gateway\.auth\.token/);
  const none = await statusError(reply(403), {
    instance: { ...prod, token: undefined },
    endpoint: "models",
  });
  assert.equal(none.code, "gateway_unauthorized");
  assert.match(none.hint, /No token is configured/);
});

Deno.test("gateway errors: 404 names the endpoint and quotes the gateway, one line", async () => {
  const body = { error: { message: "not\n  here" } };
  const chat = await statusError(reply(404, body), { instance: prod, endpoint: "chat" });
  assert.equal(chat.code, "gateway_not_found");
  assert.match(chat.message, /no \/v1\/chat\/completions \(HTTP 404\)\. Gateway said: not here$/);
  const models = await statusError(reply(404), { instance: prod, endpoint: "models" });
  assert.match(models.message, /no \/v1\/models \(HTTP 404\)\.$/);
});

Deno.test("gateway errors: 429 carries Retry-After; 408/504 time out; 5xx fail", async () => {
  const limited = await statusError(reply(429, undefined, { "retry-after": "7" }), {
    instance: prod,
    endpoint: "chat",
  });
  assert.equal(limited.code, "gateway_rate_limited");
  assert.equal(limited.hint, "Retry after 7 seconds.");
  const noAfter = await statusError(reply(429), { instance: prod, endpoint: "chat" });
  assert.equal(noAfter.hint, "Wait a moment and retry.");
  for (const status of [408, 504]) {
    const e = await statusError(reply(status), { instance: prod, endpoint: "chat" });
    assert.equal(e.code, "gateway_timeout");
    assert.equal(e.httpStatus, status);
  }
  const failed = await statusError(reply(502, { error: { message: "upstream" } }), {
    instance: prod,
    endpoint: "models",
  });
  assert.equal(failed.code, "gateway_error");
  assert.match(failed.message, /Gateway said: upstream$/);
});

Deno.test("gateway errors: a chat 400 about agents lists the known ones", async () => {
  const unknown = await statusError(reply(400, { error: { message: "Unknown agent 'x'" } }), {
    instance: prod,
    endpoint: "chat",
    agents: () => Promise.resolve(["coder", "main"]),
  });
  assert.equal(unknown.code, "unknown_agent");
  assert.match(unknown.message, /has no agent "x"/);
  assert.equal(unknown.hint, "Known agents: coder, main.");
  const required = await statusError(
    reply(400, { error: { message: "Multiple agents are configured, pick one" } }),
    { instance: prod, endpoint: "chat", agents: () => Promise.resolve([]) },
  );
  assert.equal(required.code, "agent_required");
  assert.match(required.hint, /^Pass agent, .* The gateway lists no agents\.$/);
  const unlisted = await statusError(reply(400, { error: { message: "Unknown agent 'y'" } }), {
    instance: prod,
    endpoint: "chat",
    agents: () => Promise.reject(new Error("down")),
  });
  assert.equal(unlisted.hint, "See openclaw_agents for the agents this gateway has.");
  const models = await statusError(reply(400, { error: { message: "Unknown agent 'z'" } }), {
    instance: prod,
    endpoint: "models",
  });
  assert.equal(models.code, "gateway_rejected");
});

Deno.test("gateway errors: redirects are a wrong URL; other 4xx are rejections", async () => {
  const moved = await statusError(reply(302), { instance: prod, endpoint: "chat" });
  assert.equal(moved.code, "gateway_not_found");
  assert.match(moved.message, /redirect \(HTTP 302\)/);
  const teapot = await statusError(new Response("not json", { status: 418 }), {
    instance: prod,
    endpoint: "chat",
  });
  assert.equal(teapot.code, "gateway_rejected");
  assert.match(teapot.message, /\(HTTP 418\)\.$/);
  assert.equal(teapot.httpStatus, 418);
});

Deno.test("gateway errors: network, abort, malformed and cut-off replies", () => {
  const refused = unreachableError(prod, "Connection refused (os error 111)");
  assert.equal(refused.code, "gateway_unreachable");
  assert.match(refused.message, /at http:\/\/127\.0\.0\.1:9 \(connection refused\)\.$/);
  assert.doesNotMatch(unreachableError(prod, "dns error").message, /refused/);
  const timeout = abortedError(prod, true);
  assert.equal(timeout.code, "gateway_timeout");
  assert.match(timeout.message, /within 1500 ms/);
  assert.equal(abortedError(prod, false).code, "cancelled");
  const bad = badReplyError(prod, "the body is not JSON");
  assert.equal(bad.code, "gateway_bad_reply");
  assert.match(bad.message, /malformed reply: the body is not JSON\.$/);
  assert.match(disconnectedError(prod, "closed").message, /closed the connection mid-reply/);
  assert.match(disconnectedError(prod, "ended").message, /ended the stream before/);
  assert.equal(disconnectedError(prod, "ended").code, "gateway_disconnected");
  assert.match(streamError(prod, "").message, /mid-stream: no detail\.$/);
  assert.match(streamError(prod, "overloaded").message, /mid-stream: overloaded\.$/);
});
