/** `authorize.ts` (`GET /authorize`) in process: the code redirect, the consent page, every refusal. */
import assert from "node:assert/strict";
import { authorizeUrl, type InProcessOAuth, inProcessOAuth, pkce } from "../helpers/oauth.ts";

const CALLBACK = "http://127.0.0.1:9/callback";
const STATIC = { MCP_CLIENT_ID: "static-client", MCP_CLIENT_SECRET: "s".repeat(40) };

async function withServer(fn: (server: InProcessOAuth) => Promise<void>) {
  const server = await inProcessOAuth({
    password: "pw",
    env: { ...STATIC, MCP_REDIRECT_URIS: CALLBACK },
  });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

async function get(server: InProcessOAuth, params: Record<string, string | undefined>) {
  const { challenge } = await pkce();
  return await server.fetchFrom("192.0.2.7")(authorizeUrl(server.base, {
    response_type: "code",
    client_id: STATIC.MCP_CLIENT_ID,
    redirect_uri: CALLBACK,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "st",
    ...params,
  }));
}

/** The error and description a refusal sends back to the client. */
async function refusal(server: InProcessOAuth, params: Record<string, string | undefined>) {
  const response = await get(server, params);
  assert.equal(response.status, 302);
  const back = new URL(response.headers.get("location")!);
  assert.equal(back.searchParams.get("iss"), server.base);
  return [back.searchParams.get("error"), back.searchParams.get("error_description")];
}

Deno.test("authorize: the pre-registered client is sent back with a code, state and iss", async () => {
  await withServer(async (server) => {
    const response = await get(server, {});
    const back = new URL(response.headers.get("location")!);
    assert.equal(`${back.origin}${back.pathname}`, CALLBACK);
    assert.ok(back.searchParams.get("code"));
    assert.equal(back.searchParams.get("state"), "st");
    assert.equal(back.searchParams.get("iss"), server.base);
  });
});

Deno.test("authorize: refusals after the redirect is verified go back, naming the field", async () => {
  await withServer(async (server) => {
    assert.deepEqual(await refusal(server, { response_type: "token" }), [
      "unsupported_response_type",
      "response_type must be code",
    ]);
    assert.deepEqual(await refusal(server, { code_challenge: undefined }), [
      "invalid_request",
      "code_challenge (PKCE) is required",
    ]);
    assert.deepEqual(await refusal(server, { code_challenge_method: "plain" }), [
      "invalid_request",
      "code_challenge_method must be S256",
    ]);
    assert.deepEqual(await refusal(server, { code_challenge: "short" }), [
      "invalid_request",
      "code_challenge is not a base64url SHA-256 value",
    ]);
    assert.deepEqual(await refusal(server, { resource: "https://elsewhere.example/mcp" }), [
      "invalid_target",
      `resource must be ${server.base}/mcp`,
    ]);
    assert.deepEqual(await refusal(server, { scope: "mcp:tools admin" }), [
      "invalid_scope",
      "scope may only be mcp:tools",
    ]);
    const long = await get(server, { state: "x".repeat(1_025) });
    const back = new URL(long.headers.get("location")!);
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.equal(back.searchParams.get("state"), null, "an oversized state is not echoed");
  });
});

Deno.test("authorize: before the redirect is verified, refusals are pages", async () => {
  await withServer(async (server) => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ client_id: "nobody" }, /unknown client_id/],
      [{ redirect_uri: "https://evil.example/cb" }, /not registered/],
      [{ redirect_uri: "https://e.example/" + "x".repeat(2_048) }, /redirect_uri is longer/],
    ];
    for (const [params, text] of cases) {
      const response = await get(server, params);
      assert.equal(response.status, 400);
      assert.equal(response.headers.get("location"), null);
      assert.match(response.headers.get("content-type")!, /text\/html/);
      assert.match(await response.text(), text);
    }
  });
});

Deno.test("authorize: a DCR client gets the consent page and its HttpOnly cookie", async () => {
  await withServer(async (server) => {
    const registered = await server.fetchFrom("192.0.2.7")(`${server.base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [CALLBACK], client_name: "Some App" }),
    });
    const { client_id } = await registered.json();
    const page = await get(server, { client_id });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("set-cookie")!, /^openclaw_consent=.*HttpOnly.*SameSite=Strict/);
    assert.match(await page.text(), /Some App/);
  });
});
