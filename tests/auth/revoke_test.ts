/** `revoke.ts` (`POST /revoke`, RFC 7009) in process. */
import assert from "node:assert/strict";
import { inProcessGrant, type InProcessOAuth, inProcessOAuth } from "../helpers/oauth.ts";
import { OAuthStore } from "../../src/auth/store.ts";

const PASSWORD = "pw-for-revoke";

async function post(server: InProcessOAuth, path: string, fields: Record<string, string>) {
  const response = await server.fetchFrom("192.0.2.10")(`${server.base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

Deno.test("revoke: the client's own token goes; others' and unknown ones are 200 and stay", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const grant = await inProcessGrant(server, PASSWORD);
    const auth = { client_id: grant.client.id, client_secret: grant.client.secret! };
    const tokens = await post(server, "/token", {
      ...auth,
      grant_type: "authorization_code",
      code: grant.code,
      redirect_uri: grant.redirectUri,
      code_verifier: grant.verifier,
    });
    const store = new OAuthStore(server.kv, { now: server.now, familyTtlMs: 86_400_000 });
    const other = await inProcessGrant(server, PASSWORD, { authMethod: "none" });
    const byOther = await post(server, "/revoke", {
      client_id: other.client.id,
      token: tokens.body.access_token,
    });
    assert.equal(byOther.status, 200);
    assert.ok(await store.lookup(tokens.body.access_token, "access"), "not the other's to revoke");
    assert.equal((await post(server, "/revoke", { ...auth, token: "unknown" })).status, 200);
    const own = await post(server, "/revoke", { ...auth, token: tokens.body.access_token });
    assert.equal(own.status, 200);
    assert.equal(await store.lookup(tokens.body.access_token, "access"), null);
  } finally {
    await server.close();
  }
});

Deno.test("revoke: refusals", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const grant = await inProcessGrant(server, PASSWORD);
    const missing = await post(server, "/revoke", {
      client_id: grant.client.id,
      client_secret: grant.client.secret!,
    });
    assert.deepEqual(missing, {
      status: 400,
      body: { error: "invalid_request", error_description: "token is required" },
    });
    const unknown = await post(server, "/revoke", { client_id: "nobody", token: "t" });
    assert.deepEqual([unknown.status, unknown.body.error], [401, "invalid_client"]);
  } finally {
    await server.close();
  }
});
