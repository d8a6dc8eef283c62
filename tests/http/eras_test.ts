/**
 * Both protocol eras on one spawned server, by raw HTTP: 2026-07-28
 * requests (no session, routing headers, `_meta` envelope) beside
 * 2025-11-25 sessions; refusals with their JSON-RPC codes; discovery and
 * cache hints; the same authentication for both; stateless mode; and
 * tasks seen alike from either era, bound to their principal.
 */
import assert from "node:assert/strict";
import { TOOLS_LIST_TTL_MS } from "../../src/server.ts";
import { TASKS_EXTENSION } from "../../src/tasks/mcp_tasks.ts";
import { sleep, TestGateway } from "../../testing/test_gateway.ts";
import { gatewayEnv, type HttpServerProcess, INITIALIZE, startHttp } from "../../testing/spawn.ts";
import {
  envelope,
  errorOf,
  type Json,
  legacyRpc,
  MODERN,
  modernCall,
  modernRpc,
  openSession,
  type Reply,
  resultOf,
  structuredOf,
} from "../helpers/modern_rpc.ts";
import { approve, authorizeUrl, pkce, register, tokenRequest } from "../helpers/oauth.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN_A = "eras-token-a-0123456789abcdef";
const TOKEN_B = "eras-token-b-0123456789abcdef";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";

async function withServer(
  fn: (server: HttpServerProcess, gateway: TestGateway) => Promise<void>,
  options: { args?: string[]; env?: Record<string, string>; chunkDelayMs?: number } = {},
): Promise<void> {
  const gateway = await TestGateway.start({ chunkDelayMs: options.chunkDelayMs });
  const server = await startHttp({
    args: ["--debug", ...(options.args ?? [])],
    env: { ...gatewayEnv(gateway.url), ...(options.env ?? {}) },
  });
  try {
    await fn(server, gateway);
  } finally {
    const status = await server.stop();
    await gateway.close();
    assert.equal(status.code, 0, `server exit: ${server.stderr().slice(-500)}`);
  }
  // Refusals are answers, not crashes: nothing was logged as an error.
  assert.doesNotMatch(server.stderr(), /"level":"error"|\n\s+at /);
}

async function sessions(base: string): Promise<number> {
  return (await (await fetch(`${base}/health`)).json()).sessions;
}

/** The coded error of a tool's error result. */
function toolErrorCode(reply: Reply): string {
  const result = resultOf(reply);
  assert.equal(result.isError, true, JSON.stringify(result));
  return ((result.structuredContent as Json).error as Json).code as string;
}

/** The coded error in a JSON-RPC error's data (task methods refuse with -32602). */
function taskRefusal(reply: Reply): string {
  const error = errorOf(reply);
  assert.equal(error.code, -32602, JSON.stringify(error));
  return (error.data?.error as Json).code as string;
}

Deno.test("eras: a 2026 tools/call needs no session; other methods answer JSON", opts, async () => {
  await withServer(async (server) => {
    const reply = await modernCall(server.url, "openclaw_chat", { message: "no session" }, {
      id: "call-7",
    });
    assert.equal(reply.status, 200);
    // A call is always a stream, so that closing it cancels the call.
    assert.match(reply.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(reply.headers.get("mcp-session-id"), null);
    assert.equal(reply.response.id, "call-7");
    const result = resultOf(reply);
    assert.equal(result.resultType, "complete");
    assert.deepEqual(result.content, [{ type: "text", text: "echo: no session" }]);
    assert.equal((result.structuredContent as Json).reply, "echo: no session");
    assert.equal(((result._meta as Json)[SERVER_INFO] as Json).name, "openclaw-mcp");
    // The Tasks extension alone does not make other tools tasks.
    const status = await modernCall(server.url, "openclaw_status", {}, { tasks: true });
    assert.equal(structuredOf(status).ok, true);
    const list = await modernRpc(server.url, "tools/list");
    assert.match(list.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(await sessions(server.url), 0, "no session was opened");
  });
});

Deno.test(
  "eras: closing a 2026 tools/call response cancels the call and its gateway request",
  opts,
  async () => {
    await withServer(async (server, gateway) => {
      gateway.fault = { kind: "hang" };
      for (const progressToken of [undefined, "p-1"]) {
        const before = gateway.chats.length;
        const abort = new AbortController();
        const answer = fetch(`${server.url}/mcp`, {
          method: "POST",
          signal: abort.signal,
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": "openclaw_chat",
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "tools/call",
            params: {
              name: "openclaw_chat",
              arguments: { message: "hold" },
              _meta: { ...envelope(), ...(progressToken ? { progressToken } : {}) },
            },
          }),
        }).catch(() => null);
        const deadline = Date.now() + 5_000;
        while (gateway.chats.length === before && Date.now() < deadline) await sleep(20);
        assert.equal(gateway.chats.length, before + 1, "the call reached the gateway");
        // The client goes away mid-call (as a 2026 client cancels).
        abort.abort();
        await (await answer)?.body?.cancel().catch(() => {});
        while (!gateway.chats.at(-1)!.aborted && Date.now() < deadline) await sleep(20);
        assert.ok(
          gateway.chats.at(-1)!.aborted,
          `progress ${progressToken}: gateway request aborted`,
        );
      }
    });
  },
);

Deno.test(
  "eras: a 2026 tools/call with a progress token streams progress, then the result",
  opts,
  async () => {
    await withServer(async (server, gateway) => {
      const words = Array.from({ length: 10 }, (_, i) => `w${i}`).join(" ");
      // With the Tasks extension too: a client that asks for progress watches the reply.
      for (const tasks of [false, true]) {
        const reply = await modernCall(server.url, "openclaw_chat", { message: words }, {
          id: 42,
          progressToken: "pt-1",
          tasks,
        });
        assert.equal(reply.status, 200);
        assert.match(reply.headers.get("content-type") ?? "", /^text\/event-stream/);
        assert.equal(reply.headers.get("mcp-session-id"), null);
        const progress = reply.messages.slice(0, -1);
        assert.ok(progress.length >= 1, "at least one progress notification");
        for (const note of progress) {
          assert.equal(note.method, "notifications/progress");
          const params = note.params as Json;
          assert.equal(params.progressToken, "pt-1");
          assert.ok(`echo: ${words}`.startsWith(params.message as string));
        }
        assert.equal(reply.response.id, 42);
        const result = resultOf(reply);
        assert.equal(result.resultType, "complete", `tasks: ${tasks}`);
        assert.equal((result.structuredContent as Json).reply, `echo: ${words}`);
      }
      assert.equal(gateway.chats.length, 2, "both ran at once, neither became a task");
    }, { chunkDelayMs: 40 });
  },
);

Deno.test("eras: refusals of 2026 requests carry their code and the request id", opts, async () => {
  await withServer(async (server) => {
    // An unsupported version with a full envelope: -32022 with what is supported.
    for (const id of ["s-1", 17]) {
      const reply = await modernRpc(server.url, "tools/list", {}, { id, version: "2099-01-01" });
      assert.equal(reply.status, 400);
      assert.equal(reply.response.id, id);
      const error = errorOf(reply);
      assert.equal(error.code, -32022);
      assert.ok((error.data?.supported as string[]).includes(MODERN));
      assert.equal(error.data?.requested, "2099-01-01");
    }
    // Mcp-Name disagreeing with params.name (tools/call) or params.taskId (tasks/get).
    const renamed = await modernCall(server.url, "openclaw_chat", { message: "x" }, {
      id: "n-1",
      headers: { "mcp-name": "openclaw_status" },
    });
    assert.equal(renamed.status, 400);
    assert.equal(renamed.response.id, "n-1");
    assert.equal(errorOf(renamed).code, -32020);
    const otherTask = await modernRpc(server.url, "tasks/get", { taskId: "t-1" }, {
      id: 5,
      headers: { "mcp-name": "t-2" },
    });
    assert.equal(otherTask.status, 400);
    assert.equal(otherTask.response.id, 5);
    assert.equal(errorOf(otherTask).code, -32020);
    // Mcp-Method missing, or disagreeing with the body's method: the same -32020.
    for (const method of [null, "tools/call"]) {
      const reply = await modernRpc(server.url, "tools/list", {}, {
        id: 6,
        headers: { "mcp-method": method },
      });
      assert.equal(reply.status, 400, `Mcp-Method ${method}`);
      assert.equal(reply.response.id, 6);
      assert.equal(errorOf(reply).code, -32020);
    }
    // The envelope without the MCP-Protocol-Version header.
    const unversioned = await modernRpc(server.url, "tools/list", {}, {
      id: 8,
      headers: { "mcp-protocol-version": null },
    });
    assert.equal(unversioned.status, 400);
    assert.equal(errorOf(unversioned).code, -32020);
    // An unknown tool is a JSON-RPC error in this era too.
    const unknown = await modernCall(server.url, "no_such_tool", {}, { id: 9 });
    assert.equal(errorOf(unknown).code, -32602);
    assert.equal(await sessions(server.url), 0);
  });
});

Deno.test(
  "eras: server/discover and tools/list carry public one-hour cache hints",
  opts,
  async () => {
    await withServer(async (server) => {
      const discover = resultOf(await modernRpc(server.url, "server/discover"));
      assert.ok((discover.supportedVersions as string[]).includes(MODERN));
      assert.deepEqual(discover.capabilities, {
        tools: { listChanged: false },
        resources: { listChanged: false },
        extensions: { [TASKS_EXTENSION]: {} },
      });
      assert.match(discover.instructions as string, /openclaw_chat_async/);
      assert.equal(discover.ttlMs, TOOLS_LIST_TTL_MS);
      assert.equal(discover.cacheScope, "public");
      assert.equal(discover.resultType, "complete");
      assert.equal(((discover._meta as Json)[SERVER_INFO] as Json).name, "openclaw-mcp");

      const list = resultOf(await modernRpc(server.url, "tools/list"));
      assert.equal(list.ttlMs, 3_600_000);
      assert.equal(list.cacheScope, "public");
      const tools = list.tools as Json[];
      assert.equal(tools.length, 12);
      // In 2026 the server decides per call which become tasks: no tool says so.
      assert.ok(tools.every((t) => t.execution === undefined));

      // A 2025 session still sees openclaw_chat as task-capable, and no cache hints.
      const session = await openSession(server.url);
      const legacy = resultOf(
        await legacyRpc(server.url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { session }),
      );
      assert.equal(legacy.ttlMs, undefined);
      const chat = (legacy.tools as Json[]).find((t) => t.name === "openclaw_chat")!;
      assert.deepEqual(chat.execution, { taskSupport: "optional" });
    });
  },
);

Deno.test("eras: a 2025 client behaves as before beside 2026 requests", opts, async () => {
  await withServer(async (server) => {
    await modernCall(server.url, "openclaw_chat", { message: "modern first" });
    const session = await openSession(server.url);
    assert.equal(await sessions(server.url), 1);
    const chat = await legacyRpc(server.url, {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "openclaw_chat", arguments: { message: "legacy" } },
    }, { session });
    assert.equal(chat.response.id, 3);
    const result = resultOf(chat);
    assert.equal((result.structuredContent as Json).reply, "echo: legacy");
    assert.equal(result.resultType, undefined, "no 2026 fields in a 2025 answer");

    const sessionless = await legacyRpc(server.url, {
      jsonrpc: "2.0",
      id: 4,
      method: "tools/list",
    });
    assert.equal(sessionless.status, 400);
    assert.match(errorOf(sessionless).message, /no Mcp-Session-Id/);
    const unknown = await legacyRpc(server.url, { jsonrpc: "2.0", id: 5, method: "tools/list" }, {
      session: "no-such-session",
    });
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown).code, -32001);
    assert.equal(await sessions(server.url), 1, "only the initialize opened a session");

    // 2026-07-28 has no standalone stream and no session to end.
    for (const method of ["GET", "DELETE"]) {
      const response = await fetch(`${server.url}/mcp`, {
        method,
        headers: { accept: "text/event-stream", "mcp-protocol-version": "2026-07-28" },
      });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get("allow"), "POST");
      assert.equal((await response.json()).error.code, -32000);
    }
  });
});

/** The status and challenge of a 2026 and a 2025 request sent with `token`. */
async function challenges(base: string, token?: string) {
  const modern = await modernRpc(base, "tools/list", {}, { token });
  const legacy = await legacyRpc(base, INITIALIZE, { token });
  return {
    modern: { status: modern.status, challenge: modern.headers.get("www-authenticate") },
    legacy: { status: legacy.status, challenge: legacy.headers.get("www-authenticate") },
  };
}

Deno.test("eras: static bearer tokens guard 2026 requests as they do 2025 ones", opts, async () => {
  await withServer(async (server) => {
    for (const token of [undefined, "not-one-of-the-tokens-at-all"]) {
      const { modern, legacy } = await challenges(server.url, token);
      assert.equal(modern.status, 401, `token ${token}`);
      assert.deepEqual(modern, legacy, `token ${token}`);
      assert.match(modern.challenge ?? "", /^Bearer realm="openclaw-mcp"/);
    }
    const ok = await modernCall(server.url, "openclaw_chat", { message: "authed" }, {
      token: TOKEN_B,
    });
    assert.equal(structuredOf(ok).reply, "echo: authed");
  }, { env: { MCP_AUTH_TOKENS: `${TOKEN_A},${TOKEN_B}` } });
});

Deno.test(
  "eras: OAuth access tokens work for 2026 requests; the 401 is the same",
  opts,
  async () => {
    const password = "correct horse battery staple";
    await withServer(async (server) => {
      const base = server.url;
      const callback = "http://127.0.0.1:9/callback";
      const client = await register(base, {
        redirect_uris: [callback],
        token_endpoint_auth_method: "client_secret_post",
      });
      assert.equal(client.status, 201);
      const { verifier, challenge } = await pkce();
      const back = await approve(
        base,
        authorizeUrl(base, {
          response_type: "code",
          client_id: client.body.client_id,
          redirect_uri: callback,
          code_challenge: challenge,
          code_challenge_method: "S256",
          resource: `${base}/mcp`,
        }),
        password,
      );
      assert.ok(back.code, `approved: ${back.error}`);
      const tokens = await tokenRequest(base, {
        grant_type: "authorization_code",
        code: back.code,
        redirect_uri: callback,
        code_verifier: verifier,
        client_id: client.body.client_id,
        client_secret: client.body.client_secret,
      });
      assert.equal(tokens.status, 200);

      const ok = await modernCall(base, "openclaw_chat", { message: "via oauth" }, {
        token: tokens.body.access_token,
      });
      assert.equal(structuredOf(ok).reply, "echo: via oauth");
      for (const token of [undefined, "not-an-access-token"]) {
        const { modern, legacy } = await challenges(base, token);
        assert.equal(modern.status, 401, `token ${token}`);
        assert.deepEqual(modern, legacy, `token ${token}`);
        assert.ok(
          modern.challenge?.includes(
            `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
          ),
          modern.challenge ?? "no challenge",
        );
      }
    }, {
      env: { AUTH_ENABLED: "true", MCP_OWNER_PASSWORD: password, MCP_ALLOW_DCR: "true" },
    });
  },
);

Deno.test("eras: stateless mode serves 2026 calls and 2025 calls alike", opts, async () => {
  await withServer(async (server) => {
    const modern = await modernCall(server.url, "openclaw_chat", { message: "m" }, { id: "m" });
    assert.equal(modern.response.id, "m");
    assert.equal(resultOf(modern).resultType, "complete");
    assert.equal(structuredOf(modern).reply, "echo: m");
    const legacy = await legacyRpc(server.url, {
      jsonrpc: "2.0",
      id: "l",
      method: "tools/call",
      params: { name: "openclaw_chat", arguments: { message: "l" } },
    });
    assert.equal(legacy.response.id, "l");
    assert.equal(legacy.headers.get("mcp-session-id"), null);
    assert.equal(structuredOf(legacy).reply, "echo: l");
  }, { args: ["--stateless"] });
});

Deno.test(
  "eras: a task is its principal's in both eras, read and cancelled from either",
  opts,
  async () => {
    await withServer(async (server, gateway) => {
      const base = server.url;
      const a = { token: TOKEN_A };
      const b = { token: TOKEN_B };
      gateway.fault = { kind: "hang" };

      // A asks for a task through the 2026 Tasks extension (no progress token).
      const created = resultOf(
        await modernCall(base, "openclaw_chat", { message: "hold on" }, { ...a, tasks: true }),
      );
      assert.equal(created.resultType, "task");
      assert.equal(created.status, "working");
      const taskId = created.taskId as string;
      assert.ok(taskId);
      for (const field of ["createdAt", "lastUpdatedAt"]) {
        assert.ok(!Number.isNaN(Date.parse(created[field] as string)), field);
      }
      assert.equal(typeof created.ttlMs, "number");
      assert.equal(typeof created.pollIntervalMs, "number");
      await gateway.waitFor(() => gateway.chats.length === 1);

      // A reads it: 2026 tasks/get, the status tool in both eras, 2025 tasks/get.
      const got = resultOf(await modernRpc(base, "tasks/get", { taskId }, a));
      assert.equal(got.taskId, taskId);
      assert.equal(got.status, "working");
      assert.equal(got.result, undefined);
      const status = structuredOf(
        await modernCall(base, "openclaw_task_status", { task_id: taskId }, a),
      );
      assert.equal(status.status, "running");
      const sessionA = await openSession(base, TOKEN_A);
      const legacyGet = resultOf(
        await legacyRpc(base, {
          jsonrpc: "2.0",
          id: 1,
          method: "tasks/get",
          params: { taskId },
        }, { session: sessionA, ...a }),
      );
      assert.equal(legacyGet.taskId, taskId);
      assert.equal(legacyGet.status, "working");
      const legacyStatus = structuredOf(
        await legacyRpc(base, {
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "openclaw_task_status", arguments: { task_id: taskId } },
        }, { session: sessionA, ...a }),
      );
      assert.equal(legacyStatus.status, "running");
      // tasks/update: nothing to apply, acknowledged for the owner.
      const updated = resultOf(
        await modernRpc(base, "tasks/update", { taskId, inputResponses: {} }, a),
      );
      assert.deepEqual({ ...updated, _meta: undefined }, {
        resultType: "complete",
        _meta: undefined,
      });

      // B does not see it, in either era, by any path.
      for (const method of ["tasks/get", "tasks/cancel"]) {
        assert.equal(taskRefusal(await modernRpc(base, method, { taskId }, b)), "task_not_found");
      }
      assert.equal(
        taskRefusal(await modernRpc(base, "tasks/update", { taskId, inputResponses: {} }, b)),
        "task_not_found",
      );
      assert.equal(
        toolErrorCode(await modernCall(base, "openclaw_task_status", { task_id: taskId }, b)),
        "task_not_found",
      );
      const sessionB = await openSession(base, TOKEN_B);
      for (const method of ["tasks/get", "tasks/cancel"]) {
        const reply = await legacyRpc(base, {
          jsonrpc: "2.0",
          id: 3,
          method,
          params: { taskId },
        }, { session: sessionB, ...b });
        assert.equal(taskRefusal(reply), "task_not_found", method);
      }
      const legacyB = await legacyRpc(base, {
        jsonrpc: "2.0",
        id: 4,
        method: "tools/call",
        params: { name: "openclaw_task_cancel", arguments: { task_id: taskId } },
      }, { session: sessionB, ...b });
      assert.equal(toolErrorCode(legacyB), "task_not_found");
      assert.equal(gateway.chats[0].aborted, false, "B's attempts left the task running");

      // A cancels with 2026 tasks/cancel: an empty acknowledgement; the run is stopped.
      const cancelled = resultOf(await modernRpc(base, "tasks/cancel", { taskId }, a));
      assert.deepEqual(Object.keys(cancelled).sort(), ["_meta", "resultType"]);
      await gateway.waitFor(() => gateway.chats[0].aborted, 2_000);
      const after = resultOf(await modernRpc(base, "tasks/get", { taskId }, a));
      assert.equal(after.status, "cancelled");
      assert.equal(after.result, undefined);
      const legacyAfter = resultOf(
        await legacyRpc(base, {
          jsonrpc: "2.0",
          id: 5,
          method: "tasks/get",
          params: { taskId },
        }, { session: sessionA, ...a }),
      );
      assert.equal(legacyAfter.status, "cancelled");
      assert.equal(
        structuredOf(await modernCall(base, "openclaw_task_status", { task_id: taskId }, a)).status,
        "cancelled",
      );
      // Cancelling again is acknowledged too (the outcome stays cancelled).
      resultOf(await modernRpc(base, "tasks/cancel", { taskId }, a));

      // A 2025 native task (params.task) is readable with 2026 tasks/get, result inline.
      gateway.fault = { kind: "none" };
      const native = resultOf(
        await legacyRpc(base, {
          jsonrpc: "2.0",
          id: 6,
          method: "tools/call",
          params: {
            name: "openclaw_chat",
            arguments: { message: "native" },
            task: { ttl: 60_000 },
          },
        }, { session: sessionA, ...a }),
      );
      const nativeId = (native.task as Json).taskId as string;
      assert.ok(nativeId);
      let done: Json = {};
      const deadline = performance.now() + 5_000;
      while (done.status !== "completed") {
        assert.ok(performance.now() < deadline, `still ${done.status}`);
        await new Promise((r) => setTimeout(r, 50));
        done = resultOf(await modernRpc(base, "tasks/get", { taskId: nativeId }, a));
      }
      const inline = done.result as Json;
      assert.deepEqual(inline.content, [{ type: "text", text: "echo: native" }]);
      assert.equal((inline.structuredContent as Json).reply, "echo: native");
      assert.equal(
        taskRefusal(await modernRpc(base, "tasks/get", { taskId: nativeId }, b)),
        "task_not_found",
      );
    }, { env: { MCP_AUTH_TOKENS: `${TOKEN_A},${TOKEN_B}` } });
  },
);
