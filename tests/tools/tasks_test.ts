/**
 * The task tools and `submitChat`, run directly over a real KV store
 * (`:memory:`), a real runner and a real loopback gateway.
 */
import assert from "node:assert/strict";
import type { BridgeError } from "../../src/errors.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { SessionKeys } from "../../src/gateway/session_key.ts";
import { silentLogger } from "../../src/log.ts";
import { TaskRunner } from "../../src/tasks/runner.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { submitChat, type TaskToolDeps, taskTools } from "../../src/tools/tasks.ts";
import type { Tool, ToolContext } from "../../src/tools/tool.ts";
import { TestGateway } from "../../testing/test_gateway.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Structured = Record<string, unknown>;

function context(owner: string): ToolContext {
  return { signal: new AbortController().signal, progress() {}, owner };
}

/**
 * The four tools over a fresh store. The runner is started only with
 * `run: true`, and then polls so rarely (60 s) that a task runs at once only
 * if the submission woke it.
 */
async function setup(options: { run?: boolean; quota?: number } = {}) {
  const gateway = await TestGateway.start();
  const gateways = new GatewayRegistry([gateway.instance({ timeoutMs: 5_000 })]);
  const kv = await Deno.openKv(":memory:");
  // A clock that moves on every read: tasks sort by creation time, never by a tie.
  let clock = Date.now();
  const store = new TaskStore(kv, { maxPending: options.quota, now: () => clock++ });
  const runner = new TaskRunner({ store, gateways, log: silentLogger, idlePollMs: 60_000 });
  if (options.run) runner.start();
  const deps: TaskToolDeps = { store, runner, gateways };
  const tools = new Map(taskTools(deps).map((t) => [t.name, t]));
  const run = async (name: string, args: Structured, owner = "alice") => {
    const tool = tools.get(name)!;
    const { structured } = await tool.run(tool.input.parse(args), context(owner));
    tool.output.parse(structured);
    return structured as Structured;
  };
  return {
    deps,
    gateway,
    store,
    tools,
    run,
    async close() {
      await runner.stop();
      kv.close();
      await gateway.close();
    },
  };
}

Deno.test("task tools: four tools with their annotations", async () => {
  const s = await setup();
  try {
    assert.deepEqual([...s.tools.keys()], [
      "openclaw_chat_async",
      "openclaw_task_status",
      "openclaw_task_list",
      "openclaw_task_cancel",
    ]);
    const annotations = (name: string) => (s.tools.get(name) as Tool).annotations;
    assert.equal(annotations("openclaw_task_cancel").destructiveHint, true);
    assert.equal(annotations("openclaw_task_status").readOnlyHint, true);
    assert.equal(annotations("openclaw_chat_async").readOnlyHint, false);
  } finally {
    await s.close();
  }
});

Deno.test("task tools: chat_async queues with a position among the caller's own tasks", async () => {
  const s = await setup();
  try {
    const first = await s.run("openclaw_chat_async", { message: "one" });
    assert.equal(first.status, "pending");
    assert.equal(first.instance, "default");
    assert.equal(first.position, 0);
    const second = await s.run("openclaw_chat_async", { message: "two", session_id: "s1" });
    assert.equal(second.position, 1);
    const other = await s.run("openclaw_chat_async", { message: "three" }, "bob");
    assert.equal(other.position, 0, "other callers' tasks are not counted");

    const status = await s.run("openclaw_task_status", { task_id: second.task_id });
    assert.equal(status.status, "pending");
    assert.equal(status.session_id, "s1");
    assert.equal(status.position, 1);
    assert.equal(status.partial_reply, null);
    assert.equal(status.reply, null);
    assert.match(String(status.created_at), /^\d{4}-\d\d-\d\dT/);
    assert.equal(status.started_at, null);
  } finally {
    await s.close();
  }
});

Deno.test("task tools: another owner's task is not found; a bad id is refused by the schema", async () => {
  const s = await setup();
  try {
    const { task_id } = await s.run("openclaw_chat_async", { message: "mine" });
    for (const name of ["openclaw_task_status", "openclaw_task_cancel"]) {
      await assert.rejects(
        s.run(name, { task_id }, "mallory"),
        (e: BridgeError) => e.code === "task_not_found",
      );
    }
    const input = s.tools.get("openclaw_task_status")!.input;
    assert.ok(!input.safeParse({ task_id: "../etc" }).success);
    assert.ok(!input.safeParse({ task_id: "x".repeat(129) }).success);
    assert.ok(
      !s.tools.get("openclaw_chat_async")!.input.safeParse({ message: "m", priority: 101 })
        .success,
    );
  } finally {
    await s.close();
  }
});

Deno.test("task tools: list filters, counts and pages; cancel ends a pending task once", async () => {
  const s = await setup();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await s.run("openclaw_chat_async", { message: `m${i}` })).task_id as string);
    }
    const cancelled = await s.run("openclaw_task_cancel", { task_id: ids[0] });
    assert.equal(cancelled.status, "cancelled");
    assert.equal((cancelled.error as { code: string }).code, "cancelled");
    await assert.rejects(
      s.run("openclaw_task_cancel", { task_id: ids[0] }),
      (e: BridgeError) => e.code === "task_finished",
    );

    const all = await s.run("openclaw_task_list", {});
    assert.deepEqual(
      (all.tasks as Structured[]).map((t) => t.task_id),
      ids.toReversed(),
      "newest first",
    );
    assert.equal((all.counts as Record<string, number>).pending, 2);
    assert.equal((all.counts as Record<string, number>).cancelled, 1);
    assert.equal(all.next_cursor, null);

    const pending = await s.run("openclaw_task_list", { status: "pending" });
    assert.deepEqual((pending.tasks as Structured[]).map((t) => t.task_id), [ids[2], ids[1]]);

    const page1 = await s.run("openclaw_task_list", { limit: 2 });
    assert.equal((page1.tasks as Structured[]).length, 2);
    assert.equal(typeof page1.next_cursor, "string");
    const page2 = await s.run("openclaw_task_list", { limit: 2, cursor: page1.next_cursor });
    assert.deepEqual((page2.tasks as Structured[]).map((t) => t.task_id), [ids[0]]);

    const bob = await s.run("openclaw_task_list", {}, "bob");
    assert.deepEqual(bob.tasks, [], "lists only the caller's tasks");
  } finally {
    await s.close();
  }
});

Deno.test(
  "task tools: a submission wakes the runner; status then carries the reply",
  opts,
  async () => {
    const s = await setup({ run: true });
    try {
      // Let the runner go idle (its next poll is a minute away).
      await new Promise((r) => setTimeout(r, 50));
      const { task_id } = await s.run("openclaw_chat_async", { message: "wake up" });
      let status: Structured = {};
      const deadline = performance.now() + 3_000;
      while (performance.now() < deadline) {
        status = await s.run("openclaw_task_status", { task_id });
        if (status.status === "completed") break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status.status, "completed", "woken at once, not at the next poll");
      assert.equal(status.reply, "echo: wake up");
      assert.equal(status.finish_reason, "stop");
      assert.equal(status.position, null);
      assert.equal(status.attempt, 1);
      assert.equal(s.gateway.chats.length, 1);
    } finally {
      await s.close();
    }
  },
);

Deno.test("submitChat: refuses before storing; the session policy decides internal keys", async () => {
  const s = await setup({ quota: 1 });
  try {
    const submit = (chat: Record<string, string>, sessions?: SessionKeys) =>
      submitChat({ ...s.deps, sessions }, {
        owner: "alice",
        chat: { message: "m", ...chat },
        origin: "mcp",
      });
    await assert.rejects(
      submit({ instance: "elsewhere" }),
      (e: BridgeError) => e.code === "unknown_instance",
    );
    await assert.rejects(
      submit({ session_id: "agent:main:main" }),
      (e: BridgeError) => e.code === "invalid_argument",
      "refused by default",
    );
    assert.equal((await s.store.list("alice")).tasks.length, 0, "nothing stored");

    const task = await submit(
      { session_id: "agent:main:main" },
      new SessionKeys({ allowInternalKeys: true }),
    );
    assert.equal(task.sessionId, "agent:main:main");
    assert.equal(task.origin, "mcp");
    await assert.rejects(submit({}), (e: BridgeError) => e.code === "quota_exceeded");
  } finally {
    await s.close();
  }
});
