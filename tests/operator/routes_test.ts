/**
 * The operator routes in the whole app, served on a loopback port: who gets
 * the page and the feed (the access matrix), how refusals read, the
 * security headers, the feed caps, and the page turned off.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv } from "../../testing/spawn.ts";
import { staticClientToken } from "../helpers/oauth.ts";
import { ask, signIn } from "../helpers/operator.ts";
import { withServedApp } from "../helpers/served_app.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const PASSWORD = "routes-owner-password";
const TOKEN = "routes-static-token-0123456789";
const CLIENT = {
  id: "routes-client",
  secret: "s".repeat(40),
  redirectUri: "http://127.0.0.1:9/cb",
};
const OAUTH_ENV = {
  AUTH_ENABLED: "true",
  MCP_OWNER_PASSWORD: PASSWORD,
  MCP_AUTH_TOKENS: TOKEN,
  MCP_CLIENT_ID: CLIENT.id,
  MCP_CLIENT_SECRET: CLIENT.secret,
  MCP_REDIRECT_URIS: CLIENT.redirectUri,
};
const HTML = { accept: "text/html" };

Deno.test(
  "operator routes: the access matrix of the page and the feed, OAuth on",
  opts,
  async () => {
    const gateway = await TestGateway.start();
    try {
      await withServedApp(
        { env: { ...gatewayEnv(gateway.url), ...OAUTH_ENV } },
        async ({ url }) => {
          const clientToken = await staticClientToken(url, CLIENT);
          const refusedRows: [string, Record<string, string>][] = [
            ["no auth", {}],
            ["a wrong token", { authorization: "Bearer not-a-configured-token" }],
            ["a malformed header", { authorization: "Basic b3duZXI6cGFzcw==" }],
            ["a client's OAuth access token", { authorization: `Bearer ${clientToken}` }],
            ["a forged cookie", { cookie: "openclaw_operator=" + "A".repeat(43) }],
          ];
          assert.equal(
            await signIn(url, "wrong password"),
            null,
            "a wrong password signs nobody in",
          );
          for (const [why, headers] of refusedRows) {
            for (const path of ["/", "/operator/events", "/operator/snapshot"]) {
              const answer = await ask(url, path, headers);
              assert.equal(answer.status, 401, `${path} with ${why}`);
              assert.equal(answer.error, "unauthorized", `${path} with ${why}`);
              assert.equal(answer.headers.get("cache-control"), "no-store");
              assert.doesNotMatch(answer.text, new RegExp(`${PASSWORD}|${TOKEN}|${clientToken}`));
            }
          }
          // A browser without access is sent to sign in; with a bad token it is told why.
          const browser = await ask(url, "/", HTML);
          assert.equal(browser.status, 303);
          assert.equal(browser.location, "/operator/login");
          assert.equal(
            (await ask(url, "/", { ...HTML, authorization: "Bearer nope" })).status,
            401,
          );

          const cookie = await signIn(url, PASSWORD);
          assert.ok(cookie, "the owner password signs in");
          const allowedRows: [string, Record<string, string>][] = [
            ["the owner's sign-in cookie", { cookie }],
            ["a static token", { authorization: `Bearer ${TOKEN}` }],
          ];
          for (const [why, headers] of allowedRows) {
            const page = await ask(url, "/", { ...HTML, ...headers });
            assert.equal(page.status, 200, `page with ${why}`);
            assert.match(page.text, /<title>OpenClaw MCP operator<\/title>/);
            const feed = await ask(url, "/operator/events", headers);
            assert.equal(feed.status, 200, `feed with ${why}`);
            assert.match(feed.text, /^retry: 2000\n\nevent: snapshot\ndata: \{/);
            const snapshot = await ask(url, "/operator/snapshot", headers);
            assert.equal(snapshot.status, 200, `snapshot with ${why}`);
            assert.equal(JSON.parse(snapshot.text).instances[0].name, "default");
            for (const text of [page.text, feed.text, snapshot.text]) {
              assert.ok(!text.includes(PASSWORD) && !text.includes(TOKEN), `no secret with ${why}`);
              assert.ok(!text.includes("test-token"), "no gateway token");
            }
          }
          // The sign-in cookie alone opens the page; a bearer header decides alone when present.
          const both = await ask(url, "/", { cookie, authorization: `Bearer ${clientToken}` });
          assert.equal(both.status, 401);
        },
      );
    } finally {
      await gateway.close();
    }
  },
);

Deno.test(
  "operator routes: security headers of the page, the login page and the feed",
  opts,
  async () => {
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), ...OAUTH_ENV } },
      async ({ url }) => {
        const cookie = await signIn(url, PASSWORD);
        const page = await ask(url, "/", { cookie: cookie! });
        const login = await ask(url, "/operator/login", HTML);
        for (const answer of [page, login]) {
          const csp = answer.headers.get("content-security-policy") ?? "";
          const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
          assert.ok(nonce, csp);
          assert.equal(
            csp,
            `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
          );
          assert.equal(answer.headers.get("x-frame-options"), "DENY");
          assert.equal(answer.headers.get("referrer-policy"), "no-referrer");
          assert.equal(answer.headers.get("cache-control"), "no-store");
          // Every inline style and script carries the nonce; nothing is loaded from elsewhere.
          const tags = answer.text.match(/<(script|style)\b[^>]*>/g) ?? [];
          assert.ok(tags.length > 0);
          for (const tag of tags) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
          assert.doesNotMatch(answer.text, /\b(src|href)="(https?:)?\/\//);
        }
        const feed = await ask(url, "/operator/events", { cookie: cookie! });
        assert.equal(feed.headers.get("cache-control"), "no-store");
        assert.equal(feed.headers.get("x-frame-options"), "DENY");
      },
    );
  },
);

Deno.test(
  "operator routes: no auth on a loopback bind opens the page to loopback clients only",
  opts,
  async () => {
    await withServedApp({ env: gatewayEnv("http://127.0.0.1:9") }, async ({ url }) => {
      const page = await ask(url, "/", HTML);
      assert.equal(page.status, 200, "a loopback client gets the page");
      assert.doesNotMatch(page.text, /Sign out/, "nothing to sign out of");
      assert.equal((await ask(url, "/operator/events")).status, 200);
      assert.equal((await ask(url, "/operator/login", HTML)).status, 303, "no sign-in needed");
      // With TRUST_PROXY off, a request that came through a proxy is not taken for a loopback one.
      const proxied = await ask(url, "/", { "x-forwarded-for": "203.0.113.7" });
      assert.equal(proxied.status, 403);
      assert.equal(proxied.error, "forbidden");
      assert.equal(
        (await ask(url, "/operator/events", { forwarded: "for=203.0.113.7" })).status,
        403,
      );
    });
    // Behind a trusted proxy, the client is the one the proxy saw.
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), TRUST_PROXY: "1" } },
      async ({ url }) => {
        assert.equal((await ask(url, "/", { "x-forwarded-for": "203.0.113.7" })).status, 403);
        assert.equal((await ask(url, "/", { "x-forwarded-for": "127.0.0.1" })).status, 200);
      },
    );
  },
);

Deno.test(
  "operator routes: a public bind without auth has no operator page; MCP_OPERATOR_PAGE=false none at all",
  opts,
  async () => {
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), HOST: "0.0.0.0", MCP_ALLOW_INSECURE: "true" } },
      async ({ url }) => {
        const page = await ask(url, "/", HTML);
        assert.equal(page.status, 403);
        assert.match(page.text, /No way to sign in is configured/);
        assert.doesNotMatch(page.text, /<form/);
        const feed = await ask(url, "/operator/events");
        assert.equal(feed.status, 401);
        assert.equal(feed.error, "unauthorized");
        assert.equal((await ask(url, "/operator/login", HTML)).status, 403);
      },
    );
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), MCP_OPERATOR_PAGE: "false" } },
      async ({ url, http }) => {
        assert.equal(http.operator, null);
        for (const path of ["/", "/operator/events", "/operator/login"]) {
          const answer = await ask(url, path);
          assert.equal(answer.status, 404, path);
          assert.equal(answer.error, "not_found");
        }
      },
    );
  },
);

Deno.test(
  "operator routes: at most 4 feeds per sign-in; failed bearer attempts are limited per address",
  opts,
  async () => {
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), ...OAUTH_ENV } },
      async ({ url, http }) => {
        const cookie = (await signIn(url, PASSWORD))!;
        const open: Response[] = [];
        for (let i = 0; i < 4; i++) {
          const response = await fetch(`${url}/operator/events`, { headers: { cookie } });
          assert.equal(response.status, 200);
          open.push(response);
        }
        const fifth = await ask(url, "/operator/events", { cookie });
        assert.equal(fifth.status, 429);
        assert.equal(fifth.error, "quota_exceeded");
        assert.ok(fifth.headers.get("retry-after"));
        // Another viewer (a static token) still gets one.
        const other = await ask(url, "/operator/events", { authorization: `Bearer ${TOKEN}` });
        assert.equal(other.status, 200);
        for (const response of open) await response.body?.cancel();
        // A closed feed gives its place back.
        for (let i = 0; i < 50 && http.operator!.feeds.size > 0; i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal((await ask(url, "/operator/events", { cookie })).status, 200);

        const statuses: number[] = [];
        for (let i = 0; i < 31; i++) {
          statuses.push(
            (await ask(url, "/operator/snapshot", { authorization: "Bearer guess" })).status,
          );
        }
        assert.deepEqual(statuses.slice(0, 30), Array(30).fill(401));
        assert.equal(statuses[30], 429, "the 31st wrong token in a minute is not even checked");
        // The right token from the same address is limited the same way (it is not known yet).
        assert.equal(
          (await ask(url, "/operator/snapshot", { authorization: `Bearer ${TOKEN}` })).status,
          429,
        );
        assert.equal(
          (await ask(url, "/operator/snapshot", { cookie })).status,
          200,
          "cookies are not",
        );
      },
    );
  },
);

Deno.test(
  "operator routes: /metrics takes the operator's sign-in (OAuth on, no metrics token)",
  opts,
  async () => {
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), ...OAUTH_ENV } },
      async ({ url }) => {
        const refused = await ask(url, "/metrics");
        assert.equal(refused.status, 401);
        assert.equal(refused.error, "unauthorized");
        const forged = await ask(url, "/metrics", { cookie: "openclaw_operator=forged" });
        assert.equal(forged.status, 401);
        const cookie = await signIn(url, PASSWORD);
        assert.ok(cookie);
        const scraped = await ask(url, "/metrics", { cookie });
        assert.equal(scraped.status, 200);
        assert.match(scraped.text, /^# HELP openclaw_mcp_/m);
      },
    );
  },
);
