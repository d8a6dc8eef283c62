/**
 * `clients.ts` in process: which client an id names (pre-registered,
 * dynamically registered, metadata document) and client authentication at
 * the token and revocation endpoints: HTTP Basic with its percent-encoding,
 * form credentials, public clients that must not send a secret, and the
 * 401 `clientRequest` answers with.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { authenticateClient, clientRequest, resolveClient } from "../../src/auth/clients.ts";
import { type OAuthContext, oauthContext } from "../../src/auth/context.ts";
import { sha256Hex } from "../../src/auth/crypto.ts";
import { OAuthError } from "../../src/auth/oauth_error.ts";
import type { OAuthClient } from "../../src/auth/store.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";

const STATIC_ID = "static-client";
/** Characters Basic credentials must percent-encode (RFC 6749 §2.3.1). */
const STATIC_SECRET = "p:ss%w\u00f6rd+/ " + "x".repeat(32);
const CIMD_ID = "https://client.example/oauth/app.json";
const CALLBACK = "https://app.example/callback";

interface Harness {
  ctx: OAuthContext;
  /** URLs the metadata-document resolver fetched. */
  fetched: string[];
}

async function withContext(
  env: Record<string, string>,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const fetched: string[] = [];
  const command = loadConfig({
    args: ["--transport", "http"],
    env: {
      AUTH_ENABLED: "true",
      MCP_OWNER_PASSWORD: "pw",
      MCP_CLIENT_ID: STATIC_ID,
      MCP_CLIENT_SECRET: STATIC_SECRET,
      MCP_REDIRECT_URIS: CALLBACK,
      MCP_CIMD_HOSTS: "client.example",
      ...env,
    },
  });
  assert.equal(command.kind, "run");
  const ctx = oauthContext({
    config: command.config,
    kv,
    issuer: () => "http://127.0.0.1:9999",
    log: silentLogger,
    now: () => Date.parse("2030-01-01T00:00:00Z"),
    fetch: (input) => {
      const url = String(input instanceof Request ? input.url : input);
      fetched.push(url);
      return Promise.resolve(Response.json({
        client_id: url,
        client_name: "Doc Client",
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: "none",
      }));
    },
  });
  try {
    await fn({ ctx, fetched });
  } finally {
    kv.close();
  }
}

function basic(id: string, secret: string, scheme = "Basic"): string {
  return `${scheme} ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;
}

/** Registers a DCR client; returns its id and secret (null for a public one). */
async function dcr(ctx: OAuthContext, authMethod: "none" | "client_secret_post") {
  const outcome = await ctx.store.registerClient(
    { redirectUris: [CALLBACK], name: "Dyn", authMethod, registeredBy: "192.0.2.1" },
    ctx.limits,
  );
  assert.ok(typeof outcome === "object");
  return { id: outcome.client.clientId, secret: outcome.secret };
}

/** The `invalid_client` description, or the client id when authenticated. */
async function outcome(
  ctx: OAuthContext,
  authorization: string | undefined,
  form: Record<string, string>,
): Promise<string> {
  const result = await authenticateClient(ctx, authorization, form);
  if (result instanceof OAuthError) {
    assert.equal(result.code, "invalid_client");
    return `refused: ${result.message}`;
  }
  return result.clientId;
}

Deno.test("resolveClient: the pre-registered client comes from the configuration", async () => {
  await withContext({}, async ({ ctx }) => {
    const client = await resolveClient(ctx, STATIC_ID);
    assert.deepEqual(
      client,
      {
        clientId: STATIC_ID,
        secretHash: await sha256Hex(STATIC_SECRET),
        redirectUris: [CALLBACK],
        name: "Pre-registered client",
        authMethod: "client_secret_basic",
        kind: "static",
      } satisfies OAuthClient,
    );
  });
});

Deno.test("resolveClient: a missing or unknown id says why in a sentence; a registered one is found", async () => {
  await withContext({}, async ({ ctx }) => {
    assert.deepEqual(await resolveClient(ctx, undefined), { error: "client_id is missing" });
    assert.deepEqual(await resolveClient(ctx, ""), { error: "client_id is missing" });
    assert.deepEqual(await resolveClient(ctx, "dcr_" + "z".repeat(22)), {
      error: "unknown client_id",
    });
    assert.deepEqual(await resolveClient(ctx, "x".repeat(4_000)), { error: "unknown client_id" });
    const { id } = await dcr(ctx, "none");
    const found = await resolveClient(ctx, id);
    assert.ok(!("error" in found));
    assert.equal(found.kind, "dcr");
    assert.equal(found.clientId, id);
  });
});

Deno.test("resolveClient: metadata-document ids are fetched only when allowed, and only from allowed hosts", async () => {
  await withContext({}, async ({ ctx, fetched }) => {
    const off = await resolveClient(ctx, CIMD_ID);
    assert.ok("error" in off);
    assert.match(off.error, /MCP_ALLOW_CIMD is off/);
    assert.deepEqual(fetched, [], "nothing fetched while CIMD is off");
  });
  await withContext({ MCP_ALLOW_CIMD: "true" }, async ({ ctx, fetched }) => {
    const client = await resolveClient(ctx, CIMD_ID);
    assert.ok(!("error" in client));
    assert.deepEqual(
      [client.kind, client.name, client.authMethod, client.secretHash],
      ["cimd", "Doc Client", "none", null],
    );
    assert.deepEqual(fetched, [CIMD_ID], "through the fetch the context was given");
    const elsewhere = await resolveClient(ctx, "https://evil.example/app.json");
    assert.ok("error" in elsewhere);
    assert.match(elsewhere.error, /host is not allowed/);
    assert.equal(fetched.length, 1);
  });
});

Deno.test("authenticateClient: HTTP Basic, percent-decoded, any case of the scheme", async () => {
  await withContext({}, async ({ ctx }) => {
    for (const scheme of ["Basic", "basic", "BASIC"]) {
      assert.equal(await outcome(ctx, basic(STATIC_ID, STATIC_SECRET, scheme), {}), STATIC_ID);
    }
    // Basic wins over form credentials, which are not consulted.
    assert.equal(
      await outcome(ctx, basic(STATIC_ID, STATIC_SECRET), {
        client_id: "someone-else",
        client_secret: "wrong",
      }),
      STATIC_ID,
    );
    assert.equal(
      await outcome(ctx, basic(STATIC_ID, "wrong"), { client_secret: STATIC_SECRET }),
      "refused: Client authentication failed.",
    );
    // A stray "%" cannot be percent-decoded.
    const stray = `Basic ${btoa(`${STATIC_ID}:50%zz`)}`;
    assert.equal(await outcome(ctx, stray, {}), "refused: Malformed Basic authorization header.");
    assert.equal(
      await outcome(ctx, "Basic not*base64!", {}),
      "refused: Malformed Basic authorization header.",
    );
  });
});

Deno.test("authenticateClient: form credentials; other schemes in the header are ignored", async () => {
  await withContext({}, async ({ ctx }) => {
    const form = { client_id: STATIC_ID, client_secret: STATIC_SECRET };
    assert.equal(await outcome(ctx, undefined, form), STATIC_ID);
    assert.equal(await outcome(ctx, "Bearer whatever", form), STATIC_ID);
    assert.equal(
      await outcome(ctx, undefined, { client_id: STATIC_ID }),
      "refused: Client authentication failed.",
      "a confidential client without its secret",
    );
    assert.equal(
      await outcome(ctx, undefined, { client_id: STATIC_ID, client_secret: STATIC_SECRET + "x" }),
      "refused: Client authentication failed.",
    );
    assert.equal(await outcome(ctx, undefined, {}), "refused: Unknown client.");
    assert.equal(
      await outcome(ctx, undefined, { client_id: "dcr_" + "q".repeat(22), client_secret: "s" }),
      "refused: Unknown client.",
      "an unknown id is refused before any secret is compared",
    );
  });
});

Deno.test("authenticateClient: dynamically registered clients, confidential and public", async () => {
  await withContext({ MCP_ALLOW_CIMD: "true" }, async ({ ctx }) => {
    const conf = await dcr(ctx, "client_secret_post");
    assert.equal(
      await outcome(ctx, undefined, { client_id: conf.id, client_secret: conf.secret! }),
      conf.id,
    );
    assert.equal(await outcome(ctx, basic(conf.id, conf.secret!), {}), conf.id);
    assert.equal(
      await outcome(ctx, undefined, { client_id: conf.id }),
      "refused: Client authentication failed.",
    );

    const pub = await dcr(ctx, "none");
    assert.equal(pub.secret, null);
    assert.equal(await outcome(ctx, undefined, { client_id: pub.id }), pub.id);
    assert.equal(
      await outcome(ctx, undefined, { client_id: pub.id, client_secret: "guess" }),
      "refused: This public client has no secret.",
    );
    assert.equal(await outcome(ctx, undefined, { client_id: CIMD_ID }), CIMD_ID);
    assert.equal(
      await outcome(ctx, basic(CIMD_ID, "guess"), {}),
      "refused: This public client has no secret.",
    );
  });
});

Deno.test("clientRequest: the form and the authenticated client, or a 401 invalid_client", async () => {
  await withContext({}, async ({ ctx }) => {
    const app = new Hono();
    app.post("/token", async (c) => {
      const request = await clientRequest(ctx, c);
      if (request instanceof Response) return request;
      return c.json({ client: request.client.clientId, form: request.form });
    });
    const post = (authorization: string | null, fields: Record<string, string>) =>
      app.request("/token", {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(authorization ? { authorization } : {}),
        },
        body: new URLSearchParams(fields),
      });
    const ok = await post(basic(STATIC_ID, STATIC_SECRET), { grant_type: "refresh_token" });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), {
      client: STATIC_ID,
      form: { grant_type: "refresh_token" },
    });
    const refused = await post(basic(STATIC_ID, "wrong"), { grant_type: "refresh_token" });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("cache-control"), "no-store");
    assert.deepEqual(await refused.json(), {
      error: "invalid_client",
      error_description: "Client authentication failed.",
    });
  });
});
