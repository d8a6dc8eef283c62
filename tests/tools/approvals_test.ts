/**
 * `openclaw_approvals`, `openclaw_approval_respond`, `waiting_for_approval`
 * in `openclaw_task_status` and the approval notice of `openclaw_chat`, run
 * directly over a real KV store, a real runner and the loopback gateway
 * double (its operator WebSocket, and a chat holding `[approval:<cmd>]`
 * that waits on an exec approval for its conversation).
 */
import assert from "node:assert/strict";
import { GatewayApprovals, operatorOpener } from "../../src/gateway/approvals.ts";
import { ephemeralDeviceIdentity } from "../../src/gateway/device_identity.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { SessionKeys } from "../../src/gateway/session_key.ts";
import { silentLogger } from "../../src/log.ts";
import { TaskRunner } from "../../src/tasks/runner.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { approvalRespondTool, approvalsTool } from "../../src/tools/approvals.ts";
import { chatTool } from "../../src/tools/chat.ts";
import { taskTools } from "../../src/tools/tasks.ts";
import type { Tool, ToolContext } from "../../src/tools/tool.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { codeOf } from "../helpers/error_code.ts";

type Structured = Record<string, unknown>;
const OWNER = "token:owner";
const ALICE = "token:alice";

async function until<T>(read: () => Promise<T> | T, ok: (v: T) => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function setup(options: { approvals?: boolean } = {}) {
  const gateway = await TestGateway.start();
  const device = await ephemeralDeviceIdentity();
  const gateways = new GatewayRegistry([gateway.instance({ timeoutMs: 5_000 })], {
    approvals: options.approvals === false
      ? undefined
      : (instance) =>
        new GatewayApprovals(instance, operatorOpener(instance, () => Promise.resolve(device)), {
          timing: { lingerMs: 50, backoffMs: 20, maxBackoffMs: 100 },
        }),
  });
  const sessions = new SessionKeys({ namespaced: true });
  const kv = await Deno.openKv(":memory:");
  const store = new TaskStore(kv);
  const runner = new TaskRunner({
    store,
    gateways,
    log: silentLogger,
    sessionKeys: sessions,
    idlePollMs: 60_000,
  });
  runner.start();
  const access = { isOwner: (p: string) => p === OWNER };
  const tools = new Map<string, Tool>(
    [
      approvalsTool(gateways, access),
      approvalRespondTool(gateways, access),
      chatTool(gateways, sessions),
      ...taskTools({ store, runner, gateways, sessions }),
    ].map((t) => [t.name, t]),
  );
  const call = async (
    name: string,
    args: Structured,
    owner: string,
    progress: ToolContext["progress"] = () => {},
  ) => {
    const tool = tools.get(name)!;
    const { structured } = await tool.run(tool.input.parse(args), {
      signal: new AbortController().signal,
      progress,
      owner,
    });
    tool.output.parse(structured);
    return structured as Structured;
  };
  /** Alice's task's status once `ok` holds. */
  const statusWhen = (taskId: unknown, ok: (v: Structured) => boolean, what: string) =>
    until(() => call("openclaw_task_status", { task_id: taskId }, ALICE), ok, what);
  return {
    gateway,
    tools,
    call,
    statusWhen,
    async [Symbol.asyncDispose]() {
      await runner.stop();
      gateways.close();
      kv.close();
      await gateway.close();
    },
  };
}

Deno.test("approvals tools: a non-owner is refused before the gateway is asked", async () => {
  await using s = await setup();
  for (
    const [name, args] of [["openclaw_approvals", {}], [
      "openclaw_approval_respond",
      { id: "x", decision: "deny" },
    ]] as const
  ) {
    const error = await codeOf(s.call(name, args, ALICE));
    assert.equal(error, "forbidden", name);
  }
  assert.equal(s.gateway.approvals.connects.length, 0);
});

Deno.test("approvals tools: bad arguments are refused with a message naming the field", async () => {
  await using s = await setup();
  const respond = s.tools.get("openclaw_approval_respond")!;
  const bad = [
    { id: "a", decision: "maybe" },
    { id: "", decision: "deny" },
    { id: "x".repeat(513), decision: "deny" },
    { id: "a\u0000b", decision: "deny" },
    { decision: "deny" },
    { id: "a", decision: "deny", extra: 1 },
  ];
  for (const args of bad) {
    const parsed = respond.input.safeParse(args);
    assert.equal(parsed.success, false, JSON.stringify(args));
  }
  assert.match(
    respond.input.safeParse({ id: "a", decision: "maybe" }).error!.issues[0].message,
    /decision must be one of allow-once, allow-always, deny/,
  );
  assert.equal(
    await codeOf(s.call("openclaw_approval_respond", { id: "nope", decision: "deny" }, OWNER)),
    "approval_not_found",
  );
  assert.equal(
    await codeOf(s.call("openclaw_approvals", { instance: "elsewhere" }, OWNER)),
    "unknown_instance",
  );
});

Deno.test("approvals tools: with approvals off the tools say how to turn them on", async () => {
  await using s = await setup({ approvals: false });
  assert.equal(await codeOf(s.call("openclaw_approvals", {}, OWNER)), "forbidden");
});

Deno.test("approvals: a task waits for approval, its status shows the request, the owner allows it and the claw goes on", async () => {
  await using s = await setup();
  const { task_id } = await s.call("openclaw_chat_async", {
    message: "tidy up [approval:rm -rf /tmp/cache]",
    session_id: "chores",
  }, ALICE);
  const waiting = await s.statusWhen(
    task_id,
    (v) => v.waiting_for_approval !== null,
    "waiting_for_approval",
  );
  assert.equal(waiting.status, "running");
  const request = waiting.waiting_for_approval as Structured;
  assert.equal(request.summary, "rm -rf /tmp/cache");
  assert.equal(request.kind, "exec");
  assert.match(String(request.session_key), /:chores$/);
  assert.deepEqual(request.decisions, ["allow-once", "allow-always", "deny"]);

  // Alice may see her task wait, but only the owner answers.
  assert.equal(
    await codeOf(
      s.call("openclaw_approval_respond", { id: request.id, decision: "allow-once" }, ALICE),
    ),
    "forbidden",
  );
  const listed = await s.call("openclaw_approvals", {}, OWNER);
  assert.deepEqual((listed.approvals as Structured[]).map((a) => a.id), [request.id]);
  const answer = await s.call("openclaw_approval_respond", {
    id: request.id,
    decision: "allow-once",
  }, OWNER);
  assert.equal(answer.decision, "allow-once");
  assert.equal(answer.accepted, true);

  const done = await s.statusWhen(task_id, (v) => v.status === "completed", "completion");
  assert.match(String(done.reply), /\[approved allow-once: ran rm -rf \/tmp\/cache\]$/);
  assert.equal(done.waiting_for_approval, null);
  assert.deepEqual((await s.call("openclaw_approvals", {}, OWNER)).approvals, []);
});

Deno.test("approvals: a deny reaches the claw; the waiting mark goes when the approval ends", async () => {
  await using s = await setup();
  const { task_id } = await s.call("openclaw_chat_async", {
    message: "[approval:shutdown now]",
    session_id: "ops",
  }, ALICE);
  const waiting = await s.statusWhen(
    task_id,
    (v) => v.waiting_for_approval !== null,
    "waiting_for_approval",
  );
  const id = (waiting.waiting_for_approval as Structured).id as string;
  s.gateway.approvals.resolve(id, "deny"); // answered on the gateway itself
  const done = await s.statusWhen(task_id, (v) => v.status === "completed", "completion");
  assert.match(String(done.reply), /\[denied: shutdown now\]$/);
});

Deno.test("approvals: openclaw_chat tells its progress listener that it waits, and when it goes on", async () => {
  await using s = await setup();
  const notices: [number, string][] = [];
  const chat = s.call(
    "openclaw_chat",
    { message: "deploy [approval:make deploy]", session_id: "rel" },
    ALICE,
    (progress, message) => notices.push([progress, message]),
  );
  const notice = await until(
    () => notices.find(([, m]) => m.startsWith("Waiting for approval")),
    (v) => v !== undefined,
    "the approval notice",
  );
  assert.match(
    notice![1],
    /to run: make deploy\. The owner can answer it with openclaw_approval_respond/,
  );
  const [pending] = s.gateway.approvals.pending.values();
  await s.call("openclaw_approval_respond", { id: pending.id, decision: "allow-always" }, OWNER);
  const result = await chat;
  assert.match(String(result.reply), /\[approved allow-always: ran make deploy\]$/);
  assert.ok(notices.some(([, m]) => /was answered: allow-always/.test(m)));
  const values = notices.map(([p]) => p);
  assert.deepEqual(values, [...values].sort((a, b) => a - b), "progress only grows");
  assert.equal(new Set(values).size, values.length, "and never repeats");
});

Deno.test("approvals: another conversation's approval is not this task's wait", async () => {
  await using s = await setup();
  const { task_id } = await s.call("openclaw_chat_async", {
    message: "[approval:ls]",
    session_id: "mine",
  }, ALICE);
  await s.statusWhen(task_id, (v) => v.waiting_for_approval !== null, "waiting_for_approval");
  s.gateway.approvals.raise("exec", { command: "other", sessionKey: "agent:main:someone-else" });
  await new Promise((r) => setTimeout(r, 100));
  const status = await s.call("openclaw_task_status", { task_id }, ALICE);
  assert.equal((status.waiting_for_approval as Structured).summary, "ls");
  assert.equal(
    (await s.call("openclaw_approvals", {}, OWNER) as { approvals: unknown[] }).approvals.length,
    2,
  );
  for (const id of [...s.gateway.approvals.pending.keys()]) s.gateway.approvals.resolve(id, "deny");
});

Deno.test("approvals: without a session_id, a task and a chat are tied to their requests by the gateway's run id", async () => {
  await using s = await setup();
  const { task_id } = await s.call("openclaw_chat_async", { message: "[approval:df -h]" }, ALICE);
  const waiting = await s.statusWhen(
    task_id,
    (v) => v.waiting_for_approval !== null,
    "waiting_for_approval",
  );
  const request = waiting.waiting_for_approval as Structured;
  assert.equal(request.summary, "df -h");
  // A second, unrelated run's request is not this task's.
  const notices: string[] = [];
  const chat = s.call(
    "openclaw_chat",
    { message: "[approval:uptime]" },
    ALICE,
    (_p, message) => notices.push(message),
  );
  await until(
    () => notices.find((m) => m.startsWith("Waiting for approval")),
    (v) => v !== undefined,
    "the chat's notice",
  );
  assert.match(notices.join("\n"), /to run: uptime/);
  assert.doesNotMatch(notices.join("\n"), /df -h/);
  const again = await s.call("openclaw_task_status", { task_id }, ALICE);
  assert.equal((again.waiting_for_approval as Structured).summary, "df -h");
  for (const [id, pending] of s.gateway.approvals.pending) {
    s.gateway.approvals.resolve(id, pending.request.command === "uptime" ? "allow-once" : "deny");
  }
  assert.match(String((await chat).reply), /\[approved allow-once: ran uptime\]$/);
  const done = await s.statusWhen(task_id, (v) => v.status === "completed", "completion");
  assert.match(String(done.reply), /\[denied: df -h\]$/);
});
