/** `register.ts` (`POST /register`) in process: the RFC 7591 reply and every refusal. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/shared/auth"
import { OAuthClientInformationFullSchema } from "@modelcontextprotocol/sdk/shared/auth.js";
import { type InProcessOAuth, inProcessOAuth } from "../helpers/oauth.ts";

const CALLBACK = "http://127.0.0.1:9/callback";

async function register(server: InProcessOAuth, body: unknown, address = "192.0.2.9") {
  const response = await server.fetchFrom(address)(`${server.base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

Deno.test("register: the reply parses as SDK client information; names are cleaned", async () => {
  const server = await inProcessOAuth({ password: "pw" });
  try {
    const reply = await register(server, {
      redirect_uris: [CALLBACK],
      client_name: "Evil\u202Etxt App",
      client_uri: "https://app.example",
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.headers.get("cache-control"), "no-store");
    const info = OAuthClientInformationFullSchema.parse(reply.body);
    assert.equal(info.token_endpoint_auth_method, "client_secret_basic");
    assert.ok(info.client_secret);
    assert.deepEqual(info.grant_types, ["authorization_code", "refresh_token"]);
    assert.equal(info.client_name, "Eviltxt App");
    const pub = await register(server, {
      redirect_uris: [CALLBACK],
      token_endpoint_auth_method: "none",
    });
    assert.equal(pub.body.client_secret, undefined);
    assert.equal(pub.body.client_name, "Unnamed application");
  } finally {
    await server.close();
  }
});

Deno.test("register: refusals keep their codes and name the field", async () => {
  const server = await inProcessOAuth({ password: "pw" });
  try {
    const cases: [unknown, string, RegExp][] = [
      ["not json", "invalid_client_metadata", /must be JSON/],
      [{ redirect_uris: ["http://evil.example/cb"] }, "invalid_redirect_uri", /redirect_uris/],
      [{ redirect_uris: [] }, "invalid_redirect_uri", /1-10/],
      [{}, "invalid_redirect_uri", /redirect_uris/],
      [
        { redirect_uris: [CALLBACK], token_endpoint_auth_method: "private_key_jwt" },
        "invalid_client_metadata",
        /^token_endpoint_auth_method must be/,
      ],
      [
        { redirect_uris: [CALLBACK], grant_types: ["implicit"] },
        "invalid_client_metadata",
        /^grant_types/,
      ],
      [
        { redirect_uris: [CALLBACK], client_uri: "not a url" },
        "invalid_client_metadata",
        /^client_uri/,
      ],
    ];
    for (const [body, error, description] of cases) {
      const reply = await register(server, body);
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.body.error, error);
      assert.match(reply.body.error_description, description);
    }
  } finally {
    await server.close();
  }
});

Deno.test("register: off, rate-limited, and capped per address", async () => {
  const off = await inProcessOAuth({ password: "pw", env: { MCP_ALLOW_DCR: "false" } });
  try {
    const reply = await register(off, { redirect_uris: [CALLBACK] });
    assert.deepEqual([reply.status, reply.body.error], [404, "registration_disabled"]);
  } finally {
    await off.close();
  }
  const server = await inProcessOAuth({
    password: "pw",
    limits: { registerPerMinute: 3, maxPendingPerAddress: 2 },
  });
  try {
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const reply = await register(server, { redirect_uris: [CALLBACK] });
      statuses.push(
        `${reply.status} ${reply.body.error ?? ""} ${reply.headers.get("retry-after")}`,
      );
    }
    assert.deepEqual(statuses, [
      "201  null",
      "201  null",
      "429 too_many_requests 60",
      "429 too_many_requests null",
    ]);
  } finally {
    await server.close();
  }
});
