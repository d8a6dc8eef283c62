/** The OAuth authorization server against the spawned server: metadata, flows, and every refusal. */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, type HttpServerProcess, startHttp } from "../../testing/spawn.ts";
import {
  approve,
  authorize,
  authorizeUrl,
  consentForm,
  mcpStatus,
  pkce,
  redirectFrom,
  register,
  submitConsent,
  tokenRequest,
} from "../helpers/oauth.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "correct horse battery staple";
const CALLBACK = "http://127.0.0.1:9/callback";
const STATIC = { id: "claude-static", secret: "s".repeat(40) };

async function withAuthServer(
  env: Record<string, string>,
  fn: (server: HttpServerProcess) => Promise<void>,
) {
  const gateway = await TestGateway.start();
  const server = await startHttp({
    env: {
      ...gatewayEnv(gateway.url),
      AUTH_ENABLED: "true",
      MCP_OWNER_PASSWORD: PASSWORD,
      MCP_ALLOW_DCR: "true",
      MCP_CLIENT_ID: STATIC.id,
      MCP_CLIENT_SECRET: STATIC.secret,
      MCP_REDIRECT_URIS: CALLBACK,
      ...env,
    },
  });
  try {
    await fn(server);
  } finally {
    await server.stop();
    await gateway.close();
  }
}

/** Registers a confidential DCR client and walks it to a token pair. */
async function dcrTokens(base: string) {
  const { client, form } = await dcrTokensCode(base);
  const tokens = await tokenRequest(base, form);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return { client, form, tokens: tokens.body };
}

Deno.test("oauth: metadata documents agree with each other", opts, async () => {
  await withAuthServer({}, async (server) => {
    const base = server.url;
    const as = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
    const prm = await (await fetch(`${base}/.well-known/oauth-protected-resource`)).json();
    const prmMcp = await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.equal(as.issuer, base);
    assert.deepEqual(prm, prmMcp);
    assert.deepEqual(prm.authorization_servers, [base]);
    assert.equal(prm.resource, `${base}/mcp`);
    assert.deepEqual(prm.scopes_supported, ["mcp:tools"]);
    assert.deepEqual(as.code_challenge_methods_supported, ["S256"]);
    for (const m of ["client_secret_post", "client_secret_basic", "none"]) {
      assert.ok(as.token_endpoint_auth_methods_supported.includes(m), m);
    }
    assert.equal(as.client_id_metadata_document_supported, false, "CIMD is off by default");
    assert.equal(as.registration_endpoint, `${base}/register`);
    assert.equal(as.token_endpoint, `${base}/token`);
    assert.equal(as.revocation_endpoint, `${base}/revoke`);
    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.auth, "oauth");
  });
});

Deno.test(
  "oauth: the pre-registered client is approved without a page; tokens work on /mcp",
  opts,
  async () => {
    await withAuthServer({}, async (server) => {
      const base = server.url;
      const { verifier, challenge } = await pkce();
      const response = await authorize(authorizeUrl(base, {
        response_type: "code",
        client_id: STATIC.id,
        redirect_uri: CALLBACK,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "xyz",
      }));
      const back = redirectFrom(response);
      assert.ok(back.code);
      assert.equal(back.location.searchParams.get("iss"), base);
      const tokens = await tokenRequest(base, {
        grant_type: "authorization_code",
        code: back.code!,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
      }, STATIC);
      assert.equal(tokens.status, 200);
      assert.equal(tokens.body.token_type, "Bearer");
      assert.equal(tokens.body.scope, "mcp:tools");
      assert.equal((await mcpStatus(base, tokens.body.access_token)).status, 200);
      assert.doesNotMatch(server.stderr(), new RegExp(tokens.body.access_token));
      assert.doesNotMatch(server.stderr(), /ssssssssssssssss/);
    });
  },
);

Deno.test("oauth: the refusal matrix", opts, async () => {
  await withAuthServer({}, async (server) => {
    const base = server.url;
    const results: Record<string, boolean> = {};
    const check = (name: string, ok: boolean) => {
      results[name] = ok;
    };

    // No token / unknown token on /mcp.
    const none = await mcpStatus(base);
    check(
      "no token",
      none.status === 401 &&
        none.challenge?.includes(
            `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
          ) === true &&
        none.challenge.includes('scope="mcp:tools"'),
    );
    const unknown = await mcpStatus(base, "not-a-real-token");
    check("unknown token", unknown.status === 401 && /invalid_token/.test(unknown.challenge ?? ""));

    // Code replay revokes the tokens the code issued.
    const first = await dcrTokens(base);
    check("valid token works", (await mcpStatus(base, first.tokens.access_token)).status === 200);
    const replay = await tokenRequest(base, first.form);
    check(
      "code replay",
      replay.status === 400 && replay.body.error === "invalid_grant" &&
        (await mcpStatus(base, first.tokens.access_token)).status === 401,
    );

    // Wrong verifier; redirect mismatch at /token.
    const second = await dcrTokensCode(base);
    const wrongVerifier = await tokenRequest(base, {
      ...second.form,
      code_verifier: "x".repeat(50),
    });
    check(
      "wrong verifier",
      wrongVerifier.status === 400 && wrongVerifier.body.error === "invalid_grant",
    );
    const third = await dcrTokensCode(base, second.client);
    const mismatch = await tokenRequest(base, {
      ...third.form,
      redirect_uri: "http://127.0.0.1:9/other",
    });
    check(
      "redirect mismatch at /token",
      mismatch.status === 400 && mismatch.body.error === "invalid_grant",
    );

    // PKCE missing or plain; unregistered redirect.
    const baseParams = {
      response_type: "code",
      client_id: second.client.id,
      redirect_uri: CALLBACK,
      state: "s",
    };
    const noPkce = redirectFrom(await authorize(authorizeUrl(base, baseParams)));
    check(
      "missing PKCE",
      noPkce.error === "invalid_request" && noPkce.location.searchParams.get("state") === "s",
    );
    const plain = redirectFrom(
      await authorize(
        authorizeUrl(base, {
          ...baseParams,
          code_challenge: "a".repeat(43),
          code_challenge_method: "plain",
        }),
      ),
    );
    check("plain PKCE", plain.error === "invalid_request");
    const unregistered = await authorize(authorizeUrl(base, {
      ...baseParams,
      redirect_uri: "https://evil.example/cb",
      code_challenge: "a".repeat(43),
      code_challenge_method: "S256",
    }));
    const page = await unregistered.text();
    check(
      "unregistered redirect",
      unregistered.status === 400 && unregistered.headers.get("location") === null &&
        /not registered/.test(page) &&
        /text\/html/.test(unregistered.headers.get("content-type") ?? ""),
    );
    const wrongResource = redirectFrom(
      await authorize(authorizeUrl(base, {
        ...baseParams,
        code_challenge: "a".repeat(43),
        code_challenge_method: "S256",
        resource: "https://elsewhere.example/mcp",
      })),
    );
    check("wrong resource at /authorize", wrongResource.error === "invalid_target");

    // Refresh rotation, then reuse of the old refresh token revokes the family.
    const fresh = await dcrTokens(base);
    const refreshForm = {
      grant_type: "refresh_token",
      refresh_token: fresh.tokens.refresh_token,
      client_id: fresh.client.id,
      client_secret: fresh.client.secret,
    };
    const rotated = await tokenRequest(base, refreshForm);
    check(
      "refresh rotates",
      rotated.status === 200 && rotated.body.refresh_token !== fresh.tokens.refresh_token,
    );
    const reuse = await tokenRequest(base, refreshForm);
    check(
      "refresh reuse",
      reuse.status === 400 && reuse.body.error === "invalid_grant" &&
        (await mcpStatus(base, rotated.body.access_token)).status === 401,
    );

    // Bad client secret; public client sending a secret.
    const badSecret = await tokenRequest(base, { ...refreshForm, client_secret: "wrong" });
    check(
      "bad client secret",
      badSecret.status === 401 && badSecret.body.error === "invalid_client",
    );
    const badBasic = await tokenRequest(base, { grant_type: "refresh_token", refresh_token: "x" }, {
      id: STATIC.id,
      secret: "wrong",
    });
    check(
      "bad static client secret",
      badBasic.status === 401 && badBasic.body.error === "invalid_client",
    );

    // Consent: wrong password, CSRF token missing, CSRF cookie mismatch, deny.
    const { challenge } = await pkce();
    const consentUrl = authorizeUrl(base, {
      ...baseParams,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const form = await consentForm(await authorize(consentUrl));
    check(
      "consent page names the client",
      form.html.includes("Second") && form.html.includes("127.0.0.1:9"),
    );
    const wrong = await submitConsent(base, { ...form, password: "guess" });
    check(
      "wrong consent password",
      wrong.status === 401 && /Wrong password/.test(await wrong.text()),
    );
    const noCsrf = await submitConsent(base, { cookie: form.cookie, password: PASSWORD });
    check("CSRF token missing", noCsrf.status === 403 && noCsrf.headers.get("location") === null);
    await noCsrf.body?.cancel();
    const noCookie = await submitConsent(base, { consentId: form.consentId, password: PASSWORD });
    check("CSRF cookie missing", noCookie.status === 403);
    await noCookie.body?.cancel();
    const otherForm = await consentForm(await authorize(consentUrl));
    const crossed = await submitConsent(base, {
      consentId: form.consentId,
      cookie: otherForm.cookie,
      password: PASSWORD,
    });
    check("CSRF cookie of another consent", crossed.status === 403);
    await crossed.body?.cancel();
    const denied = redirectFrom(await submitConsent(base, { ...otherForm, action: "deny" }));
    check("deny", denied.error === "access_denied");
    // One wrong password so far; the fifth failure ends the consent with 429.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await submitConsent(base, { ...form, password: `guess${i}` });
      statuses.push(r.status);
      await r.body?.cancel();
    }
    const afterLockout = await submitConsent(base, { ...form, password: PASSWORD });
    check(
      "too many wrong passwords",
      statuses.join() === "401,401,401,429" && afterLockout.status === 400 &&
        afterLockout.headers.get("location") === null,
    );
    await afterLockout.body?.cancel();

    // Revocation of an access token.
    const revokable = await dcrTokens(base);
    const revoked = await tokenRequest(
      base,
      {
        token: revokable.tokens.access_token,
        client_id: revokable.client.id,
        client_secret: revokable.client.secret,
      },
      undefined,
      "/revoke",
    );
    check(
      "revoke",
      revoked.status === 200 &&
        (await mcpStatus(base, revokable.tokens.access_token)).status === 401,
    );

    // DCR input checks; CIMD off by default.
    const badReg = await register(base, { redirect_uris: ["http://evil.example/cb"] });
    check(
      "DCR rejects non-https redirect",
      badReg.status === 400 && badReg.body.error === "invalid_redirect_uri",
    );
    const cimdOff = await authorize(
      authorizeUrl(base, { ...baseParams, client_id: "https://claude.ai/oauth/client.json" }),
    );
    check("CIMD off", cimdOff.status === 400 && /MCP_ALLOW_CIMD/.test(await cimdOff.text()));

    // Names shown to the owner lose C1 controls and bidi overrides (U+202E would reverse them).
    const sneaky = await register(base, {
      redirect_uris: [CALLBACK],
      client_name: "Evil\u202Etxt.exe\u0085\u2066\u200F\u061C App",
      token_endpoint_auth_method: "none",
    });
    const sneakyPage = (await consentForm(
      await authorize(authorizeUrl(base, {
        ...baseParams,
        client_id: sneaky.body.client_id,
        code_challenge: challenge,
        code_challenge_method: "S256",
      })),
    )).html;
    check(
      "consent page neutralises controls",
      sneakyPage.includes("Evil") && sneakyPage.includes("txt.exe App") &&
        !/[\u0085\u061c\u200f\u202e\u2066]/.test(sneakyPage),
    );

    const failed = Object.entries(results).filter(([, ok]) => !ok).map(([name]) => name);
    console.log(
      `oauth refusal matrix: ${Object.keys(results).length - failed.length}/${
        Object.keys(results).length
      } as expected`,
    );
    assert.deepEqual(failed, [], `unexpected outcomes: ${failed.join(", ")}`);
  });
});

/** A code (not yet exchanged) for a DCR client, with the form to exchange it. */
async function dcrTokensCode(base: string, existing?: { id: string; secret: string }) {
  let client = existing;
  if (!client) {
    const reg = await register(base, {
      redirect_uris: [CALLBACK],
      client_name: "Second",
      token_endpoint_auth_method: "client_secret_post",
    });
    assert.equal(reg.status, 201);
    client = { id: reg.body.client_id, secret: reg.body.client_secret };
  }
  const { verifier, challenge } = await pkce();
  const back = await approve(
    base,
    authorizeUrl(base, {
      response_type: "code",
      client_id: client.id,
      redirect_uri: CALLBACK,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state: "st-1",
      resource: `${base}/mcp`,
    }),
    PASSWORD,
  );
  assert.ok(back.code, `approved: ${back.error}`);
  assert.equal(back.location.searchParams.get("state"), "st-1");
  return {
    client,
    form: {
      grant_type: "authorization_code",
      code: back.code!,
      redirect_uri: CALLBACK,
      code_verifier: verifier,
      client_id: client.id,
      client_secret: client.secret,
    },
  };
}

Deno.test("oauth: expired access tokens are refused", opts, async () => {
  await withAuthServer({ MCP_ACCESS_TOKEN_TTL_MS: "1000" }, async (server) => {
    const { tokens } = await dcrTokens(server.url);
    assert.equal((await mcpStatus(server.url, tokens.access_token)).status, 200);
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal((await mcpStatus(server.url, tokens.access_token)).status, 401);
  });
});

Deno.test("oauth: DCR disabled", opts, async () => {
  await withAuthServer({ MCP_ALLOW_DCR: "false" }, async (server) => {
    const reg = await register(server.url, { redirect_uris: [CALLBACK] });
    assert.equal(reg.status, 404);
    assert.equal(reg.body.error, "registration_disabled");
    assert.match(reg.body.error_description, /MCP_ALLOW_DCR/);
    const as = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(as.registration_endpoint, undefined);
  });
});

Deno.test(
  "oauth: client ID metadata documents: allowed host works, other hosts refused",
  opts,
  async () => {
    const docServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const id = new URL(req.url).toString();
      return Response.json({
        client_id: id,
        client_name: "CIMD \u202ETest\u202C App\u009B",
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: "none",
      });
    });
    const docUrl = `http://127.0.0.1:${(docServer.addr as Deno.NetAddr).port}/oauth/client.json`;
    try {
      await withAuthServer(
        { MCP_ALLOW_CIMD: "true", MCP_CIMD_HOSTS: "127.0.0.1" },
        async (server) => {
          const base = server.url;
          const { verifier, challenge } = await pkce();
          const url = authorizeUrl(base, {
            response_type: "code",
            client_id: docUrl,
            redirect_uri: CALLBACK,
            code_challenge: challenge,
            code_challenge_method: "S256",
          });
          const as = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
          assert.equal(as.client_id_metadata_document_supported, true, "advertised when on");
          const form = await consentForm(await authorize(url));
          assert.match(form.html, /CIMD Test App/);
          assert.doesNotMatch(form.html, /[\u009b\u202c\u202e]/);
          const back = redirectFrom(await submitConsent(base, { ...form, password: PASSWORD }));
          assert.ok(back.code);
          const tokens = await tokenRequest(base, {
            grant_type: "authorization_code",
            code: back.code!,
            redirect_uri: CALLBACK,
            code_verifier: verifier,
            client_id: docUrl,
          });
          assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
          const wrongRedirect = await authorize(authorizeUrl(base, {
            response_type: "code",
            client_id: docUrl,
            redirect_uri: "http://127.0.0.1:9/not-listed",
            code_challenge: challenge,
            code_challenge_method: "S256",
          }));
          assert.equal(wrongRedirect.status, 400, "the document's redirect_uris are enforced");
          await wrongRedirect.body?.cancel();
        },
      );
      await withAuthServer({ MCP_ALLOW_CIMD: "true" }, async (server) => {
        const refused = await authorize(authorizeUrl(server.url, {
          response_type: "code",
          client_id: docUrl,
          redirect_uri: CALLBACK,
          code_challenge: "a".repeat(43),
          code_challenge_method: "S256",
        }));
        assert.equal(refused.status, 400);
        assert.match(await refused.text(), /host is not allowed/);
      });
    } finally {
      await docServer.shutdown();
    }
  },
);

Deno.test(
  "oauth: tokens survive a restart; a changed issuer makes them the wrong audience",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/state.kv`;
    try {
      let token = "";
      let base = "";
      await withAuthServer({ OPENCLAW_KV_PATH: kvPath }, async (server) => {
        base = server.url;
        token = (await dcrTokens(server.url)).tokens.access_token;
      });
      const port = new URL(base).port;
      await withAuthServer({ OPENCLAW_KV_PATH: kvPath, MCP_ISSUER_URL: base }, async (server) => {
        // Same issuer (pinned), new process and port: the token still works.
        assert.notEqual(server.url, base);
        assert.equal((await mcpStatus(server.url, token)).status, 200, "token works after restart");
      });
      await withAuthServer(
        { OPENCLAW_KV_PATH: kvPath, MCP_ISSUER_URL: `http://localhost:${port}` },
        async (server) => {
          const result = await mcpStatus(server.url, token);
          assert.equal(result.status, 401, "wrong audience");
          assert.match(result.challenge ?? "", /another resource/);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "oauth: DCR without an owner password warns at start and cannot approve",
  opts,
  async () => {
    await withAuthServer({ MCP_OWNER_PASSWORD: "" }, async (server) => {
      assert.match(server.stderr(), /"event":"oauth_no_owner_password"/);
      const reg = await register(server.url, {
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: "none",
      });
      const { challenge } = await pkce();
      const form = await consentForm(
        await authorize(authorizeUrl(server.url, {
          response_type: "code",
          client_id: reg.body.client_id,
          redirect_uri: CALLBACK,
          code_challenge: challenge,
          code_challenge_method: "S256",
        })),
      );
      const refused = await submitConsent(server.url, { ...form, password: "" });
      assert.equal(refused.status, 503);
      assert.match(await refused.text(), /MCP_OWNER_PASSWORD/);
    });
  },
);

Deno.test(
  "oauth: through the real server, a 60 KB-state flood is refused, then throttled; spoofed addresses still hit the owner lock",
  opts,
  async () => {
    await withAuthServer({ TRUST_PROXY: "1" }, async (server) => {
      const base = server.url;
      const from = (address: string) => ({ "x-forwarded-for": address });
      const reg = await register(base, {
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: "none",
      });
      const url = (extra: Record<string, string> = {}) =>
        authorizeUrl(base, {
          response_type: "code",
          client_id: reg.body.client_id,
          redirect_uri: CALLBACK,
          code_challenge: "a".repeat(43),
          code_challenge_method: "S256",
          ...extra,
        });
      const statuses: string[] = [];
      for (let i = 0; i < 35; i++) {
        const r = await fetch(url({ state: "x".repeat(60 * 1024) }), {
          redirect: "manual",
          headers: from("203.0.113.50"),
        });
        await r.body?.cancel();
        statuses.push(
          r.status === 302
            ? new URL(r.headers.get("location")!).searchParams.get("error")!
            : String(
              r.status,
            ),
        );
      }
      assert.deepEqual(statuses, [...Array(30).fill("invalid_request"), ...Array(5).fill("429")]);

      // Ten wrong passwords, each from a new (spoofed) address on a new page, then the right one.
      const page = async (address: string) => {
        const r = await fetch(url(), { redirect: "manual", headers: from(address) });
        return await consentForm(r);
      };
      for (let i = 0; i < 10; i++) {
        const form = await page(`198.51.100.${i}`);
        const r = await fetch(`${base}/authorize`, {
          method: "POST",
          redirect: "manual",
          headers: {
            ...from(`198.51.100.${i}`),
            "content-type": "application/x-www-form-urlencoded",
            cookie: form.cookie,
          },
          body: new URLSearchParams({ consent_id: form.consentId, password: `guess ${i}` }),
        });
        assert.equal(r.status, 401);
        await r.body?.cancel();
      }
      const form = await page("192.0.2.77");
      const locked = await fetch(`${base}/authorize`, {
        method: "POST",
        redirect: "manual",
        headers: {
          ...from("192.0.2.77"),
          "content-type": "application/x-www-form-urlencoded",
          cookie: form.cookie,
        },
        body: new URLSearchParams({ consent_id: form.consentId, password: PASSWORD }),
      });
      assert.equal(locked.status, 429, "the right password is refused while locked");
      assert.match(await locked.text(), /Password locked/);
      assert.ok(Number(locked.headers.get("retry-after")) >= 1);
    });
  },
);
