/**
 * Closing stdin hands running tasks back: the real `main.ts` over stdio on a
 * KV file, a chat task running against a hanging loopback gateway, stdin
 * closed as an MCP client does when it quits, and a second process on the
 * same KV that must pick the task up at once without counting an attempt.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { baseEnv, DENO_RUN, gatewayEnv, INITIALIZE } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A `main.ts` process spoken to line by line, as an MCP client would. */
class StdioProcess {
  readonly child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #replies = new Map<number, Record<string, unknown>>();
  #waiters: (() => void)[] = [];
  #stderr = "";
  #nextId = 1;
  readonly output: Promise<void>;

  constructor(env: Record<string, string>) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: DENO_RUN,
      env: { ...baseEnv(), ...env },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.output = Promise.all([this.#readStdout(), this.#readStderr()]).then(() => {});
  }

  async #readStdout(): Promise<void> {
    let buffer = "";
    for await (const text of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) !== -1) {
        const message = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (typeof message.id === "number") this.#replies.set(message.id, message);
        for (const wake of this.#waiters.splice(0)) wake();
      }
    }
  }

  async #readStderr(): Promise<void> {
    for await (const text of this.child.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderr += text;
    }
  }

  get stderr(): string {
    return this.#stderr;
  }

  async #send(message: Record<string, unknown>): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
  }

  /** Sends a request without waiting for its reply; returns its id. */
  async post(method: string, params: Record<string, unknown>): Promise<number> {
    const id = this.#nextId++;
    await this.#send({ jsonrpc: "2.0", id, method, params });
    return id;
  }

  /** Sends a request and returns its reply. */
  async request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return await this.reply(await this.post(method, params), method);
  }

  /** Waits for the reply to request `id`. */
  async reply(id: number, method = `request ${id}`): Promise<Record<string, unknown>> {
    const deadline = performance.now() + 15_000;
    while (!this.#replies.has(id)) {
      if (performance.now() > deadline) throw new Error(`no reply to ${method}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.#replies.get(id)!;
  }

  /** The MCP handshake. */
  async initialize(): Promise<void> {
    this.#nextId = INITIALIZE.id + 1;
    await this.#send(INITIALIZE);
    const deadline = performance.now() + 15_000;
    while (!this.#replies.has(INITIALIZE.id)) {
      if (performance.now() > deadline) throw new Error(`no initialize reply\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.#send({ jsonrpc: "2.0", method: "notifications/initialized" });
  }

  /** Calls a tool and returns its structured content (asserting success). */
  async tool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = await this.request("tools/call", { name, arguments: args });
    const result = reply.result as {
      isError?: boolean;
      structuredContent: Record<string, unknown>;
      content: { text: string }[];
    };
    assert.ok(result && !result.isError, `${name}: ${JSON.stringify(reply)}`);
    return result.structuredContent;
  }

  /** Closes stdin, as a client does when it quits. */
  async eof(): Promise<void> {
    await this.#writer.close();
  }

  /** Closes stdin and waits for the process to exit. */
  async closeStdin(): Promise<Deno.CommandStatus> {
    await this.eof();
    const status = await this.child.status;
    await this.output;
    return status;
  }

  /** Ends the process if a failed test left it running. */
  async dispose(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.output.catch(() => {});
  }
}

/** A temp KV file, a hanging gateway and the env both processes share. */
async function setup(): Promise<{
  gateway: TestGateway;
  env: Record<string, string>;
  processes: StdioProcess[];
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const dir = await Deno.makeTempDir({ prefix: "openclaw-stdio-release-" });
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "hang" };
  const processes: StdioProcess[] = [];
  return {
    gateway,
    env: { ...gatewayEnv(gateway.url), OPENCLAW_KV_PATH: `${dir}/tasks.kv` },
    processes,
    async [Symbol.asyncDispose]() {
      for (const process of processes) await process.dispose();
      await gateway.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Starts a second process on the same KV and checks that it claims the task
 * within a second of being ready, as attempt 1 again (not 2), reading it
 * through openclaw_task_status; then cancels it and lets the process exit.
 */
async function assertReclaimedAtOnce(
  context: { gateway: TestGateway; env: Record<string, string>; processes: StdioProcess[] },
  taskId: string,
  chatsBefore: number,
): Promise<void> {
  const { gateway, env, processes } = context;
  const second = new StdioProcess(env);
  processes.push(second);
  await second.initialize();
  const readyAt = performance.now();
  await gateway.waitFor(() => gateway.chats.length > chatsBefore, 1_000).catch(() => {
    throw new Error(
      `not claimed within 1 s of the next process being ready (still leased?)\n${
        processes.map((p, i) => `--- process ${i + 1} ---\n${p.stderr}`).join("\n")
      }`,
    );
  });
  const claimSeconds = (performance.now() - readyAt) / 1000;
  assert.ok(claimSeconds <= 1, `claimed ${claimSeconds.toFixed(2)} s after ready`);
  const status = await second.tool("openclaw_task_status", { task_id: taskId });
  assert.equal(status.status, "running");
  assert.equal(status.attempt, 1, "the released attempt is not counted");
  await second.tool("openclaw_task_cancel", { task_id: taskId });
  const closed = await second.closeStdin();
  assert.equal(closed.code, 0, second.stderr);
}

Deno.test(
  "stdio: a task running when stdin closes goes back to the queue, its attempt not counted",
  opts,
  async () => {
    await using context = await setup();
    const { gateway, env, processes } = context;
    const first = new StdioProcess(env);
    processes.push(first);
    await first.initialize();
    const submitted = await first.tool("openclaw_chat_async", { message: "hold on" });
    const taskId = submitted.task_id as string;
    await gateway.waitFor(() => gateway.chats.length === 1, 10_000);
    const running = await first.tool("openclaw_task_status", { task_id: taskId });
    assert.equal(running.status, "running");
    assert.equal(running.attempt, 1);

    const status = await first.closeStdin();
    assert.equal(status.code, 0, first.stderr);
    assert.match(first.stderr, /"event":"task_released"/, first.stderr);
    await gateway.waitFor(() => gateway.chats[0].aborted, 2_000);
    await assertReclaimedAtOnce(context, taskId, 1);
  },
);

Deno.test(
  "stdio: EOF releases running tasks at once, before replies are drained: a client that kills the server soon after loses nothing",
  opts,
  async () => {
    await using context = await setup();
    const { gateway, env, processes } = context;
    const first = new StdioProcess(env);
    processes.push(first);
    await first.initialize();
    // A client awaiting an MCP-native task: a task-augmented openclaw_chat,
    // then tasks/result, which is answered only when the task ends. That
    // reply is owed when stdin closes, so the server spends its drain time
    // (up to 2 s) before it exits.
    const created = await first.request("tools/call", {
      name: "openclaw_chat",
      arguments: { message: "awaited natively" },
      task: { ttl: 60_000 },
    });
    const taskId = (created.result as { task: { taskId: string } }).task.taskId;
    await gateway.waitFor(() => gateway.chats.length === 1, 10_000);
    await first.post("tasks/result", { taskId });

    const eofAt = performance.now();
    await first.eof();
    // The gateway request ends as soon as the task is handed back.
    await gateway.waitFor(() => gateway.chats[0].aborted, 1_000).catch(() => {
      throw new Error(`the running task was not released within 1 s of EOF\n${first.stderr}`);
    });
    const releasedMs = gateway.chats[0].endedAt! - eofAt;
    assert.ok(releasedMs < 1_000, `released ${releasedMs.toFixed(0)} ms after EOF`);
    // A client whose grace period is shorter than our drain kills us now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await first.dispose();
    await assertReclaimedAtOnce(context, taskId, 1);
  },
);

Deno.test(
  "stdio: a process that only answers a server/discover probe never claims queued tasks",
  opts,
  async () => {
    await using context = await setup();
    const { gateway, env, processes } = context;
    // A task queued by another process on the same KV, which then goes away
    // (stdin closed: it hands the running task back to the queue).
    const first = new StdioProcess(env);
    processes.push(first);
    await first.initialize();
    const { task_id: taskId } = await first.tool("openclaw_chat_async", { message: "queued" });
    await gateway.waitFor(() => gateway.chats.length === 1, 5_000);
    assert.equal((await first.closeStdin()).code, 0, first.stderr);

    // What a 2026-07-28 client's probe copy of the server sees: one discover, then EOF.
    const probe = new StdioProcess(env);
    processes.push(probe);
    const discovered = await probe.request("server/discover", {
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { name: "probe", version: "0" },
        "io.modelcontextprotocol/clientCapabilities": {},
      },
    });
    assert.ok((discovered.result as { supportedVersions: string[] }).supportedVersions.length);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal((await probe.closeStdin()).code, 0, probe.stderr);
    assert.equal(gateway.chats.length, 1, "the probe sent nothing to the gateway");

    // The real connection's first request starts the runner, which claims the task.
    await assertReclaimedAtOnce(context, String(taskId), 1);
  },
);
