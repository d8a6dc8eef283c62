/**
 * The MCP Apps task view as clients see it, in both eras: the two task
 * tools point to `ui://openclaw/task-view`, `resources/list` lists it and
 * `resources/read` returns the self-contained HTML with the Apps mime type
 * and a CSP naming no outside origin. Legacy (2025-11-25): the SDK's v1
 * client over the in-memory transport. Modern (2026-07-28): the SDK's
 * `createMcpHandler`, fed enveloped requests in process. No process spawn.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";
import { RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from "@modelcontextprotocol/ext-apps/server";
import { createMcpHandler } from "@modelcontextprotocol/server";
import { TASK_VIEW_HTML } from "../../src/apps/task_view_html.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { silentLogger } from "../../src/log.ts";
import { createServer, type ServerDeps } from "../../src/server.ts";
import { TaskRunner } from "../../src/tasks/runner.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { modernRequest, readReply } from "../helpers/modern_rpc.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const URI = "ui://openclaw/task-view";
const VIEW_TOOLS = ["openclaw_chat_async", "openclaw_task_status"];

type Json = Record<string, unknown>;

/** The server's effects: a loopback gateway and, with `tasks`, a KV store and runner. */
async function fixture(tasks: boolean) {
  const gateway = await TestGateway.start();
  const gateways = new GatewayRegistry([gateway.instance({ token: "test-token" })]);
  const kv = tasks ? await Deno.openKv(":memory:") : undefined;
  const store = kv && new TaskStore(kv);
  const runner = store &&
    new TaskRunner({ store, gateways, log: silentLogger, watchMs: 20, idlePollMs: 20 });
  runner?.start();
  const deps: ServerDeps = {
    gateways,
    log: silentLogger,
    owner: "tester",
    ...(store && runner ? { tasks: { store, runner, ttlMs: 60_000 } } : {}),
  };
  return {
    deps,
    async close() {
      await runner?.stop();
      kv?.close();
      await gateway.close();
    },
  };
}

/** A 2025-11-25 client (SDK v1) connected in memory. */
async function legacy(tasks = true) {
  const f = await fixture(tasks);
  const server = createServer(f.deps);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "apps-test", version: "0" });
  await client.connect(clientSide);
  return {
    client,
    async close() {
      await client.close();
      await f.close();
    },
  };
}

/** 2026-07-28 requests through `createMcpHandler`, one server per request. */
async function modern(tasks = true) {
  const f = await fixture(tasks);
  const handler = createMcpHandler(() => createServer({ ...f.deps, era: "modern" }), {
    legacy: "reject",
  });
  return {
    /** One request; `Mcp-Name` mirrors `params.name` or `params.uri` as the 2026 binding wants. */
    async request(method: string, params: Json = {}): Promise<Json> {
      const request = modernRequest("http://localhost", method, params);
      return (await readReply(await handler.fetch(request))).response;
    },
    async close() {
      await handler.close();
      await f.close();
    },
  };
}

/** The tool definition entries that point to a UI resource, by name. */
function uiTools(tools: { name: string; _meta?: Json }[]): Record<string, string | undefined> {
  return Object.fromEntries(
    tools.filter((t) => t._meta !== undefined).map((t) => [t.name, getToolUiResourceUri(t)]),
  );
}

/** What every era must answer for `resources/read` of the view. */
function assertView(contents: Json[]): void {
  assert.equal(contents.length, 1);
  const [view] = contents;
  assert.equal(view.uri, URI);
  assert.equal(view.mimeType, RESOURCE_MIME_TYPE);
  assert.equal(view.mimeType, "text/html;profile=mcp-app");
  assert.ok(view.text === TASK_VIEW_HTML, "the generated document, unchanged");
  assert.deepEqual(view._meta, {
    ui: {
      csp: { connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] },
      prefersBorder: true,
    },
  });
}

Deno.test("apps: the view is one self-contained HTML document with the App SDK inlined", () => {
  const html = TASK_VIEW_HTML;
  assert.ok(html.startsWith("<!doctype html>"));
  // One inline module script; the markup and styles around it load nothing.
  const [before, inside, ...more] = html.split('<script type="module">');
  assert.equal(more.length, 0, "one script");
  const [script, after, ...rest] = inside.split("</script>");
  assert.equal(rest.length, 0, "the script holds no </script");
  const markup = before + after;
  for (const needle of ["<script", "<link", "src=", "href=", "@import", "url(", "//"]) {
    assert.ok(!markup.includes(needle), `the markup has no ${needle}`);
  }
  assert.ok(!markup.includes("<!-- script:"), "the template marker was replaced");
  for (const id of ["status", "reply", "cancel"]) assert.ok(markup.includes(`id="${id}"`), id);
  // The SDK's handshake and the calls the view makes, inlined.
  for (const text of ["ui/initialize", "openclaw_task_status", "openclaw_task_cancel"]) {
    assert.ok(script.includes(text), text);
  }
});

Deno.test(
  "apps (legacy): the two task tools point to the view; others carry no _meta",
  opts,
  async () => {
    const h = await legacy();
    try {
      const { tools } = await h.client.listTools();
      assert.deepEqual(uiTools(tools), { openclaw_chat_async: URI, openclaw_task_status: URI });
      for (const name of VIEW_TOOLS) {
        const tool = tools.find((t) => t.name === name)!;
        // registerAppTool's shape: the current key and the deprecated flat one for older hosts.
        assert.deepEqual(tool._meta, { ui: { resourceUri: URI }, [RESOURCE_URI_META_KEY]: URI });
        assert.deepEqual(Object.keys(tool).sort(), [
          "_meta",
          "annotations",
          "description",
          "inputSchema",
          "name",
          "outputSchema",
          "title",
        ]);
      }
      assert.deepEqual(h.client.getServerCapabilities()?.resources, { listChanged: false });
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "apps (legacy): resources/list lists the view; resources/read returns it",
  opts,
  async () => {
    const h = await legacy();
    try {
      const { resources } = await h.client.listResources();
      assert.deepEqual(resources.map((r) => [r.uri, r.mimeType]), [[URI, RESOURCE_MIME_TYPE]]);
      assert.equal(resources[0].name, "openclaw-task-view");
      assert.deepEqual((resources[0]._meta as Json).ui, {
        csp: { connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] },
        prefersBorder: true,
      });
      const { contents } = await h.client.readResource({ uri: URI });
      assertView(contents as Json[]);
      const { resourceTemplates } = await h.client.listResourceTemplates();
      assert.deepEqual(resourceTemplates, []);

      const missing = await h.client.readResource({ uri: "ui://openclaw/nope" }).then(
        () => assert.fail("an unknown resource was read"),
        (error: unknown) => error,
      );
      assert.ok(missing instanceof McpError);
      assert.equal(missing.code, -32602);
      assert.deepEqual(missing.data, { uri: "ui://openclaw/nope" });
    } finally {
      await h.close();
    }
  },
);

Deno.test(
  "apps (legacy): a client without Apps support gets the same text and structured content",
  opts,
  async () => {
    const h = await legacy();
    try {
      const queued = await h.client.callTool({
        name: "openclaw_chat_async",
        arguments: { message: "no view here" },
      });
      const structured = queued.structuredContent as Json;
      assert.deepEqual(Object.keys(structured).sort(), [
        "instance",
        "position",
        "status",
        "task_id",
      ]);
      assert.deepEqual(queued.content, [{ type: "text", text: JSON.stringify(structured) }]);
      assert.equal(queued._meta, undefined, "the result itself names no view");
      const status = await h.client.callTool({
        name: "openclaw_task_status",
        arguments: { task_id: structured.task_id },
      });
      assert.equal((status.structuredContent as Json).task_id, structured.task_id);
      assert.deepEqual(status.content, [{
        type: "text",
        text: JSON.stringify(status.structuredContent),
      }]);
    } finally {
      await h.close();
    }
  },
);

Deno.test("apps (legacy): without the task store, no view, no resources", opts, async () => {
  const h = await legacy(false);
  try {
    const { tools } = await h.client.listTools();
    assert.deepEqual(uiTools(tools), {});
    assert.equal(h.client.getServerCapabilities()?.resources, undefined);
    const refused = await h.client.listResources().then(
      () => assert.fail("resources/list answered"),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof McpError);
    assert.equal(refused.code, -32601, "method not found");
  } finally {
    await h.close();
  }
});

Deno.test(
  "apps (modern): the same tool pointers, resources and HTML; all cacheable",
  opts,
  async () => {
    const m = await modern();
    try {
      const discover = (await m.request("server/discover")).result as Json;
      assert.deepEqual((discover.capabilities as Json).resources, { listChanged: false });

      const list = (await m.request("tools/list")).result as { tools: { name: string }[] };
      assert.deepEqual(uiTools(list.tools), {
        openclaw_chat_async: URI,
        openclaw_task_status: URI,
      });

      const resources = (await m.request("resources/list")).result as Json;
      assert.deepEqual(
        (resources.resources as Json[]).map((r) => [r.uri, r.mimeType]),
        [[URI, RESOURCE_MIME_TYPE]],
      );
      assert.equal(resources.ttlMs, 3_600_000);
      assert.equal(resources.cacheScope, "public");

      const read = (await m.request("resources/read", { uri: URI })).result as Json;
      assertView(read.contents as Json[]);
      assert.equal(read.ttlMs, 3_600_000);
      assert.equal(read.cacheScope, "public");

      const missing = await m.request("resources/read", { uri: "ui://openclaw/nope" });
      assert.equal((missing.error as Json).code, -32602);
      assert.deepEqual((missing.error as Json).data, { uri: "ui://openclaw/nope" });
    } finally {
      await m.close();
    }
  },
);

Deno.test("apps (modern): without the task store, no view and no resources", opts, async () => {
  const m = await modern(false);
  try {
    const discover = (await m.request("server/discover")).result as Json;
    assert.equal((discover.capabilities as Json).resources, undefined);
    const list = (await m.request("tools/list")).result as { tools: { name: string }[] };
    assert.deepEqual(uiTools(list.tools), {});
  } finally {
    await m.close();
  }
});
