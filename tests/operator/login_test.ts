/**
 * Signing in to the operator page, in the whole app on a loopback port with
 * a clock the test moves: the CSRF-bound form, the consent page's lockout
 * (the same KV records: per form, owner-wide, the owner's recognised
 * browser), the cookie's attributes, expiry and signing out.
 */
import assert from "node:assert/strict";
import { OwnerLockout } from "../../src/auth/lockout.ts";
import { FORM_TTL_MS } from "../../src/operator/login_form.ts";
import { SIGN_IN_TTL_MS } from "../../src/operator/sign_ins.ts";
import { gatewayEnv } from "../../testing/spawn.ts";
import { ask, loginForm, postLogin, setCookie, signIn } from "../helpers/operator.ts";
import { withServedApp } from "../helpers/served_app.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "login-owner-password";
const ENV = {
  ...gatewayEnv("http://127.0.0.1:9"),
  AUTH_ENABLED: "true",
  MCP_OWNER_PASSWORD: PASSWORD,
};

function clock() {
  const c = { t: Date.parse("2030-01-01T00:00:00Z"), now: () => c.t };
  return c;
}

Deno.test(
  "operator login: the form's CSRF token must come with its cookie, unexpired",
  opts,
  async () => {
    const time = clock();
    await withServedApp({ env: ENV, now: time.now }, async ({ url }) => {
      const form = await loginForm(url);
      const other = await loginForm(url);
      const refused = async (f: { formId?: string; cookie?: string }) => {
        const response = await postLogin(url, { ...f, secret: PASSWORD });
        const html = await response.text();
        assert.equal(response.status, 403, JSON.stringify(f));
        assert.match(html, /CSRF token did not match/);
        assert.equal(setCookie(response, "openclaw_operator"), null);
      };
      await refused({ formId: form.formId });
      await refused({ cookie: form.cookie });
      await refused({ formId: form.formId, cookie: other.cookie });
      await refused({ formId: form.formId.replace(/.$/, "x"), cookie: form.cookie });
      // A cross-site form post carries no cookie (SameSite=Strict): refused as above; and its
      // Origin is refused first, by the guard every route has.
      const crossSite = await fetch(`${url}/operator/login`, {
        method: "POST",
        headers: {
          origin: "https://evil.example",
          cookie: form.cookie,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ form_id: form.formId, secret: PASSWORD }),
      });
      assert.equal(crossSite.status, 403);
      assert.equal((await crossSite.json()).error, "forbidden");
      time.t += FORM_TTL_MS;
      await refused(form);
      const fresh = await loginForm(url);
      const ok = await postLogin(url, { ...fresh, secret: PASSWORD });
      assert.equal(ok.status, 303);
      assert.equal(ok.headers.get("location"), "/");
    });
  },
);

Deno.test(
  "operator login: 5 attempts per form, each counted before the password is checked",
  opts,
  async () => {
    await withServedApp({ env: ENV }, async ({ url, logs }) => {
      const form = await loginForm(url);
      for (let i = 1; i <= 4; i++) {
        const wrong = await postLogin(url, { ...form, secret: `wrong ${i}` });
        assert.equal(wrong.status, 401);
        // The same form is shown again, so its count goes on.
        assert.ok((await wrong.text()).includes(form.formId));
      }
      const fifth = await postLogin(url, { ...form, secret: "wrong 5" });
      assert.equal(fifth.status, 429);
      await fifth.body?.cancel();
      const spent = await postLogin(url, { ...form, secret: PASSWORD });
      assert.equal(spent.status, 429, "the right password on a spent form is not checked");
      assert.match(await spent.text(), /Too many wrong attempts on this form/);
      assert.ok(await signIn(url, PASSWORD), "a fresh form works");
      const text = JSON.stringify(logs);
      assert.match(text, /operator_sign_in_refused/);
      assert.ok(!text.includes(PASSWORD) && !text.includes("wrong 5"), "no secret in the logs");
    });
  },
);

Deno.test(
  "operator login: the owner lockout is the consent page's; the owner's browser keeps its own budget",
  opts,
  async () => {
    const time = clock();
    await withServedApp({ env: ENV, now: time.now }, async ({ url, kv }) => {
      // A sign-in from this browser makes it the owner's (cookie on /operator/login).
      const first = await loginForm(url);
      const signedIn = await postLogin(url, { ...first, secret: PASSWORD });
      const device = setCookie(signedIn, "openclaw_owner_device");
      assert.ok(device);
      assert.match(
        signedIn.headers.getSetCookie().find((c) => c.startsWith("openclaw_owner_device="))!,
        /Path=\/operator\/login/,
      );
      await signedIn.body?.cancel();

      // Ten wrong passwords anywhere (the consent page counts on the same record) lock it.
      const lockout = new OwnerLockout(kv, { now: time.now });
      for (let i = 0; i < 10; i++) assert.ok((await lockout.reserve()).ok);
      assert.ok(await lockout.lockedUntil());

      const form = await loginForm(url);
      const locked = await postLogin(url, { ...form, secret: PASSWORD });
      assert.equal(locked.status, 429);
      assert.ok(Number(locked.headers.get("retry-after")) >= 1);
      assert.match(await locked.text(), /locked.*Your password was not checked/s);
      assert.equal(setCookie(locked, "openclaw_operator"), null);

      // The owner's recognised browser is still heard during the lock, and the lock stays.
      const fromDevice = await postLogin(url, {
        ...form,
        cookie: `${form.cookie}; ${device}`,
        secret: PASSWORD,
      });
      assert.equal(fromDevice.status, 303);
      assert.ok(setCookie(fromDevice, "openclaw_operator"));
      await fromDevice.body?.cancel();
      assert.ok(await lockout.lockedUntil(), "someone is guessing: the lock stays on");

      // Once the lock is over, a right password resets the count.
      time.t += 16 * 60_000;
      assert.ok(await signIn(url, PASSWORD));
      assert.equal((await kv.get(["oauth_owner_failures"])).value, null);
    });
  },
);

Deno.test(
  "operator login: the cookie is HttpOnly, SameSite=Strict, Path=/, Secure over https, 12 h",
  opts,
  async () => {
    const time = clock();
    await withServedApp({ env: ENV, now: time.now }, async ({ url }) => {
      const response = await postLogin(url, { ...await loginForm(url), secret: PASSWORD });
      const cookie = response.headers.getSetCookie().find((c) =>
        c.startsWith("openclaw_operator=")
      )!;
      await response.body?.cancel();
      assert.match(cookie, /; Max-Age=43200/);
      assert.match(cookie, /; Path=\//);
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Strict/);
      assert.doesNotMatch(cookie, /Secure/, "plain http on loopback");
      const value = cookie.split(";")[0];
      assert.equal((await ask(url, "/operator/snapshot", { cookie: value })).status, 200);
      time.t += SIGN_IN_TTL_MS;
      assert.equal(
        (await ask(url, "/operator/snapshot", { cookie: value })).status,
        401,
        "expired",
      );
    });
    await withServedApp(
      { env: { ...ENV, MCP_ISSUER_URL: "https://mcp.example.com" } },
      async ({ url }) => {
        const response = await postLogin(url, { ...await loginForm(url), secret: PASSWORD });
        await response.body?.cancel();
        for (const cookie of response.headers.getSetCookie()) assert.match(cookie, /; Secure/);
      },
    );
    await withServedApp(
      { env: { ...ENV, TRUST_PROXY: "1" } },
      async ({ url }) => {
        const form = await fetch(`${url}/operator/login`, {
          headers: { accept: "text/html", "x-forwarded-proto": "https" },
        });
        await form.body?.cancel();
        assert.match(form.headers.get("set-cookie") ?? "", /; Secure/, "https at the proxy");
      },
    );
  },
);

Deno.test(
  "operator login: signing out needs the page's CSRF token and ends the sign-in",
  opts,
  async () => {
    await withServedApp({ env: ENV }, async ({ url }) => {
      const cookie = (await signIn(url, PASSWORD))!;
      const page = await ask(url, "/", { cookie });
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
      assert.ok(csrf, "the page has a sign-out form");
      const post = (body: string) =>
        fetch(`${url}/operator/logout`, {
          method: "POST",
          redirect: "manual",
          headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
          body,
        });
      const forged = await post("csrf=forged");
      assert.equal(forged.status, 403);
      await forged.body?.cancel();
      assert.equal(
        (await ask(url, "/operator/snapshot", { cookie })).status,
        200,
        "still signed in",
      );
      const out = await post(`csrf=${csrf}`);
      assert.equal(out.status, 303);
      assert.equal(out.headers.get("location"), "/operator/login");
      assert.match(out.headers.get("set-cookie") ?? "", /openclaw_operator=; Max-Age=0/);
      await out.body?.cancel();
      assert.equal((await ask(url, "/operator/snapshot", { cookie })).status, 401);
    });
  },
);

Deno.test(
  "operator login: with static tokens only, a token signs in; OAuth on without a password or token, nothing does",
  opts,
  async () => {
    const TOKEN = "login-static-token-0123456789";
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), MCP_AUTH_TOKENS: TOKEN } },
      async ({ url }) => {
        const form = await ask(url, "/operator/login", { accept: "text/html" });
        assert.match(form.text, /Access token/);
        assert.equal(await signIn(url, "not-the-token"), null);
        const cookie = await signIn(url, TOKEN);
        assert.ok(cookie);
        assert.equal((await ask(url, "/", { cookie })).status, 200);
      },
    );
    await withServedApp(
      { env: { ...gatewayEnv("http://127.0.0.1:9"), AUTH_ENABLED: "true" } },
      async ({ url }) => {
        const login = await ask(url, "/operator/login", { accept: "text/html" });
        assert.equal(login.status, 403);
        assert.match(login.text, /No way to sign in is configured/);
        const post = await postLogin(url, { secret: "anything" });
        assert.equal(post.status, 403);
        await post.body?.cancel();
      },
    );
  },
);
