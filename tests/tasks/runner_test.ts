import assert from "node:assert/strict";
import type { Instance } from "../../src/config.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { SessionKeys } from "../../src/gateway/session_key.ts";
import { silentLogger } from "../../src/log.ts";
import { TaskRunner } from "../../src/tasks/runner.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { waitForTerminal } from "../helpers/wait_for_terminal.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function instances(url: string, extra: Partial<Instance>[] = [{}]): Instance[] {
  return extra.map((e, i) => ({
    name: i === 0 ? "default" : `i${i}`,
    url,
    token: "test-token",
    timeoutMs: 30_000,
    isDefault: i === 0,
    model: "openclaw",
    ...e,
  }));
}

async function setup(
  runnerOptions: {
    concurrency?: number;
    instanceConcurrency?: Record<string, number>;
    sessionKeys?: SessionKeys;
  } = {},
  instanceExtra?: Partial<Instance>[],
) {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/tasks.kv`);
  const gateway = await TestGateway.start();
  const store = new TaskStore(kv, { pendingTtlMs: 60_000 });
  const gateways = new GatewayRegistry(instances(gateway.url, instanceExtra));
  const runner = new TaskRunner({
    store,
    gateways,
    log: silentLogger,
    leaseMs: 3_000,
    watchMs: 50,
    idlePollMs: 200,
    ...runnerOptions,
  });
  return {
    store,
    gateway,
    runner,
    async [Symbol.asyncDispose]() {
      await runner.stop();
      await gateway.close();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("runner: runs tasks in priority order, then age", opts, async () => {
  await using s = await setup({ concurrency: 1 });
  const plan: [string, number][] = [["a", 0], ["b", -10], ["c", 10], ["d", 0], ["e", 100]];
  const ids = [];
  for (const [message, priority] of plan) {
    ids.push((await s.store.submit("o", { message, instance: "default", priority })).id);
    await new Promise((r) => setTimeout(r, 2));
  }
  s.runner.start();
  for (const id of ids) await waitForTerminal(s.store, id);
  const order = s.gateway.chats.map((c) => (c.body?.messages as { content: string }[])[0].content);
  assert.deepEqual(order, ["e", "c", "a", "d", "b"]);
  for (const id of ids) assert.equal((await s.store.get("o", id)).status, "completed");
});

Deno.test(
  "runner: makespan of K tasks x D ms at concurrency C is near ceil(K/C) x D",
  opts,
  async () => {
    const K = 8, D = 300, C = 4;
    await using s = await setup({ concurrency: C });
    s.gateway.fault = { kind: "delay", ms: D };
    const ids = [];
    for (let i = 0; i < K; i++) {
      ids.push((await s.store.submit("o", { message: `m${i}`, instance: "default" })).id);
    }
    const started = performance.now();
    s.runner.start();
    for (const id of ids) await waitForTerminal(s.store, id, { intervalMs: 10 });
    const makespan = performance.now() - started;
    const ideal = Math.ceil(K / C) * D;
    assert.ok(makespan >= ideal * 0.95, `makespan ${makespan} below ideal ${ideal}?`);
    assert.ok(makespan < 2 * ideal, `makespan ${Math.round(makespan)} ms >= 2 x ideal ${ideal} ms`);
  },
);

Deno.test("runner: the per-instance limit holds while other instances run", opts, async () => {
  await using s = await setup({ concurrency: 4, instanceConcurrency: { default: 1 } }, [{}, {}]);
  s.gateway.fault = { kind: "delay", ms: 150 };
  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push((await s.store.submit("o", { message: `d${i}`, instance: "default" })).id);
    ids.push((await s.store.submit("o", { message: `x${i}`, instance: "i1" })).id);
  }
  s.runner.start();
  let maxDefault = 0, maxOther = 0;
  // One sample at a time, awaited before cleanup closes the KV.
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const running = (await s.store.list("o", { status: "running" })).tasks;
      maxDefault = Math.max(maxDefault, running.filter((t) => t.instance === "default").length);
      maxOther = Math.max(maxOther, running.filter((t) => t.instance === "i1").length);
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  for (const id of ids) await waitForTerminal(s.store, id, { intervalMs: 10 });
  sampling = false;
  await sampler;
  assert.equal(maxDefault, 1, "instance default never ran two at once");
  assert.ok(maxOther >= 2, `instance i1 ran in parallel (max ${maxOther})`);
});

Deno.test(
  "runner: cancelling a running task aborts its gateway request within a second",
  opts,
  async () => {
    await using s = await setup();
    s.gateway.fault = { kind: "hang" };
    const task = await s.store.submit("o", { message: "long job", instance: "default" });
    s.runner.start();
    s.runner.wake();
    await s.gateway.waitFor(() => s.gateway.chats.length === 1);
    const cancelled = performance.now();
    await s.store.cancel("o", task.id);
    await s.gateway.waitFor(() => s.gateway.chats[0].aborted, 1_500);
    const took = performance.now() - cancelled;
    assert.ok(took < 1_000, `aborted after ${Math.round(took)} ms`);
    assert.equal((await s.store.get("o", task.id)).status, "cancelled");
  },
);

Deno.test("runner: the partial reply is stored while the gateway streams", opts, async () => {
  await using s = await setup();
  s.gateway.chunkDelayMs = 120;
  const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(" ");
  const task = await s.store.submit("o", { message: words, instance: "default" });
  s.runner.start();
  let partial = "";
  for (let i = 0; i < 100 && !partial; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const current = await s.store.get("o", task.id);
    if (current.status === "running") partial = await s.store.partial(current);
  }
  assert.ok(partial.length > 0, "saw a partial reply");
  assert.ok(`echo: ${words}`.startsWith(partial) && partial.length < `echo: ${words}`.length);
  await waitForTerminal(s.store, task.id);
  const done = await s.store.get("o", task.id);
  assert.equal(await s.store.reply(done), `echo: ${words}`);
});

Deno.test(
  "runner: a gateway failure fails the task with its code; stop releases running tasks",
  opts,
  async () => {
    await using s = await setup();
    s.gateway.fault = { kind: "status", status: 401 };
    const failed = await s.store.submit("o", { message: "x", instance: "default" });
    s.runner.start();
    await waitForTerminal(s.store, failed.id);
    const result = await s.store.get("o", failed.id);
    assert.equal(result.status, "failed");
    assert.equal(result.error?.code, "gateway_unauthorized");
    assert.doesNotMatch(JSON.stringify(result), /test-token/);

    s.gateway.fault = { kind: "hang" };
    const held = await s.store.submit("o", { message: "y", instance: "default" });
    s.runner.wake();
    await s.gateway.waitFor(() => s.gateway.chats.length === 2);
    await s.runner.stop();
    const released = await s.store.get("o", held.id);
    assert.equal(released.status, "pending");
    assert.equal(released.attempt, 0, "a graceful stop does not count as an attempt");
    await s.gateway.waitFor(() => s.gateway.chats[1].aborted);
  },
);

Deno.test(
  "runner: a principal's one task runs within the first 2 of 51, whatever the priorities",
  opts,
  async () => {
    await using s = await setup({ concurrency: 1 });
    for (let i = 0; i < 50; i++) {
      await s.store.submit("a", { message: `a${i}`, instance: "default", priority: 100 });
    }
    const lone = await s.store.submit("b", {
      message: "b-lone",
      instance: "default",
      priority: -100,
    });
    assert.equal(await s.store.position(lone), 0, "no other principal's task counts");
    s.runner.start();
    await waitForTerminal(s.store, lone.id);
    const order = s.gateway.chats.map((c) =>
      (c.body?.messages as { content: string }[])[0].content
    );
    assert.ok(order.slice(0, 2).includes("b-lone"), `b ran at ${order.indexOf("b-lone")}`);
  },
);

Deno.test("runner: the session key sent is namespaced per principal when asked", opts, async () => {
  await using s = await setup({ sessionKeys: new SessionKeys({ namespaced: true }) });
  const a = await s.store.submit("token:aaaa", {
    message: "1",
    instance: "default",
    sessionId: "s",
  });
  const b = await s.store.submit("token:bbbb", {
    message: "2",
    instance: "default",
    sessionId: "s",
  });
  s.runner.start();
  await waitForTerminal(s.store, a.id);
  await waitForTerminal(s.store, b.id);
  const keys = s.gateway.chats.map((c) => c.headers["x-openclaw-session-key"]);
  assert.equal(keys.length, 2);
  for (const key of keys) assert.match(key, /^mcp-[0-9a-f]{16}:s$/);
  assert.notEqual(keys[0], keys[1], "two principals, two gateway conversations");
  assert.ok(!keys.some((k) => k.includes("token:")), "the principal itself is never sent");
  assert.equal(
    (await s.store.get("token:aaaa", a.id)).sessionId,
    "s",
    "the record keeps the caller's key",
  );
});

Deno.test(
  "runner: a task queued with a key refused since (e.g. 'main') fails without reaching the gateway",
  opts,
  async () => {
    await using s = await setup({ sessionKeys: new SessionKeys() });
    // Queued before the rule existed (or by an older version): the store takes any key.
    const task = await s.store.submit("local", {
      message: "1",
      instance: "default",
      sessionId: "Main",
    });
    s.runner.start();
    await waitForTerminal(s.store, task.id);
    const done = await s.store.get("local", task.id);
    assert.equal(done.status, "failed");
    assert.equal(done.error?.code, "invalid_argument");
    assert.equal(s.gateway.chats.length, 0, "agent:main:main was never reached");
  },
);

Deno.test("runner: a pending task past its deadline fails as task_expired", opts, async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/tasks.kv`);
  const clock = { now: 1_000_000 };
  const store = new TaskStore(kv, { now: () => clock.now, pendingTtlMs: 1_000 });
  const gateway = await TestGateway.start();
  const runner = new TaskRunner({
    store,
    gateways: new GatewayRegistry(instances(gateway.url)),
    log: silentLogger,
    idlePollMs: 50,
  });
  try {
    const task = await store.submit("o", { message: "too late", instance: "default" });
    clock.now += 1_000;
    runner.start();
    await waitForTerminal(store, task.id, { intervalMs: 20 });
    const done = await store.get("o", task.id);
    assert.equal(done.status, "failed");
    assert.equal(done.error?.code, "task_expired");
    assert.equal(gateway.chats.length, 0, "never sent to the gateway");
  } finally {
    await runner.stop();
    await gateway.close();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runner: leases are renewed on the clock passed in, not wall time", opts, async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/tasks.kv`);
  const clock = { now: 1_000_000 };
  const now = () => clock.now;
  const store = new TaskStore(kv, { now });
  const gateway = await TestGateway.start();
  gateway.fault = { kind: "delay", ms: 60_000 };
  const runner = new TaskRunner({
    store,
    gateways: new GatewayRegistry(instances(gateway.url)),
    log: silentLogger,
    leaseMs: 30_000,
    watchMs: 20,
    now,
  });
  const leaseOf = async (id: string) => (await store.get("o", id)).leaseUntil;
  try {
    const task = await store.submit("o", { message: "slow", instance: "default" });
    runner.start();
    await gateway.waitFor(() => gateway.chats.length === 1);
    assert.equal(await leaseOf(task.id), 1_030_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await leaseOf(task.id), 1_030_000, "a third of the lease has not passed");
    clock.now += 10_000;
    for (let i = 0; i < 250 && (await leaseOf(task.id)) !== 1_040_000; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await leaseOf(task.id), 1_040_000, "renewed once the clock moved a third");
    assert.equal((await store.get("o", task.id)).status, "running");
  } finally {
    await runner.stop();
    await gateway.close();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "runner: the per-instance and global limits hold across runners on one KV",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const gateway = await TestGateway.start();
    gateway.fault = { kind: "delay", ms: 100 };
    const kvs: Deno.Kv[] = [];
    const runners: TaskRunner[] = [];
    const gateways = new GatewayRegistry(instances(gateway.url, [{}, {}]));
    try {
      for (let i = 0; i < 3; i++) {
        const kv = await Deno.openKv(`${dir}/tasks.kv`);
        kvs.push(kv);
        runners.push(
          new TaskRunner({
            store: new TaskStore(kv),
            gateways,
            log: silentLogger,
            concurrency: 4,
            instanceConcurrency: { default: 1 },
            globalConcurrency: 3,
            watchMs: 20,
            idlePollMs: 50,
          }),
        );
      }
      const store = new TaskStore(kvs[0]);
      const ids = [];
      for (let i = 0; i < 6; i++) {
        ids.push((await store.submit("o", { message: `d${i}`, instance: "default" })).id);
        ids.push((await store.submit("o", { message: `x${i}`, instance: "i1" })).id);
      }
      for (const runner of runners) runner.start();
      for (const id of ids) await waitForTerminal(store, id, { intervalMs: 10 });
      const overlap = (prefix: string) => {
        const chats = gateway.chats.filter((c) =>
          (c.body?.messages as { content: string }[])[0].content.startsWith(prefix)
        );
        let most = 0;
        for (const c of chats) {
          most = Math.max(
            most,
            chats.filter((o) => o.at <= c.at && (o.endedAt ?? Infinity) > c.at).length,
          );
        }
        return most;
      };
      assert.equal(overlap("d"), 1, "instance default: one at a time over three runners");
      assert.ok(overlap("") <= 3, `at most 3 at once in all (saw ${overlap("")})`);
      assert.equal(gateway.chats.length, 12, "each task ran once");
      const slots = await kvs[0].getMany<Deno.KvU64[]>([["slots", "default"], ["slots_total"]]);
      assert.deepEqual(slots.map((e) => e.value?.value), [0n, 0n], "every slot came back");
    } finally {
      await Promise.all(runners.map((r) => r.stop()));
      await gateway.close();
      for (const kv of kvs) kv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
