/** How users get the bridge: as a library, from a URL (as `jsr:` runs it), on Deno Deploy. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { createServer, GatewayRegistry, silentLogger } from "../src/mod.ts";
import { deployHandler } from "../deploy.ts";
import { ConfigError } from "../src/config.ts";
import { CONFIG_EXIT_CODE, runEntry } from "../src/entry.ts";
import { TestGateway } from "../testing/test_gateway.ts";
import { readReply } from "./helpers/modern_rpc.ts";
import { baseEnv, INITIALIZE } from "../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const root = new URL("../", import.meta.url);

Deno.test("library: createServer serves an in-memory transport", opts, async () => {
  const gateway = await TestGateway.start();
  try {
    const gateways = new GatewayRegistry([gateway.instance({ timeoutMs: 5_000 })]);
    const server = createServer({ gateways, log: silentLogger });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "embedded", version: "0" });
    await client.connect(clientSide);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "openclaw_chat"));
    assert.ok(
      !tools.some((t) => t.name === "openclaw_chat_async"),
      "no task tools without a store",
    );
    const result = await client.callTool({
      name: "openclaw_chat",
      arguments: { message: "embedded" },
    });
    assert.equal((result.structuredContent as { reply: string }).reply, "echo: embedded");
    await client.close();
  } finally {
    await gateway.close();
  }
});

function withoutKvPath(env: Record<string, string>): Record<string, string> {
  const { OPENCLAW_KV_PATH: _, ...rest } = env;
  return rest;
}

/** Copies main.ts and src/ outside the repo, with the package's import map but no deno.json. */
async function packageCopy(): Promise<{ dir: string; importMap: string }> {
  const dir = await Deno.makeTempDir({ prefix: "openclaw-jsr-like-" });
  await Deno.copyFile(new URL("main.ts", root), `${dir}/main.ts`);
  const copy = async (from: URL, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (entry.isDirectory) await copy(new URL(`${entry.name}/`, from), `${to}/${entry.name}`);
      else await Deno.copyFile(new URL(entry.name, from), `${to}/${entry.name}`);
    }
  };
  await copy(new URL("src/", root), `${dir}/src`);
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const importMap = `${await Deno.makeTempDir()}/import_map.json`;
  await Deno.writeTextFile(importMap, JSON.stringify({ imports: config.imports }));
  return { dir, importMap };
}

Deno.test(
  "url: main.ts from a file:// URL with no deno.json in reach: --help, and the KV flag message",
  opts,
  async () => {
    const { dir, importMap } = await packageCopy();
    try {
      const run = async (extra: string[], args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--quiet",
            "--no-config",
            // The package's lockfile pins every package, so nothing is fetched.
            "--lock",
            new URL("deno.lock", root).pathname,
            "--frozen",
            "--import-map",
            importMap,
            ...extra,
            `file://${dir}/main.ts`,
            ...args,
          ],
          cwd: await Deno.makeTempDir(),
          // No OPENCLAW_KV_PATH: the default (per-user data dir) is what is tested.
          env: { ...withoutKvPath(baseEnv()), XDG_DATA_HOME: `${dir}/data` },
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decode = (b: Uint8Array) => new TextDecoder().decode(b);
        return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
      };
      const help = await run([], ["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /OPENCLAW_GATEWAY_TOKEN/);
      const noKv = await run([], []);
      assert.equal(noKv.code, 2, noKv.stderr);
      assert.match(noKv.stderr, /deno run -A --unstable-kv jsr:@openclaw\/mcp/);
      const withKv = await run(["--unstable-kv"], []);
      assert.equal(withKv.code, 0, withKv.stderr);
      const stat = await Deno.stat(`${dir}/data/openclaw-mcp/tasks.kv`);
      assert.ok(stat.isFile, "the KV lives in the user's data dir, not beside the module");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "deploy: the Deploy entry serves stateless MCP, requires authentication",
  opts,
  async () => {
    const kv = await Deno.openKv(":memory:");
    const gateway = await TestGateway.start();
    const info = {
      remoteAddr: { transport: "tcp", hostname: "203.0.113.9", port: 1 },
      completed: Promise.resolve(),
    } as unknown as Deno.ServeHandlerInfo;
    try {
      await assert.rejects(
        deployHandler({ OPENCLAW_URL: gateway.url }, kv),
        /no authentication is configured/,
      );
      const app = await deployHandler(
        {
          OPENCLAW_URL: gateway.url,
          OPENCLAW_GATEWAY_TOKEN: "test-token",
          MCP_AUTH_TOKENS: "deploy-token-0123456789",
          MCP_ALLOWED_HOSTS: "bridge.example.deno.net",
        },
        kv,
        { log: silentLogger },
      );
      try {
        const post = (body: unknown, token?: string, headers: Record<string, string> = {}) =>
          app.handler(
            new Request("https://bridge.example.deno.net/mcp", {
              method: "POST",
              headers: {
                // Deno.serve sets Host from the request; a hand-made Request has none.
                host: "bridge.example.deno.net",
                "content-type": "application/json",
                accept: "application/json, text/event-stream",
                ...(token ? { authorization: `Bearer ${token}` } : {}),
                ...headers,
              },
              body: JSON.stringify(body),
            }),
            info,
          );
        assert.equal((await post(INITIALIZE)).status, 401);
        const init = await post(INITIALIZE, "deploy-token-0123456789");
        assert.equal(init.status, 200);
        assert.equal(init.headers.get("mcp-session-id"), null, "stateless: no session");
        const chat = await post({
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "openclaw_chat", arguments: { message: "from deploy" } },
        }, "deploy-token-0123456789");
        assert.equal((await chat.json()).result.structuredContent.reply, "echo: from deploy");
        // A 2026-07-28 request stands alone: no handshake, any isolate answers it.
        const modern = await post(
          {
            jsonrpc: "2.0",
            id: "m-1",
            method: "tools/call",
            params: {
              name: "openclaw_chat",
              arguments: { message: "modern deploy" },
              _meta: {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": { name: "deploy-test", version: "0" },
                "io.modelcontextprotocol/clientCapabilities": {},
              },
            },
          },
          "deploy-token-0123456789",
          {
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call",
            "mcp-name": "openclaw_chat",
          },
        );
        assert.equal(modern.status, 200);
        // A call answers as a stream (closing it cancels the call): one message, the result.
        const answer = (await readReply(modern)).response as {
          id: string;
          result: { resultType: string; structuredContent: { reply: string } };
        };
        assert.equal(answer.id, "m-1");
        assert.equal(answer.result.resultType, "complete");
        assert.equal(answer.result.structuredContent.reply, "echo: modern deploy");
        const health = await (await app.handler(
          new Request("https://bridge.example.deno.net/health", {
            headers: { host: "bridge.example.deno.net" },
          }),
          info,
        ))
          .json();
        assert.equal(health.mode, "stateless");
      } finally {
        await app.stop();
      }
    } finally {
      await gateway.close();
      kv.close();
    }
  },
);

Deno.test(
  "deploy: OAuth needs MCP_ISSUER_URL; the issuer never comes from a request's Host",
  opts,
  async () => {
    const kv = await Deno.openKv(":memory:");
    const info = {
      remoteAddr: { transport: "tcp", hostname: "203.0.113.9", port: 1 },
      completed: Promise.resolve(),
    } as unknown as Deno.ServeHandlerInfo;
    const env = {
      OPENCLAW_URL: "http://127.0.0.1:9",
      OPENCLAW_GATEWAY_TOKEN: "test-token",
      AUTH_ENABLED: "true",
      MCP_OWNER_PASSWORD: "a-long-enough-owner-password",
    };
    try {
      const refused = await deployHandler(env, kv, { log: silentLogger }).then(
        () => assert.fail("started without MCP_ISSUER_URL"),
        (error: Error) => error,
      );
      assert.ok(refused instanceof ConfigError, String(refused));
      assert.doesNotMatch(refused.message, /\n/, "one line");
      assert.match(refused.message, /MCP_ISSUER_URL/);
      assert.match(refused.message, /set MCP_ISSUER_URL to https:\/\/<project>\.deno\.dev/);
      // What the entry prints: one line on stderr, exit code 2.
      const printed: string[] = [];
      const consoleError = console.error;
      console.error = (...parts: unknown[]) => printed.push(parts.join(" "));
      let code: number;
      try {
        code = await runEntry(async () => {
          await deployHandler(env, kv, { log: silentLogger });
        });
      } finally {
        console.error = consoleError;
      }
      assert.equal(code, CONFIG_EXIT_CODE);
      assert.deepEqual(printed, [`openclaw-mcp: ${refused.message}`]);

      const issuer = "https://bridge.example.deno.net";
      const app = await deployHandler(
        { ...env, MCP_ISSUER_URL: issuer, MCP_ALLOWED_HOSTS: "attacker.example" },
        kv,
        { log: silentLogger },
      );
      try {
        // The first request names another host (allowed through, so the
        // Host guard is not what keeps it out of the metadata).
        const metadata = async (host: string) => {
          const response = await app.handler(
            new Request(`https://${host}/.well-known/oauth-authorization-server`, {
              headers: { host },
            }),
            info,
          );
          assert.equal(response.status, 200, host);
          return await response.json();
        };
        const first = await metadata("attacker.example");
        assert.equal(first.issuer, issuer);
        assert.equal(first.token_endpoint, `${issuer}/token`);
        assert.equal((await metadata("bridge.example.deno.net")).issuer, issuer);
      } finally {
        await app.stop();
      }

      // Static tokens without OAuth need no issuer.
      const bearer = await deployHandler(
        {
          OPENCLAW_URL: "http://127.0.0.1:9",
          OPENCLAW_GATEWAY_TOKEN: "test-token",
          MCP_AUTH_TOKENS: "deploy-token-0123456789",
        },
        kv,
        { log: silentLogger },
      );
      await bearer.stop();
    } finally {
      kv.close();
    }
  },
);
