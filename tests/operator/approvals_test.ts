/**
 * Approvals on the operator page, in the whole app served on a loopback
 * port against the test gateway's operator WebSocket: the snapshot lists
 * what the gateway holds and drops what was answered; `POST
 * /operator/approvals` and who may use it (the access matrix: sign-in,
 * CSRF token bound to it, Origin, a client's OAuth token), bad fields,
 * approvals off, an unpaired bridge, the per-address limit, the loopback
 * page.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv } from "../../testing/spawn.ts";
import { staticClientToken } from "../helpers/oauth.ts";
import { ask, signIn } from "../helpers/operator.ts";
import { withServedApp } from "../helpers/served_app.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** Runs `fn` with a fresh test gateway, closed afterwards. */
async function withTestGateway(fn: (gateway: TestGateway) => Promise<void>): Promise<void> {
  const gateway = await TestGateway.start();
  try {
    await fn(gateway);
  } finally {
    await gateway.close();
  }
}

const PASSWORD = "approvals-owner-password";
const TOKEN = "approvals-static-token-0123456789";
const CLIENT = {
  id: "approvals-client",
  secret: "s".repeat(40),
  redirectUri: "http://127.0.0.1:9/cb",
};
const OAUTH_ENV = {
  AUTH_ENABLED: "true",
  MCP_OWNER_PASSWORD: PASSWORD,
  MCP_OWNER_TOKENS: TOKEN,
  MCP_CLIENT_ID: CLIENT.id,
  MCP_CLIENT_SECRET: CLIENT.secret,
  MCP_REDIRECT_URIS: CLIENT.redirectUri,
};
const BEARER = { authorization: `Bearer ${TOKEN}` };

type Json = Record<string, unknown>;

/** What a POST to /operator/approvals got. */
interface Answered {
  status: number;
  error: string | null;
  body: Json;
  headers: Headers;
}

async function answer(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answered> {
  const response = await fetch(`${base}/operator/approvals`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("application/json")
    ? JSON.parse(text)
    : { text };
  return {
    status: response.status,
    error: json.error ?? null,
    body: json,
    headers: response.headers,
  };
}

/** The CSRF token the page gives the approval buttons. */
async function pageCsrf(base: string, headers: Record<string, string>): Promise<string> {
  const page = await ask(base, "/", { accept: "text/html", ...headers });
  assert.equal(page.status, 200);
  const csrf = /id="notice"[^>]*data-csrf="([^"]*)"/.exec(page.text)?.[1];
  assert.ok(csrf, "the page holds a CSRF token for its buttons");
  return csrf;
}

async function snapshot(base: string, headers: Record<string, string>): Promise<Json> {
  const answer = await ask(base, "/operator/snapshot", headers);
  assert.equal(answer.status, 200);
  return JSON.parse(answer.text);
}

function approvalsOf(snap: Json): Json {
  return (snap.instances as Json[])[0].approvals as Json;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function raise(gateway: TestGateway, command: string) {
  return gateway.approvals.raise("exec", {
    command,
    sessionKey: "agent:main:mcp-x:chores",
    agentId: "main",
    cwd: "/srv",
    host: "gateway",
  });
}

Deno.test(
  "operator approvals: the access matrix of POST /operator/approvals, OAuth on",
  opts,
  async () => {
    await withTestGateway(async (gateway) => {
      await withServedApp(
        { env: { ...gatewayEnv(gateway.url), ...OAUTH_ENV } },
        async ({ url, logs }) => {
          const same = { origin: url };
          const pending = raise(gateway, "echo hi");
          const body = { instance: "default", id: pending.id, decision: "allow-once" };
          const clientToken = await staticClientToken(url, CLIENT);
          const cookie = (await signIn(url, PASSWORD))!;
          const other = (await signIn(url, PASSWORD))!;
          const csrf = await pageCsrf(url, { cookie });
          const otherCsrf = await pageCsrf(url, { cookie: other });
          assert.notEqual(csrf, otherCsrf, "each sign-in has its own token");

          const refused: [string, Record<string, string>, Json, number, string][] = [
            ["no sign-in", same, { ...body, csrf }, 401, "unauthorized"],
            [
              "a forged cookie",
              { ...same, cookie: `openclaw_operator=${"A".repeat(43)}` },
              {
                ...body,
                csrf,
              },
              401,
              "unauthorized",
            ],
            [
              "a client's OAuth access token",
              {
                ...same,
                authorization: `Bearer ${clientToken}`,
              },
              body,
              401,
              "unauthorized",
            ],
            [
              "a wrong static token",
              { ...same, authorization: "Bearer guess" },
              body,
              401,
              "unauthorized",
            ],
            ["no CSRF token", { ...same, cookie }, body, 403, "forbidden"],
            [
              "a wrong CSRF token",
              { ...same, cookie },
              { ...body, csrf: "x".repeat(22) },
              403,
              "forbidden",
            ],
            [
              "another sign-in's CSRF token",
              { ...same, cookie },
              {
                ...body,
                csrf: otherCsrf,
              },
              403,
              "forbidden",
            ],
            ["no Origin", { cookie }, { ...body, csrf }, 403, "forbidden"],
            [
              "a foreign Origin",
              { cookie, origin: "https://evil.example" },
              {
                ...body,
                csrf,
              },
              403,
              "forbidden",
            ],
            [
              "another loopback port's Origin",
              { cookie, origin: "http://127.0.0.1:1" },
              {
                ...body,
                csrf,
              },
              403,
              "forbidden",
            ],
            ["Origin null", { cookie, origin: "null" }, { ...body, csrf }, 403, "forbidden"],
          ];
          for (const [why, headers, sent, status, error] of refused) {
            const got = await answer(url, sent, headers);
            assert.equal(got.status, status, why);
            assert.equal(got.error, error, why);
            assert.doesNotMatch(JSON.stringify(got.body), new RegExp(`${csrf}|${PASSWORD}`));
          }
          assert.equal(gateway.approvals.pending.size, 1, "still pending");
          assert.deepEqual(gateway.approvals.resolutions, []);
          const csrfRefusal = await answer(url, { ...body, csrf: "nope" }, { ...same, cookie });
          assert.match(String(csrfRefusal.body.message), /CSRF token/);
          assert.match(String(csrfRefusal.body.hint), /Reload the operator page/);
          assert.equal(csrfRefusal.headers.get("cache-control"), "no-store");

          // The owner's browser: its sign-in, its token, its own Origin.
          const got = await answer(url, { ...body, csrf }, { ...same, cookie });
          assert.equal(got.status, 200, JSON.stringify(got.body));
          assert.equal(got.headers.get("cache-control"), "no-store");
          assert.equal(got.body.decision, "allow-once");
          assert.equal(got.body.accepted, true);
          assert.equal(got.body.instance, "default");
          const shown = got.body.approval as Json;
          assert.equal(shown.id, pending.id);
          assert.equal(shown.summary, "echo hi");
          assert.equal(await pending.decided, "allow-once");
          assert.equal(gateway.approvals.pending.size, 0);
          assert.deepEqual(gateway.approvals.resolutions, [{
            id: pending.id,
            decision: "allow-once",
          }]);
          const logged = logs.find((l) => l.event === "operator_approval_answered");
          assert.deepEqual(
            { ...logged, time: undefined },
            {
              level: "info",
              time: undefined,
              event: "operator_approval_answered",
              instance: "default",
              kind: "exec",
              decision: "allow-once",
              accepted: true,
              via: "sign_in",
            },
            "logged without the command",
          );

          // Answered already: not found.
          const again = await answer(url, { ...body, csrf }, { ...same, cookie });
          assert.equal(again.status, 404);
          assert.equal(again.error, "approval_not_found");

          // A script with a static token: no CSRF token, no Origin needed.
          const second = raise(gateway, "make deploy");
          const script = await answer(
            url,
            { instance: "default", id: second.id, decision: "deny" },
            BEARER,
          );
          assert.equal(script.status, 200);
          assert.equal(await second.decided, "deny");
          assert.equal(gateway.approvals.resolutions.length, 2);
        },
      );
    });
  },
);

Deno.test(
  "operator approvals: the snapshot lists a raised approval and drops it once answered",
  opts,
  async () => {
    await withTestGateway(async (gateway) => {
      await withServedApp(
        { env: { ...gatewayEnv(gateway.url), MCP_OWNER_TOKENS: TOKEN } },
        async ({ url }) => {
          const quiet = approvalsOf(await snapshot(url, BEARER));
          assert.equal(quiet.total, 0);
          const pending = raise(gateway, "rm -rf /tmp/cache");
          const listed = await until(
            () => snapshot(url, BEARER),
            (s) => (approvalsOf(s).pending as Json[]).length === 1,
            "the approval in the snapshot",
          );
          const [shown] = approvalsOf(listed).pending as Json[];
          assert.deepEqual(shown, {
            id: pending.id,
            kind: "exec",
            summary: "rm -rf /tmp/cache",
            sessionKey: "agent:main:mcp-x:chores",
            agent: "main",
            cwd: "/srv",
            host: "gateway",
            decisions: ["allow-once", "allow-always", "deny"],
            requestedAt: pending.createdAtMs,
            expiresAt: pending.expiresAtMs,
          });
          assert.equal(approvalsOf(listed).state, "ok");
          // The page and the feed show it too.
          const page = await ask(url, "/", { accept: "text/html", ...BEARER });
          assert.match(page.text, new RegExp(`data-approval="${pending.id}"`));
          assert.match(page.text, /<button type="button" data-decision="allow-once">Allow once</);
          const feed = await ask(url, "/operator/events?format=html", BEARER);
          assert.match(feed.text, new RegExp(`data-approval="${pending.id}"`));
          // One operator connection serves every viewer.
          await Promise.all([1, 2, 3].map(() => snapshot(url, BEARER)));
          assert.equal(gateway.approvals.connections, 1);

          const got = await answer(url, {
            instance: "default",
            id: pending.id,
            decision: "allow-always",
          }, BEARER);
          assert.equal(got.status, 200);
          // The next snapshot is read anew: the answered one is gone at once.
          const after = approvalsOf(await snapshot(url, BEARER));
          assert.deepEqual(after.pending, []);
          assert.equal(after.total, 0);
          // Answered on the gateway itself: gone from the page within a period or two.
          const third = raise(gateway, "ls");
          await until(() => snapshot(url, BEARER), (s) => approvalsOf(s).total === 1, "listed");
          gateway.approvals.resolve(third.id, "deny");
          await until(() => snapshot(url, BEARER), (s) => approvalsOf(s).total === 0, "dropped");
        },
      );
    });
  },
);

Deno.test(
  "operator approvals: bad fields are refused with coded errors naming the field",
  opts,
  async () => {
    await withTestGateway(async (gateway) => {
      await withServedApp(
        { env: { ...gatewayEnv(gateway.url), MCP_OWNER_TOKENS: TOKEN } },
        async ({ url }) => {
          const good = { instance: "default", id: "some-id", decision: "deny" };
          const rows: [string, unknown, number, string, RegExp][] = [
            [
              "no instance",
              { id: "a", decision: "deny" },
              400,
              "invalid_argument",
              /instance is required/,
            ],
            [
              "a number for instance",
              { ...good, instance: 7 },
              400,
              "invalid_argument",
              /instance is required/,
            ],
            ["an empty id", { ...good, id: "  " }, 400, "invalid_argument", /id is empty/],
            [
              "a long id",
              { ...good, id: "x".repeat(513) },
              400,
              "invalid_argument",
              /id is longer than 512/,
            ],
            [
              "a control character",
              { ...good, id: "a\u0000b" },
              400,
              "invalid_argument",
              /id holds control characters/,
            ],
            [
              "a made-up decision",
              { ...good, decision: "maybe" },
              400,
              "invalid_argument",
              /decision must be one of allow-once, allow-always, deny/,
            ],
            [
              "no decision",
              { instance: "default", id: "a" },
              400,
              "invalid_argument",
              /decision must be one of/,
            ],
            ["a JSON array", [1, 2], 400, "invalid_argument", /instance is required/],
            ["not JSON", "{", 400, "invalid_argument", /instance is required/],
            [
              "an unknown instance",
              { ...good, instance: "nope" },
              404,
              "unknown_instance",
              /No gateway instance is named "nope"/,
            ],
            ["an unknown id", good, 404, "approval_not_found", /No pending approval "some-id"/],
          ];
          for (const [why, body, status, error, message] of rows) {
            const got = await answer(url, body, BEARER);
            assert.equal(got.status, status, why);
            assert.equal(got.error, error, why);
            assert.match(String(got.body.message), message, why);
            assert.equal(typeof got.body.hint, "string", why);
            assert.doesNotMatch(JSON.stringify(got.body), /at .*\.ts:\d+/, `${why}: no stack`);
          }
          // A body past 16 KiB is not read.
          const big = await fetch(`${url}/operator/approvals`, {
            method: "POST",
            headers: { "content-type": "application/json", ...BEARER },
            body: JSON.stringify({ ...good, id: "x".repeat(20_000) }),
          });
          assert.equal(big.status, 413);
          await big.body?.cancel();
          // A plugin approval the gateway will not let be trusted always.
          const plugin = gateway.approvals.raise("plugin", {
            title: "Send mail",
            unavailableDecisions: ["allow-always"],
          });
          const always = await answer(
            url,
            { ...good, id: plugin.id, decision: "allow-always" },
            BEARER,
          );
          assert.equal(always.status, 400);
          assert.equal(always.error, "invalid_argument");
          assert.match(String(always.body.message), /does not offer "allow-always"/);
          assert.equal(gateway.approvals.pending.size, 1);
        },
      );
    });
  },
);

Deno.test(
  "operator approvals: off, the section says so and the route refuses; unpaired, a line says why",
  opts,
  async () => {
    await withTestGateway(async (gateway) => {
      await withServedApp(
        {
          env: { ...gatewayEnv(gateway.url), MCP_OWNER_TOKENS: TOKEN, OPENCLAW_APPROVALS: "off" },
        },
        async ({ url }) => {
          raise(gateway, "echo hi");
          const approvals = approvalsOf(await snapshot(url, BEARER));
          assert.equal(approvals.state, "off");
          assert.deepEqual(approvals.pending, []);
          const page = await ask(url, "/", { accept: "text/html", ...BEARER });
          assert.match(page.text, /Approvals are off \(OPENCLAW_APPROVALS=off\)/);
          assert.doesNotMatch(page.text, /<button[^>]*data-decision/);
          const got = await answer(url, { instance: "default", id: "a", decision: "deny" }, BEARER);
          assert.equal(got.status, 403);
          assert.equal(got.error, "forbidden");
          assert.match(String(got.body.message), /Approvals are turned off for instance "default"/);
          assert.match(String(got.body.hint), /OPENCLAW_APPROVALS=owner/);
          assert.equal(gateway.approvals.connects.length, 0, "no WebSocket at all");
        },
      );
      gateway.approvals.pairing = "required";
      await withServedApp(
        { env: { ...gatewayEnv(gateway.url), MCP_OWNER_TOKENS: TOKEN } },
        async ({ url }) => {
          const approvals = approvalsOf(await snapshot(url, BEARER));
          assert.equal(approvals.state, "unavailable");
          const error = approvals.error as Json;
          assert.equal(error.code, "gateway_pairing_required");
          assert.match(String(error.hint), /openclaw devices approve /);
          const page = await ask(url, "/", { accept: "text/html", ...BEARER });
          assert.match(page.text, /approvals unavailable: gateway_pairing_required \u2014 /);
          assert.doesNotMatch(page.text, /test-token|at .*\.ts:\d+/);
          // Not asked again at every snapshot.
          const connects = gateway.approvals.connects.length;
          for (let i = 0; i < 3; i++) {
            await new Promise((r) => setTimeout(r, 400));
            await snapshot(url, BEARER);
          }
          assert.equal(gateway.approvals.connects.length, connects);
        },
      );
    });
  },
);

Deno.test(
  "operator approvals: with MCP_OWNER_TOKENS set, another static token neither opens the page nor answers; without them it may look but not answer",
  opts,
  async () => {
    const OTHER = "approvals-other-token-0123456789";
    await withTestGateway(async (gateway) => {
      await withServedApp(
        {
          env: { ...gatewayEnv(gateway.url), MCP_AUTH_TOKENS: OTHER, MCP_OWNER_TOKENS: TOKEN },
        },
        async ({ url }) => {
          const pending = raise(gateway, "rm -rf /srv");
          const body = { instance: "default", id: pending.id, decision: "allow-always" };
          const other = { authorization: `Bearer ${OTHER}` };
          // The page shows every caller's tasks and the approvals: owners only.
          assert.equal((await ask(url, "/operator/snapshot", other)).status, 401);
          const script = await answer(url, body, other);
          assert.equal(script.status, 401);
          assert.equal(await signIn(url, OTHER), null, "no sign-in with a non-owner token");
          assert.equal(gateway.approvals.pending.size, 1, "still pending");
          assert.deepEqual(gateway.approvals.resolutions, []);
          // The owner token's sign-in answers.
          const owner = (await signIn(url, TOKEN))!;
          const ownerCsrf = await pageCsrf(url, { cookie: owner });
          const got = await answer(url, { ...body, decision: "deny", csrf: ownerCsrf }, {
            origin: url,
            cookie: owner,
          });
          assert.equal(got.status, 200, JSON.stringify(got.body));
          assert.equal(await pending.decided, "deny");
        },
      );
      // No owner tokens: every static token opens the page (as before owner
      // tokens existed), but none is an owner, so none answers.
      await withServedApp(
        { env: { ...gatewayEnv(gateway.url), MCP_AUTH_TOKENS: OTHER } },
        async ({ url }) => {
          const pending = raise(gateway, "rm -rf /srv");
          const body = { instance: "default", id: pending.id, decision: "allow-always" };
          const other = { authorization: `Bearer ${OTHER}` };
          assert.equal((await ask(url, "/operator/snapshot", other)).status, 200);
          const script = await answer(url, body, other);
          assert.equal(script.status, 403);
          assert.equal(script.error, "forbidden");
          assert.match(String(script.body.message), /MCP_OWNER_TOKENS/);
          const cookie = (await signIn(url, OTHER))!;
          const csrf = await pageCsrf(url, { cookie });
          const browser = await answer(url, { ...body, csrf }, { origin: url, cookie });
          assert.equal(browser.status, 403);
          assert.equal(gateway.approvals.pending.size, 1, "still pending");
        },
      );
    });
  },
);

Deno.test(
  "operator approvals: without authentication the loopback page's token and Origin are required",
  opts,
  async () => {
    await withTestGateway(async (gateway) => {
      await withServedApp({ env: gatewayEnv(gateway.url) }, async ({ url }) => {
        const csrf = await pageCsrf(url, {});
        const pending = raise(gateway, "echo hi");
        const body = { instance: "default", id: pending.id, decision: "allow-once" };
        assert.equal((await answer(url, body, { origin: url })).status, 403, "no token");
        assert.equal(
          (await answer(url, { ...body, csrf }, { origin: "http://localhost:1" })).status,
          403,
          "another local site",
        );
        assert.equal((await answer(url, { ...body, csrf }, {})).status, 403, "no Origin");
        assert.equal(gateway.approvals.pending.size, 1);
        const got = await answer(url, { ...body, csrf }, { origin: url });
        assert.equal(got.status, 200);
        assert.equal(await pending.decided, "allow-once");
      });
    });
  },
);

Deno.test(
  "operator approvals: at most 30 answers a minute per address",
  opts,
  async () => {
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), MCP_OWNER_TOKENS: TOKEN } },
      async ({ url }) => {
        const statuses: number[] = [];
        for (let i = 0; i < 31; i++) {
          statuses.push((await answer(url, { id: "a" }, BEARER)).status);
        }
        assert.deepEqual(statuses.slice(0, 30), Array(30).fill(400));
        const last = await answer(url, { id: "a" }, BEARER);
        assert.equal(last.status, 429);
        assert.equal(last.error, "quota_exceeded");
      },
    );
  },
);
