/**
 * The MCP TypeScript SDK v2 client (`@modelcontextprotocol/client`, a real
 * third-party client) against the real server, pinned to each protocol era
 * (2026-07-28 "modern", 2025-11-25 "legacy") over each transport (stdio,
 * stateful HTTP, stateless HTTP): tools, streamed chat, async task tools,
 * the era's native task path, coded errors; then, over HTTP, task isolation
 * between two bearer-token principals across both eras.
 *
 * One server process per transport (stdio: one per era, since the era is
 * fixed per connection) and one gateway double per transport.
 */
import assert from "node:assert/strict";
import { ProtocolError } from "@modelcontextprotocol/client";
import { type RecordedRequest, TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, startHttp } from "../../testing/spawn.ts";
import {
  callToolAsTask,
  callWithProgress,
  connectV2Http,
  connectV2Stdio,
  type Era,
  MODERN_VERSION,
  type RawResponse,
  startToolTask,
  tasksCancel,
  tasksGet,
  tasksList,
  tasksResult,
  type V2Session,
} from "../../testing/v2_client.ts";
import { TOOL_NAMES } from "../helpers/tool_names.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Structured = Record<string, unknown>;
type Kind = "stdio" | "stateful http" | "stateless http";

const KINDS: Kind[] = ["stdio", "stateful http", "stateless http"];
const ERAS: Era[] = ["modern", "legacy"];
const VERSIONS: Record<Era, string> = { modern: MODERN_VERSION, legacy: "2025-11-25" };

/** Two static bearer tokens (`MCP_AUTH_TOKENS`): two principals. */
const TOKEN_A = "v2-e2e-token-alice";
const TOKEN_B = "v2-e2e-token-bob";

/** One transport's server(s) and gateway double, shared by every check on it. */
interface Rig {
  kind: Kind;
  gateway: TestGateway;
  /** A session of the given era (and, over HTTP, principal). */
  connect(era: Era, token?: string): Promise<V2Session>;
  /** Closes what is still open and asserts a clean end (no sessions, exit 0, quiet stderr). */
  close(): Promise<void>;
}

/** What every matrix check gets. */
interface Cell {
  kind: Kind;
  era: Era;
  session: V2Session;
  gateway: TestGateway;
}

async function startRig(kind: Kind): Promise<Rig> {
  const gateway = await TestGateway.start({ chunkDelayMs: 40 });
  const env = gatewayEnv(gateway.url);
  if (kind === "stdio") {
    const stdio: V2Session[] = [];
    return {
      kind,
      gateway,
      async connect(era) {
        const session = await connectV2Stdio({ era, env });
        stdio.push(session);
        return session;
      },
      async close() {
        try {
          for (const session of stdio) await session.close();
          for (const session of stdio) {
            await assertExited(session.pid!);
            assertQuiet(`stdio ${session.era} server`, session.stderr());
          }
        } finally {
          await gateway.close();
        }
      },
    };
  }
  const http = await startHttp({
    // --debug: /health then reports the open session count.
    args: [...(kind === "stateless http" ? ["--stateless"] : []), "--debug"],
    env: { ...env, MCP_AUTH_TOKENS: `${TOKEN_A},${TOKEN_B}` },
  }).catch(async (error) => {
    await gateway.close();
    throw error;
  });
  const open = new Set<V2Session>();
  return {
    kind,
    gateway,
    async connect(era, token = TOKEN_A) {
      const session = await connectV2Http(`${http.url}/mcp`, { era, token });
      open.add(session);
      const close = session.close;
      session.close = async () => {
        open.delete(session);
        await close();
      };
      return session;
    },
    async close() {
      try {
        for (const session of [...open]) await session.close();
        const health = await (await fetch(`${http.url}/health`)).json();
        assert.equal(health.sessions, 0, "every HTTP session was closed");
      } finally {
        const status = await http.stop();
        await gateway.close();
        assert.equal(status.code, 0, `${kind} server exit\n${http.stderr()}`);
        assertQuiet(`${kind} server`, http.stderr());
      }
    },
  };
}

/** A server's stderr holds no warning, error or stack trace. */
function assertQuiet(what: string, stderr: string) {
  const noisy = stderr.split("\n").filter((line) =>
    /"level":"(warn|error)"/.test(line) || /^\s+at /.test(line) || /\\n\s+at /.test(line)
  );
  assert.deepEqual(noisy, [], `${what} stderr is clean`);
}

/** The process is gone (reaped) once its session closed. */
async function assertExited(pid: number) {
  const deadline = performance.now() + 5_000;
  while (await exists(`/proc/${pid}`)) {
    if (performance.now() > deadline) assert.fail(`server process ${pid} still runs`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exists(path: string): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Small readers.

function result(response: RawResponse): Structured {
  assert.equal(response.kind, "result", JSON.stringify(response));
  return (response as { result: Structured }).result;
}

function rpcError(response: RawResponse): { code: number; message: string; data?: unknown } {
  assert.equal(response.kind, "error", JSON.stringify(response));
  return (response as { error: { code: number; message: string; data?: unknown } }).error;
}

async function call(session: V2Session, name: string, args: Structured = {}) {
  return await session.client.callTool({ name, arguments: args }) as {
    isError?: boolean;
    structuredContent?: Structured;
    content: { type: string; text?: string }[];
  };
}

async function ok(session: V2Session, name: string, args: Structured = {}): Promise<Structured> {
  const answer = await call(session, name, args);
  assert.ok(!answer.isError, `${name} failed: ${answer.content[0]?.text}`);
  return answer.structuredContent!;
}

function errorCode(answer: { structuredContent?: Structured }): unknown {
  return (answer.structuredContent?.error as Structured | undefined)?.code;
}

function reply(toolResult: unknown): unknown {
  return ((toolResult as Structured).structuredContent as Structured | undefined)?.reply;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The gateway's request carrying `message`, once it arrived. */
async function chatFor(gateway: TestGateway, message: string): Promise<RecordedRequest> {
  let chat: RecordedRequest | undefined;
  await gateway.waitFor(() => (chat = gateway.chatsByMessage().get(message)?.[0]) !== undefined);
  return chat!;
}

/** Runs `work` with the gateway holding every chat stream open after its last word. */
async function holding<T>(gateway: TestGateway, work: () => Promise<T>): Promise<T> {
  gateway.fault = { kind: "hang" };
  try {
    return await work();
  } finally {
    gateway.fault = { kind: "none" };
  }
}

/** A message unique to the cell, so its gateway request can be found. */
function message(cell: Cell, what: string): string {
  return `${what} ${cell.era} ${cell.kind.replace(" ", "-")} ${crypto.randomUUID().slice(0, 8)}`;
}

/** Whether this cell can stream progress (stateless 2025 HTTP answers plain JSON). */
function streams(cell: Cell): boolean {
  return !(cell.kind === "stateless http" && cell.era === "legacy");
}

// ---------------------------------------------------------------------------
// The matrix checks, each run in every (transport, era) cell.

const CHECKS: [string, (cell: Cell) => Promise<void>][] = [
  ["tools/list: the 10 tools (modern: cacheable, public, one hour)", async (cell) => {
    const { client } = cell.session;
    assert.equal(cell.session.era, cell.era);
    assert.equal(client.getNegotiatedProtocolVersion(), VERSIONS[cell.era]);
    const listed = await client.listTools();
    assert.deepEqual(listed.tools.map((t) => t.name).sort(), TOOL_NAMES);
    const chat = listed.tools.find((t) => t.name === "openclaw_chat")!;
    const cache = listed as { ttlMs?: unknown; cacheScope?: unknown };
    if (cell.era === "modern") {
      // The v2 client hands the cache hints through on its result.
      assert.equal(cache.ttlMs, 3_600_000);
      assert.equal(cache.cacheScope, "public");
      // 2026-07-28: the server decides per call, so no tool says `execution`.
      assert.equal(chat.execution, undefined);
    } else {
      assert.equal(cache.ttlMs, undefined);
      assert.equal(cache.cacheScope, undefined);
      assert.deepEqual(chat.execution, { taskSupport: "optional" });
    }
  }],

  ["openclaw_chat with progress: the text so far, then the reply", async (cell) => {
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(" ");
    const { result, progress } = await callWithProgress(cell.session.client, {
      name: "openclaw_chat",
      arguments: { message: words },
    });
    const expected = `echo: ${words}`;
    assert.equal(result.isError, undefined);
    assert.equal(reply(result), expected);
    assert.equal(result.content[0].type === "text" && result.content[0].text, expected);
    if (!streams(cell)) {
      assert.deepEqual(progress, [], "a JSON answer carries no progress");
      return;
    }
    assert.ok(progress.length >= 1, "progress arrived");
    for (const update of progress) {
      assert.ok(expected.startsWith(update.message ?? "\0"), `a prefix: ${update.message}`);
      assert.equal(update.progress, update.message!.length);
    }
    const counts = progress.map((p) => p.progress);
    assert.deepEqual(counts, counts.toSorted((a, b) => a - b), "progress only grows");
  }],

  ["openclaw_chat_async -> openclaw_task_status -> reply", async (cell) => {
    const text = message(cell, "async");
    const submitted = await ok(cell.session, "openclaw_chat_async", { message: text });
    assert.equal(submitted.status, "pending");
    const id = submitted.task_id as string;
    let status: Structured = {};
    await waitUntil("the async task to complete", async () => {
      status = await ok(cell.session, "openclaw_task_status", { task_id: id });
      return status.status === "completed";
    });
    assert.equal(status.task_id, id);
    assert.equal(status.reply, `echo: ${text}`);
  }],

  ["openclaw_task_cancel on a held gateway request", async (cell) => {
    const { session, gateway } = cell;
    const text = message(cell, "held async");
    await holding(gateway, async () => {
      const submitted = await ok(session, "openclaw_chat_async", { message: text });
      const chat = await chatFor(gateway, text);
      const cancelled = await ok(session, "openclaw_task_cancel", { task_id: submitted.task_id });
      assert.equal(cancelled.status, "cancelled");
      await gateway.waitFor(() => chat.aborted, 3_000);
      const status = await ok(session, "openclaw_task_status", { task_id: submitted.task_id });
      assert.equal(status.status, "cancelled");
    });
  }],

  [`native task path for openclaw_chat settles with the reply`, async (cell) => {
    const { client } = cell.session;
    const text = message(cell, "native");
    if (cell.era === "modern") {
      // The Tasks extension, declared on the request, through ext-tasks.
      const settled = await callToolAsTask(client, {
        name: "openclaw_chat",
        arguments: { message: text },
      }, { preference: "require" });
      assert.equal(settled.kind, "task");
      assert.equal(settled.outcome.status, "completed", JSON.stringify(settled.outcome));
      assert.equal(
        settled.outcome.status === "completed" && reply(settled.outcome.result),
        `echo: ${text}`,
      );
      assert.equal(settled.views.at(-1)?.status, "completed");
      const got = result(await tasksGet(client, settled.taskId!));
      assert.equal(got.status, "completed");
      assert.equal(reply(got.result), `echo: ${text}`);
      return;
    }
    // 2025-11-25: params.task, then tasks/get and tasks/result.
    const started = await startToolTask(client, {
      name: "openclaw_chat",
      arguments: { message: text },
    });
    const id = started.taskId!;
    assert.ok(id, JSON.stringify(started.response));
    assert.equal((result(started.response).task as Structured).status, "working");
    const early = result(await tasksGet(client, id));
    assert.equal(early.taskId, id);
    assert.ok(["working", "completed"].includes(early.status as string), String(early.status));
    const done = result(await tasksResult(client, id));
    assert.equal(reply(done), `echo: ${text}`);
    assert.deepEqual(
      (done._meta as Structured)["io.modelcontextprotocol/related-task"],
      { taskId: id },
    );
    assert.equal(result(await tasksGet(client, id)).status, "completed");
  }],

  ["native task cancel (tasks/cancel), confirmed by tasks/get", async (cell) => {
    const { session, gateway } = cell;
    const { client } = session;
    const text = message(cell, "native held");
    await holding(gateway, async () => {
      if (cell.era === "modern") {
        let cancelling: Promise<unknown> | undefined;
        const settled = await callToolAsTask(client, {
          name: "openclaw_chat",
          arguments: { message: text },
        }, {
          preference: "require",
          // ext-tasks sends tasks/cancel once the gateway holds the request.
          onExecution: (execution) => {
            // Cancelled either way, so a missing gateway request fails here, not by a hang.
            cancelling = chatFor(gateway, text).finally(() => execution.cancel());
            cancelling.catch(() => {}); // awaited once the call settles
          },
        });
        await cancelling;
        assert.equal(settled.kind, "task");
        assert.equal(settled.outcome.status, "cancelled");
        assert.equal(result(await tasksGet(client, settled.taskId!)).status, "cancelled");
      } else {
        const { taskId } = await startToolTask(client, {
          name: "openclaw_chat",
          arguments: { message: text },
        });
        await chatFor(gateway, text);
        assert.equal(result(await tasksCancel(client, taskId!)).status, "cancelled");
        assert.equal(result(await tasksGet(client, taskId!)).status, "cancelled");
      }
      const chat = await chatFor(gateway, text);
      await gateway.waitFor(() => chat.aborted, 3_000);
    });
  }],

  ["bad arguments: the coded invalid_argument error result", async (cell) => {
    const bad = await call(cell.session, "openclaw_chat", { message: 5 });
    assert.equal(bad.isError, true);
    assert.equal(errorCode(bad), "invalid_argument");
    assert.match(bad.content[0].text!, /^Error \[invalid_argument\]: .*message: expected string/);
    const extra = await call(cell.session, "openclaw_task_status", { task_id: "x", extra: 1 });
    assert.equal(errorCode(extra), "invalid_argument");
  }],

  ["unknown tool: a JSON-RPC error naming the known tools", async (cell) => {
    const refused = await cell.session.client.callTool({ name: "openclaw_nope", arguments: {} })
      .then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof ProtocolError, String(refused));
    assert.equal(refused.code, -32602);
    assert.match(refused.message, /Unknown tool "openclaw_nope"; known tools: /);
    for (const tool of TOOL_NAMES) assert.ok(refused.message.includes(tool), tool);
  }],
];

// ---------------------------------------------------------------------------
// Isolation over HTTP: tasks belong to the principal (token), not the era.

async function isolation(rig: Rig) {
  const a = {
    modern: await rig.connect("modern", TOKEN_A),
    legacy: await rig.connect("legacy", TOKEN_A),
  };
  const b = {
    modern: await rig.connect("modern", TOKEN_B),
    legacy: await rig.connect("legacy", TOKEN_B),
  };
  try {
    const made: Record<Era, string> = { modern: "", legacy: "" };
    for (const era of ERAS) {
      const text = `isolated ${era} ${rig.kind}`;
      const started = await startToolTask(a[era].client, {
        name: "openclaw_chat",
        arguments: { message: text },
      });
      assert.ok(started.taskId, JSON.stringify(started.response));
      made[era] = started.taskId;
      await waitUntil(
        `A's ${era} task to complete`,
        async () => result(await tasksGet(a[era].client, started.taskId!)).status === "completed",
      );
    }
    for (const [madeIn, id] of Object.entries(made) as [Era, string][]) {
      for (const era of ERAS) {
        const intruder = b[era];
        const what = `B (${era}) on A's ${madeIn} task`;
        const got = rpcError(await tasksGet(intruder.client, id));
        assert.equal(got.code, -32602, what);
        assert.match(got.message, /^task_not_found: /, what);
        const cancel = rpcError(await tasksCancel(intruder.client, id));
        assert.equal(cancel.code, -32602, what);
        assert.match(cancel.message, /^task_not_found: /, what);
        const status = await call(intruder, "openclaw_task_status", { task_id: id });
        assert.equal(status.isError, true, what);
        assert.equal(errorCode(status), "task_not_found", what);
        const list = await ok(intruder, "openclaw_task_list", {});
        assert.ok(!(list.tasks as Structured[]).some((t) => t.task_id === id), what);
        if (era === "legacy") {
          const listed = result(await tasksList(intruder.client)).tasks as Structured[];
          assert.ok(!listed.some((t) => t.taskId === id), what);
        }

        // A sees it in either era, whichever era made it.
        const owner = a[era];
        const own = result(await tasksGet(owner.client, id));
        assert.equal(own.status, "completed", `A (${era}) on its ${madeIn} task`);
        const ownStatus = await ok(owner, "openclaw_task_status", { task_id: id });
        assert.equal(ownStatus.reply, `echo: isolated ${madeIn} ${rig.kind}`);
      }
    }
    // The task A made in one era, fetched as a result in the other.
    const legacyView = result(await tasksResult(a.legacy.client, made.modern));
    assert.equal(reply(legacyView), `echo: isolated modern ${rig.kind}`);
    const modernView = result(await tasksGet(a.modern.client, made.legacy));
    assert.equal(reply(modernView.result), `echo: isolated legacy ${rig.kind}`);
  } finally {
    for (const session of [a.modern, a.legacy, b.modern, b.legacy]) await session.close();
  }
}

// ---------------------------------------------------------------------------

/** A test step with the file's sanitizer options (children run one at a time). */
function step(
  t: Deno.TestContext,
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): Promise<boolean> {
  return t.step({ name, fn, ...opts });
}

for (const kind of KINDS) {
  Deno.test(`v2 client over ${kind}`, opts, async (t) => {
    const rig = await startRig(kind);
    try {
      for (const era of ERAS) {
        await step(t, `${era} (${VERSIONS[era]})`, async (t) => {
          const session = await rig.connect(era);
          try {
            const cell: Cell = { kind, era, session, gateway: rig.gateway };
            for (const [name, check] of CHECKS) {
              await step(t, name, () => check(cell));
            }
          } finally {
            await session.close();
          }
        });
      }
      if (kind !== "stdio") {
        await step(
          t,
          "isolation: A's tasks (either era) hidden from B (either era), visible to A in both",
          () => isolation(rig),
        );
      }
    } finally {
      await rig.close();
    }
  });
}
