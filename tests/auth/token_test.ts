/** `token.ts` in process: both grants, rotation, reuse, and every refusal with its field. */
import assert from "node:assert/strict";
import { inProcessGrant, type InProcessOAuth, inProcessOAuth } from "../helpers/oauth.ts";

const PASSWORD = "correct horse battery staple";

async function withServer(fn: (server: InProcessOAuth) => Promise<void>) {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

async function post(server: InProcessOAuth, fields: Record<string, string>, basic?: string) {
  const response = await server.fetchFrom("192.0.2.1")(`${server.base}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(basic ? { authorization: `Basic ${basic}` } : {}),
    },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

Deno.test("token: code for tokens, refresh rotates, reuse revokes the family", async () => {
  await withServer(async (server) => {
    const grant = await inProcessGrant(server, PASSWORD);
    const auth = { client_id: grant.client.id, client_secret: grant.client.secret! };
    const issued = await post(server, {
      ...auth,
      grant_type: "authorization_code",
      code: grant.code,
      redirect_uri: grant.redirectUri,
      code_verifier: grant.verifier,
      resource: `${server.base}/mcp/`,
    });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.headers.get("cache-control"), "no-store");
    assert.equal(issued.body.token_type, "Bearer");
    assert.equal(issued.body.scope, "mcp:tools");
    const fields = { ...auth, grant_type: "refresh_token" };
    const rotated = await post(server, { ...fields, refresh_token: issued.body.refresh_token });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.refresh_token, issued.body.refresh_token);
    const reused = await post(server, { ...fields, refresh_token: issued.body.refresh_token });
    assert.deepEqual([reused.status, reused.body.error], [400, "invalid_grant"]);
    assert.match(reused.body.error_description, /already used/);
    const after = await post(server, { ...fields, refresh_token: rotated.body.refresh_token });
    assert.equal(after.body.error, "invalid_grant", "the family is revoked");
  });
});

Deno.test("token: refusals name the field and keep their error codes", async () => {
  await withServer(async (server) => {
    const grant = await inProcessGrant(server, PASSWORD);
    const auth = { client_id: grant.client.id, client_secret: grant.client.secret! };
    const code = {
      ...auth,
      grant_type: "authorization_code",
      code: grant.code,
      redirect_uri: grant.redirectUri,
    };
    const missing = await post(server, code);
    assert.deepEqual(missing.body, {
      error: "invalid_request",
      error_description: "code_verifier is required",
    });
    const unsupported = await post(server, { ...auth, grant_type: "password" });
    assert.deepEqual(
      [unsupported.status, unsupported.body.error],
      [400, "unsupported_grant_type"],
    );
    const noRefresh = await post(server, { ...auth, grant_type: "refresh_token" });
    assert.equal(noRefresh.body.error_description, "refresh_token is required");
    const wrongVerifier = await post(server, { ...code, code_verifier: "x".repeat(43) });
    assert.match(wrongVerifier.body.error_description, /code_verifier does not match/);
    const replayed = await post(server, { ...code, code_verifier: grant.verifier });
    assert.match(replayed.body.error_description, /already used/);
  });
});

Deno.test("token: client authentication failures are 401 invalid_client", async () => {
  await withServer(async (server) => {
    const grant = await inProcessGrant(server, PASSWORD);
    const form = { grant_type: "refresh_token", refresh_token: "r" };
    const cases = [
      await post(server, { ...form, client_id: "nobody" }),
      await post(server, { ...form, client_id: grant.client.id, client_secret: "wrong" }),
      await post(server, form, "%%%not base64"),
      await post(server, form, btoa(`${grant.client.id}:wrong`)),
    ];
    for (const refused of cases) {
      assert.deepEqual([refused.status, refused.body.error], [401, "invalid_client"]);
      assert.equal(refused.headers.get("cache-control"), "no-store");
    }
    const basic = await post(server, form, btoa(`${grant.client.id}:${grant.client.secret}`));
    assert.equal(basic.body.error, "invalid_grant", "Basic authenticates; the token is bad");
  });
});
