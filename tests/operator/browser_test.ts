/**
 * The operator page in a real browser (Debian's Chromium, driven headless by
 * playwright-core) against the spawned server: sign-in (a wrong secret
 * refused first), both instances (one up with its latency, one down), and
 * async tasks submitted by an MCP client going queued -> running (the reply
 * so far growing on the page) -> completed, live over the feed. No secret
 * appears in the page or the feed. A task waiting on an approval shows so,
 * the approval appears with its buttons, and "Allow once" answers it: it
 * leaves the page and the task completes. Skipped, with the reason
 * printed, where Chromium is not installed.
 *
 * With `UPDATE_SCREENSHOTS=1` the desktop and phone screenshots are written
 * to docs/images/ (otherwise to a temporary folder).
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser, Page } from "playwright-core";
import { chromiumAvailable, launchChromium } from "../../testing/chromium.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { type HttpServerProcess, startHttp } from "../../testing/spawn.ts";
import { staticClientToken } from "../helpers/oauth.ts";

const available = await chromiumAvailable("browser test");
const SHOTS = Deno.env.get("UPDATE_SCREENSHOTS") === "1"
  ? new URL("../../docs/images/", import.meta.url).pathname
  : undefined;

const opts = { ignore: !available, sanitizeResources: false, sanitizeOps: false };

/** A message of `n` words, so the test gateway streams its echo slowly. */
function words(word: string, n: number): string {
  return Array.from({ length: n }, (_, i) => `${word}${i}`).join(" ");
}

/** The v1 SDK client on `/mcp` with a bearer token. */
async function mcpClient(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "operator-browser-test", version: "0" });
  await client.connect(transport);
  return client;
}

/** Queues a chat through `openclaw_chat_async`; returns the task id. */
async function submit(client: Client, message: string): Promise<string> {
  const result = await client.callTool({ name: "openclaw_chat_async", arguments: { message } });
  const id = (result.structuredContent as { task_id?: string } | undefined)?.task_id;
  assert.ok(id, JSON.stringify(result));
  return id;
}

/** Records CSP violations and script errors of a page. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    // The refused sign-in answers 401 on purpose: the browser reports it as a failed load.
    if (/Failed to load resource/.test(m.text())) return;
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  return problems;
}

/** Reads the feed for `ms` with the browser's cookies; returns what came. */
async function readFeed(url: string, cookie: string, ms: number): Promise<string> {
  const response = await fetch(`${url}/operator/events`, { headers: { cookie } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => reader.cancel(), ms);
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) break;
    text += value;
  }
  clearTimeout(deadline);
  return text;
}

function assertNoSecret(where: string, text: string, secrets: string[]): void {
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `${where} shows a secret (${secret.slice(0, 4)}...)`);
  }
}

/** Signs in at the login page: a wrong secret first (refused), then the right one. */
async function signIn(page: Page, url: string, secret: string, label: RegExp): Promise<void> {
  await page.goto(`${url}/`);
  assert.match(page.url(), /\/operator\/login$/, "sent to the sign-in page");
  assert.match(await page.textContent("label[for=secret]") ?? "", label);
  await page.fill("#secret", "not the secret");
  await page.click("button[type=submit]");
  await page.waitForSelector(".err");
  assert.match(await page.textContent(".err") ?? "", /^Wrong (password|token)\.$/);
  await page.fill("#secret", secret);
  await Promise.all([page.waitForURL(`${url}/`), page.click("button[type=submit]")]);
  await page.waitForSelector("#live.on");
}

/** Waits until the task's reply on the page is longer than `than` characters while it runs. */
async function replyGrows(page: Page, id: string, than: number): Promise<number> {
  const card = `[data-task="${id}"]`;
  const deadline = performance.now() + 20_000;
  while (performance.now() < deadline) {
    const status = await page.getAttribute(card, "data-status");
    const reply = await page.textContent(`${card} pre.reply`, { timeout: 50 }).catch(() => null);
    if (status === "running" && reply && reply.length > than) return reply.length;
    if (status !== "running" && status !== "pending") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the reply of ${id} did not grow past ${than} characters while it ran`);
}

async function screenshots(page: Page, browser: Browser, cookies: string): Promise<void> {
  const dir = SHOTS ?? await Deno.makeTempDir();
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.screenshot({ path: `${dir}/operator.png` });
  const phone = await browser.newPage({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    extraHTTPHeaders: { cookie: cookies },
  });
  await phone.goto(page.url());
  await phone.waitForSelector("#live.on");
  await phone.screenshot({ path: `${dir}/operator-phone.png` });
  await phone.close();
}

Deno.test(
  "operator: the owner signs in with the password and watches tasks live",
  opts,
  async () => {
    const PASSWORD = "operator-owner-password";
    const CLIENT_SECRET = "c".repeat(40);
    const gateway = await TestGateway.start({ chunkDelayMs: 120 });
    const server: HttpServerProcess = await startHttp({
      env: {
        OPENCLAW_INSTANCES: JSON.stringify([
          { name: "local", url: gateway.url, token: "test-token", default: true },
          { name: "down", url: "http://127.0.0.1:9", token: "down-gateway-token" },
        ]),
        AUTH_ENABLED: "true",
        MCP_OWNER_PASSWORD: PASSWORD,
        MCP_CLIENT_ID: "operator-test",
        MCP_CLIENT_SECRET: CLIENT_SECRET,
        MCP_REDIRECT_URIS: "http://127.0.0.1:9/callback",
        OPENCLAW_TASK_CONCURRENCY: "1",
      },
    });
    const browser = await launchChromium();
    let client: Client | undefined;
    try {
      const token = await staticClientToken(server.url, {
        id: "operator-test",
        secret: CLIENT_SECRET,
        redirectUri: "http://127.0.0.1:9/callback",
      });
      const secrets = [PASSWORD, CLIENT_SECRET, token, "test-token", "down-gateway-token"];
      // A client's OAuth access token is an MCP principal, not the owner.
      const refused = await fetch(`${server.url}/operator/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(refused.status, 401);
      assert.equal((await refused.json()).error, "unauthorized");

      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const page = await context.newPage();
      const problems = watch(page);
      await signIn(page, server.url, PASSWORD, /Owner password/);

      // Both instances: one up with its latency and agents, one down.
      await page.waitForSelector('[data-instance="local"][data-status="ok"] .latency');
      assert.match(await page.textContent('[data-instance="local"] .latency') ?? "", /^\d+ ms$/);
      assert.match(await page.textContent('[data-instance="local"] .agents') ?? "", /main/);
      await page.waitForSelector('[data-instance="down"][data-status="unreachable"]');
      assert.match(await page.textContent('[data-instance="down"] .state') ?? "", /down/);

      // Three tasks, one runner slot: the first runs while the others wait.
      client = await mcpClient(server.url, token);
      const first = await submit(client, words("alpha", 30));
      const second = await submit(client, words("bravo", 30));
      const third = await submit(client, words("charlie", 12));
      await page.waitForSelector(`[data-task="${second}"][data-status="pending"]`);
      assert.match(await page.textContent(`[data-task="${second}"] .badge`) ?? "", /queued/);
      assert.match(await page.textContent(`[data-task="${second}"] .msg`) ?? "", /^bravo0 bravo1/);
      await page.waitForSelector(`[data-task="${second}"][data-status="running"]`);
      // Its reply so far appears and grows while it runs.
      const early = await replyGrows(page, second, 0);
      const later = await replyGrows(page, second, early);
      assert.ok(later > early);
      assert.match(
        await page.textContent(`[data-task="${second}"] pre.reply`) ?? "",
        /^(\u2026)?echo: bravo0/,
      );
      assert.ok(await page.$(`[data-task="${first}"][data-status="completed"]`), "first done");
      assert.ok(await page.$(`[data-task="${third}"][data-status="pending"]`), "third queued");
      const cookies = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
      await screenshots(page, browser, cookies);
      assertNoSecret("the page", await page.content(), secrets);

      await page.waitForSelector(`[data-task="${second}"][data-status="completed"]`, {
        timeout: 20_000,
      });
      const done = await page.textContent(`[data-task="${second}"]`) ?? "";
      assert.match(done, /completed/);
      assert.match(done, /took \d/);
      assert.match(done, /echo: bravo0/);
      assertNoSecret("the page", await page.content(), secrets);

      const feed = await readFeed(server.url, cookies, 2_500);
      assert.match(feed, /event: snapshot/);
      assert.ok(feed.includes(second), "the feed lists the task");
      assertNoSecret("the feed", feed, secrets);
      assert.deepEqual(problems, [], "no CSP violations or script errors");

      // Signing out ends the sign-in: the page sends the browser back to sign in.
      await Promise.all([page.waitForURL(/\/operator\/login$/), page.click("text=Sign out")]);
      const after = await fetch(`${server.url}/operator/snapshot`, {
        headers: { cookie: cookies },
      });
      assert.equal(after.status, 401);
      await after.body?.cancel();
    } finally {
      await client?.close();
      await browser.close();
      await server.stop();
      await gateway.close();
    }
  },
);

Deno.test(
  "operator: with static tokens, the owner signs in with a token; scripts send it",
  opts,
  async () => {
    const TOKEN = "operator-static-token-0123456789";
    const gateway = await TestGateway.start({ chunkDelayMs: 60 });
    const server = await startHttp({
      env: {
        OPENCLAW_URL: gateway.url,
        OPENCLAW_GATEWAY_TOKEN: "test-token",
        MCP_AUTH_TOKENS: TOKEN,
      },
    });
    const browser = await launchChromium();
    let client: Client | undefined;
    try {
      const page = await browser.newPage();
      const problems = watch(page);
      await signIn(page, server.url, TOKEN, /Access token/);
      await page.waitForSelector('[data-instance="default"][data-status="ok"]');

      client = await mcpClient(server.url, TOKEN);
      const id = await submit(client, words("delta", 10));
      await page.waitForSelector(`[data-task="${id}"][data-status="completed"]`);
      assert.match(await page.textContent(`[data-task="${id}"] pre.reply`) ?? "", /echo: delta0/);
      assertNoSecret("the page", await page.content(), [TOKEN, "test-token"]);
      assert.deepEqual(problems, []);

      // A script sends the token itself: the page and the feed, no sign-in.
      const headers = { authorization: `Bearer ${TOKEN}` };
      const html = await fetch(`${server.url}/`, { headers });
      assert.equal(html.status, 200);
      assertNoSecret("the page", await html.text(), [TOKEN, "test-token"]);
      const snapshot = await fetch(`${server.url}/operator/snapshot`, { headers });
      assert.equal(snapshot.status, 200);
      const body = await snapshot.json();
      assert.ok(body.tasks.finished.some((t: { id: string }) => t.id === id));
    } finally {
      await client?.close();
      await browser.close();
      await server.stop();
      await gateway.close();
    }
  },
);

Deno.test(
  "operator: a task waits for an approval; the owner allows it once on the page",
  opts,
  async () => {
    const TOKEN = "operator-approvals-token-0123456789";
    const gateway = await TestGateway.start();
    const server = await startHttp({
      env: {
        OPENCLAW_URL: gateway.url,
        OPENCLAW_GATEWAY_TOKEN: "test-token",
        MCP_OWNER_TOKENS: TOKEN,
      },
    });
    const browser = await launchChromium();
    let client: Client | undefined;
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      const problems = watch(page);
      await signIn(page, server.url, TOKEN, /Access token/);
      await page.waitForSelector('[data-instance="default"][data-status="ok"]');
      assert.match(await page.textContent("#h-approvals + *") ?? "", /Nothing waiting/);

      client = await mcpClient(server.url, TOKEN);
      // In a conversation (session_id): the runner watches its approvals.
      const queued = await client.callTool({
        name: "openclaw_chat_async",
        arguments: { message: "tidy up [approval:echo hi]", session_id: "chores" },
      });
      const id = (queued.structuredContent as { task_id: string }).task_id;
      // The task shows it waits, and the approval appears with the buttons offered.
      await page.waitForSelector(`[data-task="${id}"][data-status="running"] .waiting`);
      assert.match(
        await page.textContent(`[data-task="${id}"] .waiting`) ?? "",
        /waiting for approval: echo hi/,
      );
      const card = "article[data-approval]";
      await page.waitForSelector(card);
      assert.equal(await page.textContent(`${card} pre.command`), "echo hi");
      assert.deepEqual(
        await page.$$eval(`${card} button[data-decision]`, (b) => b.map((e) => e.textContent)),
        ["Allow once", "Allow always", "Deny"],
      );
      assert.match(await page.textContent(".approvals-waiting") ?? "", /^1$/);
      if (SHOTS) await page.screenshot({ path: `${SHOTS}/operator-approval.png` });

      await page.click(`${card} button[data-decision="allow-once"]`);
      await page.waitForSelector("#notice .ok");
      assert.equal(await page.textContent("#notice .ok"), "allowed once: echo hi");
      await page.waitForSelector(card, { state: "detached" });
      await page.waitForSelector(`[data-task="${id}"][data-status="completed"]`);
      assert.match(
        await page.textContent(`[data-task="${id}"] pre.reply`) ?? "",
        /\[approved allow-once: ran echo hi\]/,
      );
      assert.equal(await page.$(card), null, "the answered approval stays gone");
      assert.deepEqual(gateway.approvals.resolutions.map((r) => r.decision), ["allow-once"]);
      assertNoSecret("the page", await page.content(), [TOKEN, "test-token"]);
      assert.deepEqual(problems, [], "no CSP violations or script errors");
    } finally {
      await client?.close();
      await browser.close();
      await server.stop();
      await gateway.close();
    }
  },
);
