/** `metadata.ts`: both discovery documents, in process, checked against the SDK's schemas. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/shared/auth"
import {
  OAuthMetadataSchema,
  OAuthProtectedResourceMetadataSchema,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { inProcessOAuth } from "../helpers/oauth.ts";

Deno.test("metadata: the two documents agree and parse with the SDK's schemas", async () => {
  const server = await inProcessOAuth({ password: "pw" });
  try {
    const get = async (path: string) =>
      await (await server.fetchFrom("10.0.0.1")(`${server.base}${path}`)).json();
    const as = OAuthMetadataSchema.parse(await get("/.well-known/oauth-authorization-server"));
    const prm = OAuthProtectedResourceMetadataSchema.parse(
      await get("/.well-known/oauth-protected-resource"),
    );
    assert.deepEqual(await get("/.well-known/oauth-protected-resource/mcp"), prm);
    assert.equal(prm.resource, `${server.base}/mcp`);
    assert.deepEqual(prm.authorization_servers, [as.issuer]);
    assert.deepEqual(prm.scopes_supported, ["mcp:tools"]);
    assert.equal(as.token_endpoint, `${server.base}/token`);
    assert.equal(as.registration_endpoint, `${server.base}/register`);
    assert.deepEqual(as.code_challenge_methods_supported, ["S256"]);
    assert.equal(as.client_id_metadata_document_supported, false);
  } finally {
    await server.close();
  }
});

Deno.test("metadata: /register only while DCR is on; CIMD advertised only when on", async () => {
  const server = await inProcessOAuth({
    password: "pw",
    env: { MCP_ALLOW_DCR: "false", MCP_ALLOW_CIMD: "true" },
  });
  try {
    const response = await server.fetchFrom("10.0.0.1")(
      `${server.base}/.well-known/oauth-authorization-server`,
    );
    const as = await response.json();
    assert.equal(as.registration_endpoint, undefined);
    assert.equal(as.client_id_metadata_document_supported, true);
  } finally {
    await server.close();
  }
});
