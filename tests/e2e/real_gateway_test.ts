/**
 * End-to-end against the real OpenClaw gateway (offline, loopback only), with
 * a fake LLM behind it: the bridge over stdio and HTTP, driven by the SDK
 * client. Skipped, with the reason printed, when OpenClaw is not installed
 * (`.ci/run` installs it into a cache folder outside the repo).
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { FakeLlm } from "../../testing/fake_llm.ts";
import { findOpenclaw, type RealGateway, startRealGateway } from "../../testing/real_gateway.ts";
import { connectStdio, startHttp, type StdioSession } from "../../testing/spawn.ts";

const found = await findOpenclaw();
if ("missing" in found) console.log(`real-gateway suite skipped: ${found.missing}`);

type Result = {
  isError?: boolean;
  content: { text?: string }[];
  structuredContent?: Record<string, unknown>;
};

async function call(session: StdioSession, name: string, args: Record<string, unknown> = {}) {
  return await session.client.callTool({ name, arguments: args }, undefined, {
    timeout: 60_000,
  }) as Result;
}

function code(result: Result): string | undefined {
  return (result.structuredContent?.error as { code?: string } | undefined)?.code;
}

Deno.test({
  name:
    "real gateway: chat, streaming, sessions, recall, agents, tasks, cancel, status, HTTP, gateway killed",
  ignore: "missing" in found,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const llm = FakeLlm.start();
    let gateway: RealGateway | undefined;
    let session: StdioSession | undefined;
    try {
      // Exec asks for approval (only a `[[exec:...]]` turn makes the model call exec).
      gateway = await startRealGateway({ llmUrl: llm.url, execApprovals: true });
      const instances = [
        // A multi-agent gateway needs an agent on every call: the instance names one.
        { name: "real", url: gateway.url, token: gateway.token, default: true, agent: "main" },
        { name: "badtoken", url: gateway.url, token: "not-the-token", agent: "main" },
      ];
      session = await connectStdio({
        env: { OPENCLAW_INSTANCES: JSON.stringify(instances), OPENCLAW_TIMEOUT_MS: "60000" },
      });
      const s = session;

      await t.step(
        "status: ok with the gateway's agents; a wrong token is unauthorized",
        async () => {
          const status = await call(s, "openclaw_status");
          const byName = Object.fromEntries(
            (status.structuredContent!.instances as {
              name: string;
              status: string;
              agents: string[];
            }[])
              .map((i) => [i.name, i]),
          );
          assert.equal(byName.real.status, "ok");
          assert.deepEqual(byName.real.agents, ["coder", "main"]);
          assert.equal(byName.badtoken.status, "unauthorized");
          assert.equal(llm.requests.length, 0, "status runs no agent");
        },
      );

      await t.step("chat: the reply carries our marker", async () => {
        const result = await call(s, "openclaw_chat", { message: "hello [[m:first]]" });
        assert.ok(!result.isError, result.content[0].text);
        assert.match(result.content[0].text!, /ECHO first/);
      });

      await t.step("streaming: progress notifications while the gateway streams", async () => {
        const updates: string[] = [];
        const result = await s.client.callTool(
          {
            name: "openclaw_chat",
            arguments: { message: "stream please [[slow]] [[m:streamed]]" },
          },
          undefined,
          { onprogress: (p) => updates.push(p.message ?? ""), timeout: 60_000 },
        ) as Result;
        assert.match(result.content[0].text!, /ECHO streamed/);
        assert.ok(updates.length >= 2, `progress updates: ${updates.length}`);
        assert.ok(
          updates.every((u) => result.content[0].text!.startsWith(u)),
          "progress is a prefix",
        );
      });

      await t.step(
        "sessions: a reused session_id continues the same OpenClaw session",
        async () => {
          await call(s, "openclaw_chat", { message: "one [[m:c1]]", session_id: "cont-1" });
          const second = await call(s, "openclaw_chat", {
            message: "two [[m:c2]]",
            session_id: "cont-1",
          });
          assert.match(
            second.content[0].text!,
            /ECHO c2 TURNS=2/,
            "the model saw the earlier turn",
          );
          const fresh = await call(s, "openclaw_chat", {
            message: "three [[m:c3]]",
            session_id: "cont-2",
          });
          assert.match(fresh.content[0].text!, /ECHO c3 TURNS=1/, "another session starts empty");
        },
      );

      await t.step(
        "recall: openclaw_sessions lists the session; openclaw_history has both turns in order",
        async () => {
          const list = await call(s, "openclaw_sessions", { search: "cont-1" });
          assert.ok(!list.isError, list.content[0].text);
          const rows = list.structuredContent!.sessions as { key: string; title: string }[];
          assert.deepEqual(rows.map((r) => r.key), ["agent:main:cont-1"]);
          assert.match(rows[0].title, /one \[\[m:c1\]\]/i);
          const history = await call(s, "openclaw_history", { session_id: "agent:main:cont-1" });
          assert.ok(!history.isError, history.content[0].text);
          const messages = history.structuredContent!.messages as { role: string; text: string }[];
          assert.deepEqual(messages.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
          assert.match(messages[0].text, /one \[\[m:c1\]\]/);
          assert.match(messages[1].text, /ECHO c1 TURNS=1/);
          assert.match(messages[2].text, /two \[\[m:c2\]\]/);
          assert.match(messages[3].text, /ECHO c2 TURNS=2/);
          const older = await call(s, "openclaw_history", {
            session_id: "agent:main:cont-1",
            limit: 2,
          });
          assert.equal(older.structuredContent!.next_before, 2);
          assert.equal(
            code(await call(s, "openclaw_history", { session_id: "nope" })),
            "not_found",
          );
        },
      );

      await t.step("recall over HTTP: a second principal sees none of them", async () => {
        const ownerToken = `owner-${crypto.randomUUID()}`;
        const otherToken = `other-${crypto.randomUUID()}`;
        const http = await startHttp({
          env: {
            OPENCLAW_INSTANCES: JSON.stringify([{
              name: "real",
              url: gateway!.url,
              token: gateway!.token,
              agent: "main",
            }]),
            MCP_AUTH_TOKENS: otherToken,
            MCP_OWNER_TOKENS: ownerToken,
          },
        });
        const connect = async (token: string) => {
          const client = new Client({ name: "real-recall", version: "0" });
          await client.connect(
            new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`), {
              requestInit: { headers: { authorization: `Bearer ${token}` } },
            }),
          );
          return client;
        };
        const tool = async (client: Client, name: string, args: Record<string, unknown>) =>
          await client.callTool({ name, arguments: args }, undefined, {
            timeout: 60_000,
          }) as Result;
        try {
          const other = await connect(otherToken);
          const owner = await connect(ownerToken);
          const before = await tool(other, "openclaw_sessions", {});
          assert.deepEqual(before.structuredContent!.sessions, []);
          assert.equal(
            code(await tool(other, "openclaw_history", { session_id: "agent:main:cont-1" })),
            "not_found",
          );
          assert.equal(
            code(await tool(other, "openclaw_history", { session_id: "cont-1" })),
            "not_found",
          );
          // Its own conversation it does see, under its namespace.
          await tool(other, "openclaw_chat", { message: "mine [[m:mine]]", session_id: "own-1" });
          const mine = await tool(other, "openclaw_sessions", {});
          const rows = mine.structuredContent!.sessions as { key: string; session_id: string }[];
          assert.deepEqual(rows.map((r) => r.session_id), ["own-1"]);
          assert.match(rows[0].key, /^agent:main:mcp-[0-9a-f]{16}:own-1$/);
          const own = await tool(other, "openclaw_history", { session_id: "own-1" });
          assert.equal((own.structuredContent!.messages as unknown[]).length, 2);
          // Approvals are the owner's only.
          assert.equal(code(await tool(other, "openclaw_approvals", {})), "forbidden");
          assert.equal(
            code(await tool(other, "openclaw_approval_respond", { id: "x", decision: "deny" })),
            "forbidden",
          );
          const ownerList = await tool(owner, "openclaw_approvals", {});
          assert.equal(ownerList.isError, undefined, JSON.stringify(ownerList.structuredContent));
          // The owner sees both.
          const all = await tool(owner, "openclaw_sessions", { limit: 100 });
          const keys = (all.structuredContent!.sessions as { key: string }[]).map((r) => r.key);
          assert.ok(keys.includes("agent:main:cont-1") && keys.includes(rows[0].key));
          await other.close();
          await owner.close();
        } finally {
          await http.stop();
        }
      });

      await t.step(
        "agents: none chosen on a multi-agent gateway gives agent_required",
        async () => {
          const bare = await connectStdio({
            env: { OPENCLAW_URL: gateway!.url, OPENCLAW_GATEWAY_TOKEN: gateway!.token },
          });
          try {
            const result = await call(bare, "openclaw_chat", { message: "who? [[m:noagent]]" });
            assert.equal(code(result), "agent_required");
            assert.match(result.content[0].text!, /Known agents: coder, main/);
          } finally {
            await bare.close();
          }
        },
      );

      await t.step("agents: selection works; an unknown agent lists the known ones", async () => {
        const coder = await call(s, "openclaw_chat", {
          message: "code [[m:coder]]",
          agent: "coder",
        });
        assert.match(coder.content[0].text!, /ECHO coder/);
        const ghost = await call(s, "openclaw_chat", { message: "x [[m:ghost]]", agent: "ghost" });
        assert.equal(code(ghost), "unknown_agent");
        assert.match(ghost.content[0].text!, /Known agents: coder, main/);
        const agents = await call(s, "openclaw_agents", { instance: "real" });
        assert.deepEqual(
          (agents.structuredContent!.instances as { agents: string[] }[])[0].agents,
          [
            "coder",
            "main",
          ],
        );
      });

      await t.step("async task: completes through the real gateway", async () => {
        const task = await call(s, "openclaw_chat_async", { message: "bg [[m:async]]" });
        const id = (task.structuredContent as { task_id: string }).task_id;
        let status: Record<string, unknown> = {};
        for (let i = 0; i < 300 && status.status !== "completed"; i++) {
          await new Promise((r) => setTimeout(r, 100));
          status = (await call(s, "openclaw_task_status", { task_id: id })).structuredContent!;
          assert.ok(status.status !== "failed", JSON.stringify(status.error));
        }
        assert.match(String(status.reply), /ECHO async/);
      });

      const waitFor = async <T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const value = await read();
          if (ok(value)) return value;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };

      const ended = (v: Record<string, unknown>) =>
        v.status !== "running" && v.status !== "pending";
      /** The task's status once `ok` holds. */
      const taskWhen = (id: string, ok: (v: Record<string, unknown>) => boolean, what: string) =>
        waitFor(
          async () => (await call(s, "openclaw_task_status", { task_id: id })).structuredContent!,
          ok,
          what,
        );

      await t.step(
        "approvals: a task's command waits; its status shows the request; the owner allows it and the claw runs it",
        async () => {
          const task = await call(s, "openclaw_chat_async", {
            message: "tidy [[exec:echo approved-run]]",
            session_id: "appr-1",
          });
          const id = (task.structuredContent as { task_id: string }).task_id;
          const waiting = await taskWhen(
            id,
            (v) => v.waiting_for_approval !== null || ended(v),
            "waiting_for_approval",
          );
          const request = waiting.waiting_for_approval as Record<string, unknown>;
          assert.ok(request, `the task waits: ${JSON.stringify(waiting)}`);
          assert.match(String(request.summary), /echo approved-run/);
          assert.equal(request.session_key, "agent:main:appr-1");
          assert.equal(request.kind, "exec");
          const listed = await call(s, "openclaw_approvals");
          const ids = (listed.structuredContent!.approvals as { id: string }[]).map((a) => a.id);
          assert.ok(ids.includes(String(request.id)), JSON.stringify(listed.structuredContent));
          const answer = await call(s, "openclaw_approval_respond", {
            id: request.id,
            decision: "allow-once",
          });
          assert.equal(answer.structuredContent!.accepted, true, JSON.stringify(answer));
          const done = await taskWhen(id, ended, "the task to end");
          assert.equal(done.status, "completed", JSON.stringify(done.error));
          assert.match(String(done.reply), /TOOL RAN[\s\S]*approved-run/);
          assert.equal(done.waiting_for_approval, null);
          // Answered: a second answer finds nothing pending.
          assert.equal(
            code(await call(s, "openclaw_approval_respond", { id: request.id, decision: "deny" })),
            "approval_not_found",
          );
        },
      );

      await t.step(
        "approvals: a task without session_id is tied to its request by the gateway's run id",
        async () => {
          const task = await call(s, "openclaw_chat_async", {
            message: "no session [[exec:echo runid-run]]",
          });
          const id = (task.structuredContent as { task_id: string }).task_id;
          const waiting = await taskWhen(
            id,
            (v) => v.waiting_for_approval !== null || ended(v),
            "waiting_for_approval",
          );
          const request = waiting.waiting_for_approval as Record<string, unknown>;
          assert.ok(request, `the task waits: ${JSON.stringify(waiting)}`);
          assert.match(String(request.summary), /echo runid-run/);
          await call(s, "openclaw_approval_respond", { id: request.id, decision: "allow-once" });
          const done = await taskWhen(id, ended, "the task to end");
          assert.match(String(done.reply), /TOOL RAN[\s\S]*runid-run/);
        },
      );

      await t.step(
        "approvals: openclaw_chat says in its progress that it waits; a deny reaches the claw",
        async () => {
          const updates: string[] = [];
          const chat = s.client.callTool(
            {
              name: "openclaw_chat",
              arguments: { message: "[[exec:echo denied-run]]", session_id: "appr-2" },
            },
            undefined,
            { onprogress: (p) => updates.push(p.message ?? ""), timeout: 120_000 },
          ) as Promise<Result>;
          const notice = await waitFor(
            () => Promise.resolve(updates.find((u) => u.startsWith("Waiting for approval"))),
            (v) => v !== undefined,
            "the approval notice",
          );
          assert.match(notice!, /to run: .*echo denied-run/);
          const listed = await call(s, "openclaw_approvals");
          const mine =
            (listed.structuredContent!.approvals as { id: string; session_key: string }[])
              .find((a) => a.session_key === "agent:main:appr-2");
          assert.ok(mine, JSON.stringify(listed.structuredContent));
          await call(s, "openclaw_approval_respond", { id: mine.id, decision: "deny" });
          const result = await chat;
          assert.match(result.content[0].text!, /TOOL DENIED/);
          assert.ok(updates.some((u) => /was answered: deny/.test(u)), updates.join(" | "));
        },
      );

      await t.step(
        "cancel: aborting mid-stream ends the call; the bridge keeps serving",
        async () => {
          const controller = new AbortController();
          let progressed = 0;
          const pending = s.client.callTool(
            { name: "openclaw_chat", arguments: { message: "long [[slow]] [[m:cancelme]]" } },
            undefined,
            { signal: controller.signal, onprogress: () => void progressed++, timeout: 60_000 },
          );
          pending.catch(() => {});
          const until = performance.now() + 30_000;
          while (progressed === 0 && performance.now() < until) {
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.ok(progressed > 0, "streaming had started");
          controller.abort();
          await assert.rejects(pending);
          const after = await call(s, "openclaw_chat", { message: "after [[m:after]]" });
          assert.match(after.content[0].text!, /ECHO after/);
        },
      );

      await t.step("http: the same through Streamable HTTP", async () => {
        const http = await startHttp({
          env: {
            OPENCLAW_INSTANCES: JSON.stringify([{
              name: "real",
              url: gateway!.url,
              token: gateway!.token,
              agent: "main",
            }]),
          },
        });
        try {
          const client = new Client({ name: "real-http", version: "0" });
          await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
          const result = await client.callTool(
            { name: "openclaw_chat", arguments: { message: "over http [[m:http]]" } },
            undefined,
            { timeout: 60_000 },
          );
          assert.match(String((result.structuredContent as { reply: string }).reply), /ECHO http/);
          await client.close();
        } finally {
          await http.stop();
        }
      });

      await t.step("loopback only: the guard saw no other network attempt", async () => {
        const blocked = await gateway!.blocked();
        const unexpected = blocked.filter((b) =>
          b.kind !== "dns" || !/(openclaw|clawhub)/i.test(b.target)
        );
        console.log(`guard log: ${blocked.length} blocked attempt(s) ${JSON.stringify(blocked)}`);
        assert.deepEqual(unexpected, []);
      });

      await t.step("gateway killed mid-run: clear errors; the task ends by the rule", async () => {
        const task = await call(s, "openclaw_chat_async", {
          message: "doomed [[slow]] [[m:doomed]]",
        });
        const id = (task.structuredContent as { task_id: string }).task_id;
        const sync = call(s, "openclaw_chat", { message: "sync [[slow]] [[m:sync-doomed]]" });
        const until = performance.now() + 30_000;
        while (performance.now() < until) {
          const st = (await call(s, "openclaw_task_status", { task_id: id })).structuredContent!;
          if (st.status === "running" && String(st.partial_reply ?? "").length > 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await gateway!.kill();
        const syncResult = await sync;
        assert.ok(
          ["gateway_disconnected", "gateway_unreachable", "gateway_error"].includes(
            code(syncResult) ?? "",
          ),
          `sync call: ${syncResult.content[0].text}`,
        );
        let final: Record<string, unknown> = {};
        for (let i = 0; i < 100; i++) {
          final = (await call(s, "openclaw_task_status", { task_id: id })).structuredContent!;
          if (final.status === "failed") break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(final.status, "failed");
        assert.match(
          String((final.error as { code: string }).code),
          /gateway_(disconnected|unreachable|error)/,
        );
      });
    } finally {
      await session?.close();
      await gateway?.stop();
      await llm.close();
    }
  },
});
