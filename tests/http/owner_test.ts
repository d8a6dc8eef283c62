/**
 * Who is the owner over HTTP, for recall and approvals alike: a matrix of
 * four callers on one bridge with OAuth on and two static tokens. The
 * `MCP_OWNER_TOKENS` token and an OAuth login approved with "Owner access"
 * ticked are owners: they see every conversation with `openclaw_sessions`
 * and may list and answer approvals. The `MCP_AUTH_TOKENS` token and an
 * ordinary OAuth login see only their own conversations and get `forbidden`
 * from the approval tools. A refreshed owner login stays the owner; a
 * revoked one cannot call at all. (stdio's local user is the owner:
 * tests/tools/recall_test.ts, tests/auth/owner_grant_test.ts.)
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TestGateway } from "../../testing/test_gateway.ts";
import { dcrLogin, mcpStatus, tokenRequest } from "../helpers/oauth.ts";
import { withServedApp } from "../helpers/served_app.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "correct horse battery staple";
const OWNER_TOKEN = "owner-token-0123456789abcdef0123456789";
const OTHER_TOKEN = "other-token-0123456789abcdef0123456789";

type Result = { isError?: boolean; structuredContent?: Record<string, unknown> };

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "owner-test", version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  return await client.callTool({ name, arguments: args }) as Result;
}

function errorCode(result: Result): string | undefined {
  return result.isError
    ? (result.structuredContent?.error as { code?: string } | undefined)?.code
    : undefined;
}

function sessionIds(result: Result): (string | null)[] {
  return (result.structuredContent!.sessions as { session_id: string | null }[])
    .map((s) => s.session_id);
}

Deno.test(
  "http owner matrix: MCP_OWNER_TOKENS and an OAuth owner grant are owners; the other token and an ordinary OAuth login are not",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    try {
      await withServedApp({
        env: {
          OPENCLAW_URL: gateway.url,
          OPENCLAW_GATEWAY_TOKEN: "test-token",
          AUTH_ENABLED: "true",
          MCP_OWNER_PASSWORD: PASSWORD,
          MCP_ALLOW_DCR: "true",
          MCP_AUTH_TOKENS: OTHER_TOKEN,
          MCP_OWNER_TOKENS: OWNER_TOKEN,
        },
      }, async ({ url }) => {
        const ownerLogin = await dcrLogin(url, PASSWORD, { ownerAccess: true });
        const plainLogin = await dcrLogin(url, PASSWORD);
        const callers = {
          owner_token: { token: OWNER_TOKEN, owner: true },
          other_token: { token: OTHER_TOKEN, owner: false },
          oauth_owner: { token: ownerLogin.accessToken, owner: true },
          oauth_plain: { token: plainLogin.accessToken, owner: false },
        };
        const clients = new Map<string, Client>();
        try {
          // Names are lower case: the gateway lower-cases session keys.
          for (const [name, { token }] of Object.entries(callers)) {
            const client = await connect(url, token);
            clients.set(name, client);
            const chat = await call(client, "openclaw_chat", {
              message: `hi from ${name}`,
              session_id: name,
            });
            assert.ok(!chat.isError, name);
          }
          const approval = gateway.approvals.raise("exec", {
            command: "ls -la",
            sessionKey: "agent:main:main",
          });
          for (const [name, { owner }] of Object.entries(callers)) {
            const client = clients.get(name)!;
            const sessions = await call(client, "openclaw_sessions");
            assert.ok(!sessions.isError, name);
            if (owner) {
              assert.equal(sessions.structuredContent!.scope, "all", name);
              assert.equal(sessionIds(sessions).length, 4, `${name} sees every conversation`);
              assert.ok(sessionIds(sessions).includes(name), `${name} knows its own`);
            } else {
              assert.equal(sessions.structuredContent!.scope, "own", name);
              assert.deepEqual(sessionIds(sessions), [name], `${name} sees only its own`);
            }
            const listed = await call(client, "openclaw_approvals");
            const respond = await call(client, "openclaw_approval_respond", {
              id: "no-such-approval",
              decision: "deny",
            });
            if (owner) {
              assert.ok(!listed.isError, name);
              const ids = (listed.structuredContent!.approvals as { id: string }[]).map((a) =>
                a.id
              );
              assert.deepEqual(ids, [approval.id], name);
              assert.notEqual(errorCode(respond), "forbidden", name);
            } else {
              assert.equal(errorCode(listed), "forbidden", name);
              assert.equal(errorCode(respond), "forbidden", name);
            }
          }
          // The OAuth owner answers it.
          const answered = await call(clients.get("oauth_owner")!, "openclaw_approval_respond", {
            id: approval.id,
            decision: "deny",
          });
          assert.ok(!answered.isError, JSON.stringify(answered.structuredContent));
          assert.equal(await approval.decided, "deny");

          // A refreshed owner login (same family) is still the owner.
          const refreshed = await tokenRequest(url, {
            grant_type: "refresh_token",
            refresh_token: ownerLogin.refreshToken,
            client_id: ownerLogin.client.id,
            client_secret: ownerLogin.client.secret,
          });
          assert.equal(refreshed.status, 200);
          const again = await connect(url, refreshed.body.access_token);
          clients.set("refreshed", again);
          const all = await call(again, "openclaw_sessions");
          assert.equal(all.structuredContent!.scope, "all");
          assert.ok(!(await call(again, "openclaw_approvals")).isError);

          // Revoked: its tokens open nothing, so nothing of the owner's is left.
          const revoked = await tokenRequest(
            url,
            {
              token: refreshed.body.refresh_token,
              client_id: ownerLogin.client.id,
              client_secret: ownerLogin.client.secret,
            },
            undefined,
            "/revoke",
          );
          assert.equal(revoked.status, 200);
          assert.equal((await mcpStatus(url, refreshed.body.access_token)).status, 401);
          const after = await call(again, "openclaw_approvals").catch((error) => error);
          assert.ok(after instanceof Error, "the open session's next call is refused too");
        } finally {
          for (const client of clients.values()) await client.close().catch(() => {});
        }
      });
    } finally {
      await gateway.close();
    }
  },
);
