/**
 * The whole OAuth flow as a real MCP client does it: the SDK's own OAuth
 * support (an OAuthClientProvider) discovers us from the 401, registers with
 * DCR, authorizes (consent approved with the owner password), exchanges the
 * code, calls tools; then refresh and revoke.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/client/auth"
import {
  type OAuthClientProvider,
  UnauthorizedError,
} from "@modelcontextprotocol/sdk/client/auth.js";
// @ts-types="@modelcontextprotocol/sdk/shared/auth"
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, startHttp } from "../../testing/spawn.ts";
import { approve, mcpStatus, tokenRequest } from "../helpers/oauth.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "owner-password-for-sdk-test";
const CALLBACK = "http://127.0.0.1:9/sdk-callback";

/** A provider that plays the user: it follows the authorize URL and approves with the password. */
class TestProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  code?: Promise<string>;
  constructor(private base: string) {}
  get redirectUrl() {
    return CALLBACK;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      redirect_uris: [CALLBACK],
      client_name: "SDK flow test",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.code = approve(this.base, url.toString(), PASSWORD).then((back) => {
      assert.ok(back.code, `authorization refused: ${back.error}`);
      return back.code!;
    });
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

Deno.test(
  "oauth: the SDK client discovers, registers, authorizes, calls tools, refreshes, revokes",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    const server = await startHttp({
      env: {
        ...gatewayEnv(gateway.url),
        AUTH_ENABLED: "true",
        MCP_ALLOW_DCR: "true",
        MCP_OWNER_PASSWORD: PASSWORD,
      },
    });
    const base = server.url;
    try {
      const provider = new TestProvider(base);
      const mcpUrl = new URL(`${base}/mcp`);
      const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
      await assert.rejects(
        new Client({ name: "sdk", version: "0" }).connect(first),
        UnauthorizedError,
        "the first connect needs authorization",
      );
      assert.ok(provider.info?.client_id.startsWith("dcr_"), "registered through DCR");
      await first.finishAuth(await provider.code!);
      assert.ok(provider.saved?.access_token, "tokens saved");

      const client = new Client({ name: "sdk", version: "0" });
      await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
      const reply = await client.callTool({
        name: "openclaw_chat",
        arguments: { message: "authorized" },
      });
      assert.equal((reply.structuredContent as { reply: string }).reply, "echo: authorized");
      const task = await client.callTool({
        name: "openclaw_chat_async",
        arguments: { message: "mine" },
      });
      assert.ok((task.structuredContent as { task_id: string }).task_id);
      await client.close();

      // Refresh: a new pair in the same family; the new access token works.
      const secret = (provider.info as { client_secret?: string }).client_secret!;
      const refreshed = await tokenRequest(base, {
        grant_type: "refresh_token",
        refresh_token: provider.saved!.refresh_token!,
        client_id: provider.info!.client_id,
        client_secret: secret,
      });
      assert.equal(refreshed.status, 200);
      assert.equal((await mcpStatus(base, refreshed.body.access_token)).status, 200);

      // Revoke the refresh token: its whole family, access tokens included, stops working.
      const revoked = await tokenRequest(
        base,
        {
          token: refreshed.body.refresh_token,
          client_id: provider.info!.client_id,
          client_secret: secret,
        },
        undefined,
        "/revoke",
      );
      assert.equal(revoked.status, 200);
      const after = await mcpStatus(base, refreshed.body.access_token);
      assert.equal(after.status, 401);
      assert.match(after.challenge ?? "", /resource_metadata=/);
    } finally {
      await server.stop();
      await gateway.close();
    }
  },
);
