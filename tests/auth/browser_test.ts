/**
 * The consent page in a real browser (Debian's Chromium, driven headless by
 * playwright-core): it renders under its CSP, takes the owner password,
 * approves, and the browser lands on the client's callback with a code.
 * Skipped, with the reason printed, where Chromium is not installed.
 */
import assert from "node:assert/strict";
import { chromiumAvailable, launchChromium } from "../../testing/chromium.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, startHttp } from "../../testing/spawn.ts";
import { authorizeUrl, pkce, register, tokenRequest } from "../helpers/oauth.ts";

const available = await chromiumAvailable("browser test");

Deno.test({
  name: "oauth: consent approved in headless Chromium redirects with a code",
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const PASSWORD = "browser-owner-password";
    let received: URL | null = null;
    const callback = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      // Only the redirect counts: the browser also asks this server for /favicon.ico.
      const url = new URL(req.url);
      if (url.pathname !== "/callback") return new Response(null, { status: 404 });
      received = url;
      return new Response("<!doctype html><title>done</title><p>Signed in.</p>", {
        headers: { "content-type": "text/html" },
      });
    });
    const callbackUrl = `http://127.0.0.1:${(callback.addr as Deno.NetAddr).port}/callback`;
    const gateway = await TestGateway.start();
    const server = await startHttp({
      env: {
        ...gatewayEnv(gateway.url),
        AUTH_ENABLED: "true",
        MCP_ALLOW_DCR: "true",
        MCP_OWNER_PASSWORD: PASSWORD,
      },
    });
    const browser = await launchChromium();
    try {
      const reg = await register(server.url, {
        redirect_uris: [callbackUrl],
        client_name: "Browser <Test> App",
        token_endpoint_auth_method: "none",
      });
      assert.equal(reg.status, 201);
      const { verifier, challenge } = await pkce();
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(authorizeUrl(server.url, {
        response_type: "code",
        client_id: reg.body.client_id,
        redirect_uri: callbackUrl,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "browser-state",
      }));
      assert.equal(await page.title(), "Approve access to OpenClaw");
      const heading = await page.textContent("h1");
      assert.match(heading ?? "", /Browser <Test> App/, "the client name is shown, escaped");
      await page.fill("#password", "wrong password");
      await page.click("button[value=approve]");
      await page.waitForSelector(".err");
      assert.match(await page.textContent(".err") ?? "", /Wrong password/);
      await page.fill("#password", PASSWORD);
      await Promise.all([page.waitForURL(/\/callback\?/), page.click("button[value=approve]")]);
      assert.ok(received, "the browser reached the callback");
      const landed = received as URL;
      assert.equal(landed.searchParams.get("state"), "browser-state");
      const code = landed.searchParams.get("code");
      assert.ok(code);
      assert.deepEqual(violations, [], "no CSP violations");
      const tokens = await tokenRequest(server.url, {
        grant_type: "authorization_code",
        code,
        redirect_uri: callbackUrl,
        code_verifier: verifier,
        client_id: reg.body.client_id,
      });
      assert.equal(tokens.status, 200);
      await page.screenshot({ path: `${await Deno.makeTempDir()}/consent.png` });
    } finally {
      await browser.close();
      await server.stop();
      await gateway.close();
      await callback.shutdown();
    }
  },
});
