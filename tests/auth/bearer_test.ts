/** `bearer.ts` in process: the 401 bodies and challenges, and the principal it sets. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { mcpBearer, tokenId } from "../../src/auth/bearer.ts";
import type { TokenRecord } from "../../src/auth/store.ts";

const STATIC = "static-token-0123456789abcdef";
const METADATA = "https://mcp.example/.well-known/oauth-protected-resource/mcp";
const GET_TOKEN =
  `Get an access token through OAuth: the resource metadata at ${METADATA} names the authorization server, or use a token from the server's MCP_AUTH_TOKENS.`;

async function app(options: { oauth?: boolean } = {}) {
  const records: Record<string, Partial<TokenRecord>> = {
    mine: { clientId: "c1", family: "f1", resource: "https://mcp.example/mcp" },
    elsewhere: { clientId: "c2", family: "f2", resource: "https://other.example/mcp" },
  };
  const hono = new Hono<{ Variables: { principal: string } }>();
  hono.use(
    "*",
    await mcpBearer({
      staticTokens: [STATIC],
      oauth: options.oauth === false ? undefined : {
        verify: (token) => Promise.resolve((records[token] as TokenRecord) ?? null),
        resource: () => "https://mcp.example/mcp",
        resourceMetadataUrl: () => METADATA,
      },
    }),
  );
  hono.get("/", (c) => c.text(c.get("principal")));
  return hono;
}

async function call(authorization?: string, options: { oauth?: boolean } = {}) {
  const response = await (await app(options)).request("/", {
    headers: authorization ? { authorization } : {},
  });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get("www-authenticate"),
    body: response.status === 200 ? text : JSON.parse(text),
  };
}

Deno.test("bearer: static tokens and OAuth access tokens set the principal", async () => {
  assert.deepEqual(await call(`Bearer ${STATIC}`), {
    status: 200,
    challenge: null,
    body: await tokenId(STATIC),
  });
  assert.equal((await call("bearer   mine")).body, "oauth:c1:f1");
});

Deno.test("bearer: every refusal is a 401 with a challenge naming the metadata", async () => {
  const base = `Bearer realm="openclaw-mcp", resource_metadata="${METADATA}", scope="mcp:tools"`;
  assert.deepEqual(await call(), {
    status: 401,
    challenge: base,
    body: {
      error: "unauthorized",
      message: "Send Authorization: Bearer <token>.",
      hint: GET_TOKEN,
    },
  });
  assert.deepEqual(await call("Basic abc"), {
    status: 401,
    challenge: `${base}, error="invalid_request"`,
    body: {
      error: "invalid_request",
      message: "Send Authorization: Bearer <token>.",
      hint: GET_TOKEN,
    },
  });
  assert.deepEqual(await call("Bearer wrong"), {
    status: 401,
    challenge:
      `${base}, error="invalid_token", error_description="The token is invalid, expired or revoked"`,
    body: {
      error: "invalid_token",
      message: "The token is invalid, expired or revoked.",
      hint: GET_TOKEN,
    },
  });
  const other = await call("Bearer elsewhere");
  assert.match(other.challenge!, /error_description="The token is for another resource"/);
  assert.deepEqual(other.body, {
    error: "invalid_token",
    message: "The token is for another resource.",
    hint: "Ask the authorization server for a token with resource=https://mcp.example/mcp.",
  });
});

Deno.test("bearer: without OAuth the 401 hint points at the static tokens", async () => {
  assert.deepEqual(await call("Bearer wrong", { oauth: false }), {
    status: 401,
    challenge:
      `Bearer realm="openclaw-mcp", error="invalid_token", error_description="The token is invalid, expired or revoked"`,
    body: {
      error: "invalid_token",
      message: "The token is invalid, expired or revoked.",
      hint: "Use one of the server's MCP_AUTH_TOKENS (its operator has them).",
    },
  });
});
