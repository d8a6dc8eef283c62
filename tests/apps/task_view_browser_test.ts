/**
 * The task view in a real browser (Debian's Chromium, headless, driven by
 * playwright-core) inside a host double built on ext-apps' `AppBridge`
 * (testing/app_host/task_view_host.ts), connected over Streamable HTTP to our
 * real server in process, whose gateway streams slowly: the view shows the
 * task running and its reply growing, and its Cancel button cancels the
 * task in the store (and aborts the gateway request). The view runs under
 * the CSP the Apps spec builds from its `_meta.ui.csp` (no `unsafe-eval`, no
 * outside origin): the page must log no error and no violation, and a
 * deliberate outside image shows the policy is in force. Skipped, with the
 * reason printed, where Chromium is not installed.
 *
 * `UPDATE_SCREENSHOTS=1` writes the view's screenshot to
 * docs/images/task-view.png (otherwise to a temporary directory).
 */
import assert from "node:assert/strict";
import type { Frame } from "playwright-core";
import { chromiumAvailable, launchChromium } from "../../testing/chromium.ts";
import { startBridge } from "../../src/bridge.ts";
import { loadConfig } from "../../src/config.ts";
import { ANONYMOUS, createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { gatewayEnv } from "../../testing/spawn.ts";
import { TestGateway } from "../../testing/test_gateway.ts";

const available = await chromiumAvailable("task view browser test");

const SCREENSHOT = new URL("../../docs/images/task-view.png", import.meta.url);
/**
 * The gateway echoes it a word per {@linkcode CHUNK_MS}: about 25 s in all, far longer than the
 * test watches (it cancels after a few polls), even on a loaded machine.
 */
const MESSAGE = [
  "Summarise the release notes for the team, one short paragraph per area:",
  "the gateway client, the task runner and its leases, OAuth and the consent page,",
  "and the new live task view that shows a background task's reply while the claw writes it.",
  "Keep it friendly and concise, mention anything that changes how people deploy the bridge,",
  "and end with a one-line thank-you to everyone who reported bugs, reviewed changes or",
  "tried the release candidates on their own gateways before the release went out.",
].join(" ");
const CHUNK_MS = 250;

/** What the host double's script puts on the page's `window`. */
interface Host {
  showToolCall(tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** The host page: one chat turn for the view's iframe, and the host double's script. */
const HOST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Task view host</title><link rel="icon" href="data:,">
<style>
  body { margin: 0; padding: 8px; background: #faf9f5; font: 14px system-ui, sans-serif; }
  #turn { width: 560px; display: grid; gap: 8px; padding: 12px; background: #faf9f5; }
  .call { margin: 0; color: #6b6b6b; font-size: 12px; }
  iframe { display: block; width: 100%; height: 120px; border: 1px solid #e2e0d8;
           border-radius: 12px; background: #fff; }
</style></head>
<body><div id="turn"><p class="call">OpenClaw · openclaw_chat_async</p></div>
<script type="module" src="/host.js"></script></body></html>`;

/** The host double bundled for the browser (AppBridge, the MCP client and their deps). */
async function hostScript(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "openclaw-host-" });
  try {
    const out = `${dir}/host.js`;
    const built = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--output",
        out,
        new URL("../../testing/app_host/task_view_host.ts", import.meta.url).pathname,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The status and reply text the view shows now (one round trip into its frame). */
function shown(frame: Frame): Promise<{ status: string; reply: string }> {
  return frame.evaluate(() => {
    const byId = (id: string) =>
      (globalThis as unknown as {
        document: {
          getElementById(id: string): { dataset: Record<string, string>; textContent: string };
        };
      }).document.getElementById(id);
    return { status: byId("view").dataset.status, reply: byId("reply").textContent };
  });
}

Deno.test({
  name: "apps: the task view in headless Chromium shows the reply growing; Cancel cancels the task",
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const gateway = await TestGateway.start({ chunkDelayMs: CHUNK_MS });
    const command = loadConfig({
      args: ["--transport", "http"],
      env: { ...gatewayEnv(gateway.url), MCP_RATE_LIMIT: "0" },
    });
    if (command.kind !== "run") throw new Error("expected a run command");
    const kv = await Deno.openKv(":memory:");
    const bridge = startBridge(command.config, { kv, log: silentLogger });
    let url = "";
    const http = await createApp({
      config: command.config,
      createServer: bridge.serverFor,
      gateways: bridge.gateways,
      kv,
      log: silentLogger,
      issuer: () => url,
    });
    const script = await hostScript();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => {
        const { pathname } = new URL(req.url);
        if (pathname === "/") {
          return new Response(HOST_PAGE, { headers: { "content-type": "text/html" } });
        }
        if (pathname === "/host.js") {
          return new Response(script, { headers: { "content-type": "text/javascript" } });
        }
        return http.app.fetch(req, info);
      },
    );
    url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 600, height: 520 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || /Content Security Policy/i.test(m.text())) {
          problems.push(m.text());
        }
      });
      page.on("pageerror", (e) => problems.push(String(e)));
      await page.goto(url);

      const result = await page.evaluate(
        (message) =>
          (globalThis as unknown as Host).showToolCall("openclaw_chat_async", { message }),
        MESSAGE,
      );
      const taskId = (result.structuredContent as { task_id: string }).task_id;
      assert.match(taskId, /^[\w-]+$/);

      const view = page.frameLocator("iframe");
      const frame = await (await page.locator("iframe").elementHandle())!.contentFrame();
      assert.ok(frame, "the view's frame");
      await view.locator("#view[data-status=running]").waitFor({ timeout: 10_000 });
      assert.equal(await view.locator("#status").textContent(), "running");
      assert.ok(await view.locator("#cancel").isVisible(), "Cancel is offered while running");

      // The reply grows in place, poll by poll, while the gateway still writes.
      const seen: string[] = [];
      const deadline = Date.now() + 20_000;
      while (seen.length < 4 && Date.now() < deadline) {
        const now = await shown(frame);
        assert.equal(now.status, "running", "still running while we watch");
        if (now.reply && now.reply !== seen.at(-1)) {
          if (seen.length) assert.ok(now.reply.startsWith(seen.at(-1)!), "the reply only grows");
          seen.push(now.reply);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(seen.length >= 4, `the reply grew at least 3 times: ${JSON.stringify(seen)}`);
      assert.ok(seen[0].startsWith("echo: Summarise"), seen[0]);
      assert.ok(seen.at(-1)!.length < `echo: ${MESSAGE}`.length, "not finished yet");

      const image = await page.locator("#turn").screenshot({
        path: Deno.env.get("UPDATE_SCREENSHOTS")
          ? SCREENSHOT.pathname
          : `${await Deno.makeTempDir()}/task-view.png`,
      });
      assert.ok(image.byteLength > 1_000, "a screenshot was taken");

      const store = new TaskStore(kv);
      assert.equal((await store.get(ANONYMOUS, taskId)).status, "running");
      await view.locator("#cancel").click();
      await view.locator("#view[data-status=cancelled]").waitFor({ timeout: 5_000 });
      assert.equal(await view.locator("#status").textContent(), "cancelled");
      assert.equal((await store.get(ANONYMOUS, taskId)).status, "cancelled");
      assert.ok(!(await view.locator("#cancel").isVisible()), "no Cancel once it ended");
      const after = await shown(frame);
      assert.ok(after.reply.startsWith(seen.at(-1)!), "the text written so far stays");
      const deadlineAbort = Date.now() + 5_000;
      while (!gateway.requests.at(-1)?.aborted && Date.now() < deadlineAbort) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(gateway.requests.at(-1)?.aborted, "the gateway request was aborted");
      assert.deepEqual(problems, [], "no errors and no CSP violations in the page or the view");

      // The check above means something: the view's CSP is in force and reports violations.
      const blocked = await frame.evaluate(() =>
        new Promise<string>((resolve) => {
          const doc = (globalThis as unknown as {
            document: {
              addEventListener(type: string, f: (e: { violatedDirective: string }) => void): void;
              createElement(tag: string): { src: string };
            };
          }).document;
          doc.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective));
          doc.createElement("img").src = "http://127.0.0.1:9/outside.png";
        })
      );
      assert.equal(blocked, "img-src");
    } finally {
      await browser.close();
      await http.sessions?.close();
      bridge.shutdown.abort();
      await server.shutdown();
      await bridge.stop();
      kv.close();
      await gateway.close();
    }
  },
});
