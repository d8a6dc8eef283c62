/**
 * Bearer authentication for `/mcp`: static tokens (`MCP_AUTH_TOKENS`) and,
 * with OAuth on, access tokens issued by our authorization server, whose
 * audience must be this resource. Sets `principal`, the owner of the
 * caller's tasks. Every 401 says where to discover how to authenticate.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { TokenRecord } from "./store.ts";
import { sha256Bytes, sha256Hex } from "./crypto.ts";

/** What the middleware checks tokens against. */
export interface BearerOptions {
  /** Static tokens. */
  staticTokens: string[];
  /** The OAuth server, when enabled. */
  oauth?: {
    verify(token: string): Promise<TokenRecord | null>;
    resource(): string;
    resourceMetadataUrl(): string;
  };
}

/** A short, stable, non-secret id for a static token: the owner of its tasks. */
export async function tokenId(token: string): Promise<string> {
  return "token:" + (await sha256Hex(token)).slice(0, 16);
}

/** Creates the `/mcp` authentication middleware. */
export async function mcpBearer(options: BearerOptions): Promise<MiddlewareHandler> {
  const digests = await Promise.all(options.staticTokens.map(sha256Bytes));
  const challenge = (error?: string, description?: string) => {
    const parts = ['Bearer realm="openclaw-mcp"'];
    if (options.oauth) {
      parts.push(`resource_metadata="${options.oauth.resourceMetadataUrl()}"`, 'scope="mcp:tools"');
    }
    if (error) parts.push(`error="${error}"`);
    if (description) parts.push(`error_description="${description}"`);
    return parts.join(", ");
  };
  return async function bearer(c, next) {
    const header = c.req.header("authorization");
    const match = header ? /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
    if (!match) {
      return c.json(
        {
          error: header ? "invalid_request" : "unauthorized",
          message: "Send Authorization: Bearer <token>.",
        },
        401,
        { "www-authenticate": challenge(header ? "invalid_request" : undefined) },
      );
    }
    const token = match[1];
    const mine = await sha256Bytes(token);
    let isStatic = false;
    for (const d of digests) isStatic = timingSafeEqual(d, mine) || isStatic;
    if (isStatic) {
      c.set("principal", await tokenId(token));
      return await next();
    }
    const record = options.oauth ? await options.oauth.verify(token) : null;
    if (record && record.resource === options.oauth!.resource()) {
      c.set("principal", `oauth:${record.clientId}:${record.family}`);
      return await next();
    }
    const description = record
      ? "The token is for another resource"
      : "The token is invalid, expired or revoked";
    return c.json({ error: "invalid_token", message: `${description}.` }, 401, {
      "www-authenticate": challenge("invalid_token", description),
    });
  };
}
