/** `consent.ts` (`POST /authorize`) in process: CSRF, deny, wrong and right password. */
import assert from "node:assert/strict";
import {
  authorizeUrl,
  consentForm,
  type InProcessOAuth,
  inProcessOAuth,
  pkce,
} from "../helpers/oauth.ts";

const PASSWORD = "correct horse battery staple";
const CALLBACK = "http://127.0.0.1:9/callback";

/** A consent page for a fresh DCR client. */
async function consent(server: InProcessOAuth) {
  const send = server.fetchFrom("192.0.2.8");
  const registered = await send(`${server.base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [CALLBACK], token_endpoint_auth_method: "none" }),
  });
  const { client_id } = await registered.json();
  const { challenge } = await pkce();
  return await consentForm(
    await send(authorizeUrl(server.base, {
      response_type: "code",
      client_id,
      redirect_uri: CALLBACK,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state: "st",
    })),
  );
}

async function submit(server: InProcessOAuth, fields: Record<string, string>, cookie?: string) {
  return await server.fetchFrom("192.0.2.8")(`${server.base}/authorize`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(fields),
  });
}

Deno.test("consent: CSRF token and cookie must both be there and match", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const form = await consent(server);
    const fields = { consent_id: form.consentId, password: PASSWORD };
    assert.equal((await submit(server, fields)).status, 403);
    assert.equal((await submit(server, fields, "openclaw_consent=forged")).status, 403);
    assert.equal(
      (await submit(server, { ...fields, consent_id: "gone" }, form.cookie)).status,
      400,
    );
  } finally {
    await server.close();
  }
});

Deno.test("consent: deny goes back with access_denied; approve with a code", async () => {
  const server = await inProcessOAuth({ password: PASSWORD });
  try {
    const denied = await submit(
      server,
      { consent_id: (await consent(server)).consentId, action: "deny" },
      (await consent(server)).cookie,
    );
    assert.equal(denied.status, 403, "the cookie belongs to another page");
    const form = await consent(server);
    const deny = await submit(server, { consent_id: form.consentId, action: "deny" }, form.cookie);
    const back = new URL(deny.headers.get("location")!);
    assert.equal(back.searchParams.get("error"), "access_denied");
    assert.equal(back.searchParams.get("state"), "st");

    const again = await consent(server);
    const wrong = await submit(
      server,
      { consent_id: again.consentId, password: "nope" },
      again.cookie,
    );
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /Wrong password/);
    const right = await submit(
      server,
      { consent_id: again.consentId, password: PASSWORD, action: "approve" },
      again.cookie,
    );
    const code = new URL(right.headers.get("location")!);
    assert.ok(code.searchParams.get("code"));
    assert.equal(code.searchParams.get("iss"), server.base);
  } finally {
    await server.close();
  }
});

Deno.test("consent: without an owner password nothing can be approved", async () => {
  const server = await inProcessOAuth({ password: "" });
  try {
    const form = await consent(server);
    const response = await submit(
      server,
      { consent_id: form.consentId, password: "" },
      form.cookie,
    );
    assert.equal(response.status, 503);
    assert.match(await response.text(), /MCP_OWNER_PASSWORD/);
  } finally {
    await server.close();
  }
});
