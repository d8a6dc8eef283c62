/**
 * Discovery documents: OAuth protected-resource metadata for `/mcp`
 * (RFC 9728) and authorization-server metadata (RFC 8414).
 *
 * @module
 */
import { Hono } from "hono";
import type { OAuthMetadata, OAuthProtectedResourceMetadata } from "@modelcontextprotocol/server";
import { type OAuthContext, SCOPE } from "./context.ts";

const AUTH_METHODS = ["client_secret_post", "client_secret_basic", "none"];

/** The protected-resource metadata of `/mcp`. */
export function protectedResourceMetadata(ctx: OAuthContext): OAuthProtectedResourceMetadata {
  return {
    resource: ctx.resource(),
    authorization_servers: [ctx.issuer()],
    scopes_supported: [SCOPE],
    bearer_methods_supported: ["header"],
    resource_name: "OpenClaw MCP",
  };
}

/** The authorization-server metadata; `/register` only while DCR is on. */
export function authorizationServerMetadata(ctx: OAuthContext): OAuthMetadata {
  const issuer = ctx.issuer();
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    ...(ctx.auth.allowDcr ? { registration_endpoint: `${issuer}/register` } : {}),
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    scopes_supported: [SCOPE],
    authorization_response_iss_parameter_supported: true,
    // True only when such client ids are accepted, so clients fall back to DCR otherwise.
    client_id_metadata_document_supported: ctx.auth.allowCimd,
  };
}

/** The routes serving both documents (the resource one also at its `/mcp` suffix). */
export function metadataRoutes(ctx: OAuthContext): Hono {
  const app = new Hono();
  const protectedResource = () => Response.json(protectedResourceMetadata(ctx));
  app.get("/.well-known/oauth-protected-resource", protectedResource);
  app.get("/.well-known/oauth-protected-resource/mcp", protectedResource);
  app.get(
    "/.well-known/oauth-authorization-server",
    () => Response.json(authorizationServerMetadata(ctx)),
  );
  return app;
}
