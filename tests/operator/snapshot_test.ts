/**
 * `snapshotSource`: instances from the shared probe cache (never a probe of
 * its own, never held up by a slow one), every owner's newest tasks with
 * short previews, secrets kept out, one snapshot per second.
 */
import assert from "node:assert/strict";
import type { Approval } from "../../src/gateway/approvals.ts";
import type { HealthReport } from "../../src/gateway/health.ts";
import { BridgeError } from "../../src/errors.ts";
import type { ApprovalsPort } from "../../src/operator/approval_reads.ts";
import { ProbeCache } from "../../src/gateway/probe_cache.ts";
import {
  MESSAGE_PREVIEW_CHARS,
  ownerLabel,
  PROBE_WAIT_MS,
  REPLY_PREVIEW_CHARS,
  scrubber,
  SNAPSHOT_TTL_MS,
  snapshotSource,
} from "../../src/operator/snapshot.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { VERSION } from "../../src/version.ts";

const GATEWAY_TOKEN = "gateway-token-secret";

function report(status: HealthReport["status"], latencyMs: number): HealthReport {
  return { status, latencyMs, httpStatus: null, message: `said ${status}`, agents: ["main"] };
}

const OFF = { state: "off", pending: [], total: 0, error: null, checkedAt: null };

async function fixture(
  options: { probe?: () => Promise<HealthReport>; approvals?: ApprovalsPort } = {},
) {
  const kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000_000 };
  let n = 0;
  const store = new TaskStore(kv, {
    now: () => clock.t,
    newId: () => `task-${++n}`,
    pendingTtlMs: 3_600_000,
  });
  let probes = 0;
  const gateways = [
    {
      instance: {
        name: "up",
        url: "http://10.0.0.1:18789",
        isDefault: true,
        token: GATEWAY_TOKEN,
        approvals: options.approvals,
      },
      health: () => {
        probes++;
        return options.probe?.() ?? Promise.resolve(report("ok", 12));
      },
    },
    {
      instance: { name: "down", url: "http://10.0.0.2:18789", isDefault: false },
      health: () => Promise.resolve(report("unreachable", 3)),
    },
  ];
  const cache = new ProbeCache({ list: () => gateways }, { now: () => clock.t });
  const source = snapshotSource({
    instances: () => gateways.map((g) => g.instance),
    probes: cache,
    store,
    sessions: () => ({ open: 3, max: 1000 }),
    auth: "oauth",
    secrets: ["owner-password-123", undefined],
    startedAt: 900_000,
    now: () => clock.t,
  });
  return {
    kv,
    clock,
    store,
    source,
    probes: () => probes,
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}

Deno.test("snapshot: instances with health, latency and agents; tasks of every owner with previews", async () => {
  await using f = await fixture();
  const long = "m".repeat(MESSAGE_PREVIEW_CHARS + 50);
  const a = await f.store.submit("token:0123456789abcdef", {
    message: "first <b>bold</b>",
    instance: "up",
  });
  const claim = (await f.store.claim("r", 60_000))!;
  assert.equal(claim.task.id, a.id);
  f.clock.t += 10;
  await f.store.submit("oauth:claude:family-1", { message: long, instance: "up", agent: "main" });
  await f.store.savePartial(claim.task, "x".repeat(REPLY_PREVIEW_CHARS + 100) + "tail");
  f.clock.t += 10;

  const snapshot = await f.source.take();
  assert.equal(snapshot.version, VERSION);
  assert.equal(snapshot.now - snapshot.startedAt, 100_020);
  assert.deepEqual(snapshot.sessions, { open: 3, max: 1000, stateless: false });
  assert.deepEqual(snapshot.instances, [
    {
      name: "up",
      url: "http://10.0.0.1:18789",
      isDefault: true,
      status: "ok",
      latencyMs: 12,
      message: "said ok",
      agents: ["main"],
      checkedAt: f.clock.t,
      approvals: OFF,
    },
    {
      name: "down",
      url: "http://10.0.0.2:18789",
      isDefault: false,
      status: "unreachable",
      latencyMs: 3,
      message: "said unreachable",
      agents: ["main"],
      checkedAt: f.clock.t,
      approvals: OFF,
    },
  ]);
  const [queued, running] = snapshot.tasks.active;
  assert.equal(queued.status, "pending");
  assert.equal(queued.owner, "oauth:claude", "the login's family id is left out");
  assert.equal(queued.agent, "main");
  assert.equal(queued.message.length, MESSAGE_PREVIEW_CHARS);
  assert.ok(queued.message.endsWith("\u2026"), "a cut message says so");
  assert.equal(running.status, "running");
  assert.equal(running.owner, "token:0123456789abcdef");
  assert.equal(running.message, "first <b>bold</b>", "text as is; the page escapes it");
  assert.equal(running.reply.length, REPLY_PREVIEW_CHARS);
  assert.ok(running.reply.endsWith("tail"), "the end of the reply so far");
  assert.equal(running.replyChars, REPLY_PREVIEW_CHARS + 104);
  assert.equal(running.durationMs, null);
  assert.deepEqual(snapshot.tasks.finished, []);

  f.clock.t += 2_000;
  await f.store.complete(claim, "the whole reply", {
    model: "m",
    usage: null,
    finishReason: "stop",
  });
  const later = await f.source.take();
  const [done] = later.tasks.finished;
  assert.equal(done.status, "completed");
  assert.equal(done.reply, "the whole reply");
  assert.equal(done.replyChars, 15);
  assert.equal(done.durationMs, 2_020, "from the start of its run to its end");
  assert.equal(done.error, null);
});

Deno.test("snapshot: no secret survives, whatever text holds one", async () => {
  await using f = await fixture({
    probe: () =>
      Promise.resolve({ ...report("unauthorized", 1), message: `token ${GATEWAY_TOKEN} refused` }),
  });
  await f.store.submit("anonymous", {
    message: `my password is owner-password-123 and ${GATEWAY_TOKEN}`,
    instance: "up",
  });
  const text = JSON.stringify(await f.source.take());
  assert.ok(!text.includes("owner-password-123"));
  assert.ok(!text.includes(GATEWAY_TOKEN));
  assert.match(text, /my password is \[hidden\] and \[hidden\]/);
  assert.match(text, /token \[hidden\] refused/);
  assert.equal(scrubber(["short", "longer-secret"])("a short longer-secret"), "a short [hidden]");
});

Deno.test("snapshot: one per second however many ask; the probe cache is shared", async () => {
  await using f = await fixture();
  const [one, two] = await Promise.all([f.source.take(), f.source.take()]);
  assert.equal(one, two);
  f.clock.t += SNAPSHOT_TTL_MS - 1;
  assert.equal(await f.source.take(), one);
  f.clock.t += 1;
  assert.notEqual(await f.source.take(), one);
  assert.equal(f.probes(), 1, "the probe's verdict answers for its own window");
});

Deno.test("snapshot: a slow probe does not hold the page up: 'probing', then the last verdict", async () => {
  let release: (r: HealthReport) => void = () => {};
  await using f = await fixture({ probe: () => new Promise((resolve) => release = resolve) });
  const started = performance.now();
  const first = await f.source.take();
  assert.ok(performance.now() - started < PROBE_WAIT_MS + 1_000);
  assert.equal(first.instances[0].status, "probing");
  assert.equal(first.instances[0].checkedAt, null);
  release(report("ok", 4_000));
  await new Promise((r) => setTimeout(r, 10));
  f.clock.t += SNAPSHOT_TTL_MS;
  const next = await f.source.take();
  assert.equal(next.instances[0].status, "ok");
  assert.equal(next.instances[0].latencyMs, 4_000);
});

Deno.test("snapshot: owners read without secrets", () => {
  assert.equal(ownerLabel("token:0123456789abcdef"), "token:0123456789abcdef");
  assert.equal(
    ownerLabel("oauth:https://claude.ai/meta.json:fam"),
    "oauth:https://claude.ai/meta.json",
  );
  assert.equal(ownerLabel("oauth:client"), "oauth:client");
  assert.equal(ownerLabel("anonymous"), "anonymous");
  assert.equal(ownerLabel(`oauth:${"c".repeat(100)}:f`).length, "oauth:".length + 60);
});

/** A gateway's approvals, as `GatewayApprovals` gives them; `fail` makes the next lists throw. */
class FakeApprovals implements ApprovalsPort {
  pending: Approval[] = [];
  lists = 0;
  fail: unknown = null;
  gate: Promise<void> | null = null;
  async list(): Promise<Approval[]> {
    this.lists++;
    if (this.gate) await this.gate;
    if (this.fail) throw this.fail;
    return [...this.pending];
  }
  resolve(): Promise<{ approval: Approval; decision: string }> {
    return Promise.reject(new Error("not here"));
  }
}

function pendingApproval(patch: Partial<Approval> = {}): Approval {
  return {
    id: "approval-1",
    kind: "exec",
    summary: `deploy --token ${GATEWAY_TOKEN}`,
    sessionKey: "agent:main:mcp-1:chores",
    agent: "main",
    cwd: "/srv",
    host: "gateway",
    unavailable: ["allow-always"],
    createdAt: 999_000,
    expiresAt: 1_119_000,
    ...patch,
  };
}

Deno.test("snapshot: pending approvals, read once per period for every viewer; an answered one drops", async () => {
  const gateway = new FakeApprovals();
  gateway.pending = [pendingApproval()];
  await using f = await fixture({ approvals: gateway });
  const [one, two] = await Promise.all([f.source.take(), f.source.take()]);
  assert.equal(one, two);
  assert.equal(gateway.lists, 1);
  assert.deepEqual(one.instances[0].approvals, {
    state: "ok",
    pending: [{
      id: "approval-1",
      kind: "exec",
      summary: "deploy --token [hidden]",
      sessionKey: "agent:main:mcp-1:chores",
      agent: "main",
      cwd: "/srv",
      host: "gateway",
      decisions: ["allow-once", "deny"],
      requestedAt: 999_000,
      expiresAt: 1_119_000,
    }],
    total: 1,
    error: null,
    checkedAt: f.clock.t,
  });
  assert.deepEqual(one.instances[1].approvals, OFF, "an instance without approvals is off");
  // A page refreshing within the period reads the same answer.
  f.source.refresh();
  await f.source.take();
  assert.equal(gateway.lists, 1, "one read per period, however the snapshot is asked");

  // Answered elsewhere: the next period drops it.
  gateway.pending = [];
  f.clock.t += SNAPSHOT_TTL_MS;
  const later = await f.source.take();
  assert.equal(gateway.lists, 2);
  assert.deepEqual(later.instances[0].approvals.pending, []);
  assert.equal(later.instances[0].approvals.total, 0);
});

Deno.test("snapshot: at most 20 approvals per instance, the count says how many", async () => {
  const gateway = new FakeApprovals();
  gateway.pending = Array.from(
    { length: 25 },
    (_, n) => pendingApproval({ id: `a${n}`, summary: "x".repeat(5_000) }),
  );
  await using f = await fixture({ approvals: gateway });
  const { approvals } = (await f.source.take()).instances[0];
  assert.equal(approvals.pending.length, 20);
  assert.equal(approvals.total, 25);
  assert.equal(approvals.pending[0].id, "a0", "the oldest first");
  assert.equal(approvals.pending[0].summary.length, 400);
});

Deno.test("snapshot: approvals that cannot be read show the coded error and are retried after a wait", async () => {
  const gateway = new FakeApprovals();
  gateway.fail = new BridgeError(
    "gateway_pairing_required",
    `The gateway has not paired this bridge (token ${GATEWAY_TOKEN}).`,
    "On the gateway's machine run: openclaw devices approve dev-1",
  );
  await using f = await fixture({ approvals: gateway });
  const first = (await f.source.take()).instances[0].approvals;
  assert.equal(first.state, "unavailable");
  assert.deepEqual(first.pending, []);
  assert.deepEqual(first.error, {
    code: "gateway_pairing_required",
    message: "The gateway has not paired this bridge (token [hidden]).",
    hint: "On the gateway's machine run: openclaw devices approve dev-1",
  });
  // Not asked again every second: 5 s, then 10 s...
  f.clock.t += 4_000;
  f.source.refresh();
  await f.source.take();
  assert.equal(gateway.lists, 1);
  f.clock.t += 1_000;
  f.source.refresh();
  await f.source.take();
  assert.equal(gateway.lists, 2);
  f.clock.t += 9_000;
  f.source.refresh();
  await f.source.take();
  assert.equal(gateway.lists, 2, "the wait doubles");

  // Anything else is an internal error: a generic line, never a stack.
  gateway.fail = new Error("boom at secret.ts:12");
  f.clock.t += 1_000;
  f.source.refresh();
  const broken = (await f.source.take()).instances[0].approvals;
  assert.equal(gateway.lists, 3);
  assert.equal(broken.error?.code, "internal");
  assert.doesNotMatch(JSON.stringify(broken), /boom|secret\.ts/);

  // Back: read each period again.
  gateway.fail = null;
  gateway.pending = [pendingApproval()];
  f.clock.t += 60_000;
  f.source.refresh();
  const back = (await f.source.take()).instances[0].approvals;
  assert.equal(back.state, "ok");
  assert.equal(back.total, 1);
});

Deno.test("snapshot: a slow approvals read does not hold the page up", async () => {
  const gateway = new FakeApprovals();
  let open: () => void = () => {};
  gateway.gate = new Promise((resolve) => open = resolve);
  gateway.pending = [pendingApproval()];
  await using f = await fixture({ approvals: gateway });
  const started = performance.now();
  const first = (await f.source.take()).instances[0].approvals;
  assert.ok(performance.now() - started < PROBE_WAIT_MS + 1_000);
  assert.equal(first.state, "reading");
  open();
  await new Promise((r) => setTimeout(r, 10));
  f.source.refresh();
  const next = (await f.source.take()).instances[0].approvals;
  assert.equal(next.state, "ok");
  assert.equal(gateway.lists, 1);
});

Deno.test("snapshot: a running task says which approval it waits on", async () => {
  await using f = await fixture();
  await f.store.submit("anonymous", { message: "tidy", instance: "up" });
  const claim = (await f.store.claim("r", 60_000))!;
  await f.store.setWaiting(claim.task, [
    pendingApproval({ expiresAt: null, summary: `rm ${GATEWAY_TOKEN}` }),
  ]);
  const [running] = (await f.source.take()).tasks.active;
  assert.deepEqual(running.waiting, [{ id: "approval-1", kind: "exec", summary: "rm [hidden]" }]);
});
