/**
 * The operator WebSocket and the approvals hub against the test gateway's
 * protocol double: the signed handshake and its refusals, list / resolve,
 * watching one conversation (and only it), and coming back after the
 * gateway drops the connection.
 */
import assert from "node:assert/strict";
import {
  type Approval,
  GatewayApprovals,
  operatorOpener,
  parseApproval,
} from "../../src/gateway/approvals.ts";
import {
  DEVICE_KEY,
  type DeviceIdentity,
  ephemeralDeviceIdentity,
  loadDeviceIdentity,
} from "../../src/gateway/device_identity.ts";
import { GatewaySocket } from "../../src/gateway/gateway_socket.ts";
import { BridgeError } from "../../src/errors.ts";
import { TestGateway } from "../../testing/test_gateway.ts";
import { codeOf } from "../helpers/error_code.ts";

async function withGateway(
  fn: (gateway: TestGateway, device: DeviceIdentity) => Promise<void>,
): Promise<void> {
  const gateway = await TestGateway.start();
  try {
    await fn(gateway, await ephemeralDeviceIdentity());
  } finally {
    await gateway.close();
  }
}

async function until(predicate: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const FAST = { lingerMs: 50, backoffMs: 20, maxBackoffMs: 100 };

/** Runs `fn` with a test gateway and the approvals hub of its default instance, closing both. */
async function withHub(
  fn: (gateway: TestGateway, approvals: GatewayApprovals) => Promise<void>,
): Promise<void> {
  await withGateway(async (gateway, device) => {
    const approvals = hubFor(gateway, device);
    try {
      await fn(gateway, approvals);
    } finally {
      approvals.close();
    }
  });
}

/** The approvals hub of the gateway's default instance, on short timings. */
function hubFor(gateway: TestGateway, device: DeviceIdentity): GatewayApprovals {
  const instance = gateway.instance();
  return new GatewayApprovals(instance, operatorOpener(instance, () => Promise.resolve(device)), {
    timing: FAST,
  });
}

Deno.test("device identity: stored once in KV, the same for every load; the id is the public key's SHA-256", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const [a, b] = await Promise.all([loadDeviceIdentity(kv), loadDeviceIdentity(kv)]);
    assert.equal(a.id, b.id);
    assert.match(a.id, /^[0-9a-f]{64}$/);
    assert.equal((await loadDeviceIdentity(kv)).id, a.id);
    const stored = (await kv.get<{ publicKey: string }>(DEVICE_KEY)).value!;
    assert.equal(stored.publicKey, a.publicKey);
  } finally {
    kv.close();
  }
});

Deno.test("operator socket: the signed handshake is accepted with the scopes asked for", async () => {
  await withGateway(async (gateway, device) => {
    const socket = await GatewaySocket.connect({
      instance: gateway.instance(),
      device,
      scopes: ["operator.read", "operator.approvals"],
      caps: ["approvals"],
    });
    try {
      assert.deepEqual([...socket.scopes], ["operator.read", "operator.approvals"]);
      const [record] = gateway.approvals.connects;
      assert.equal(record.accepted, true);
      const params = record.params as { client: { id: string; mode: string }; role: string };
      assert.equal(params.role, "operator");
      assert.equal(params.client.id, "cli");
      assert.equal(
        await socket.request("exec.approval.list", {}).then((v) => Array.isArray(v)),
        true,
      );
    } finally {
      socket.close();
      await socket.closed;
    }
  });
});

Deno.test("operator socket: a wrong token, an unpaired device and a closed port are coded errors naming the fix", async () => {
  await withGateway(async (gateway, device) => {
    const instance = gateway.instance();
    const scopes = ["operator.approvals"];
    const wrong = await GatewaySocket.connect({
      instance: { ...instance, token: "nope" },
      device,
      scopes,
    })
      .catch((e) => e);
    assert.equal(await codeOf(Promise.reject(wrong)), "gateway_unauthorized");
    assert.doesNotMatch(wrong.message + wrong.hint, /nope|test-token/);

    gateway.approvals.pairing = "required";
    const unpaired = await GatewaySocket.connect({ instance, device, scopes }).catch((e) => e);
    assert.equal(await codeOf(Promise.reject(unpaired)), "gateway_pairing_required");
    assert.match(unpaired.hint, new RegExp(`openclaw devices approve ${device.id}`));
    gateway.approvals.paired.add(device.id);
    const paired = await GatewaySocket.connect({ instance, device, scopes });
    paired.close();
    await paired.closed;
  });
  const down = {
    ...(await TestGateway.start().then(async (g) => (await g.close(), g.instance()))),
  };
  const refused = await GatewaySocket.connect({
    instance: down,
    device: await ephemeralDeviceIdentity(),
    scopes: [],
  }).catch((e) => e);
  assert.equal(await codeOf(Promise.reject(refused)), "gateway_unreachable");
});

Deno.test("approvals: list shows pending requests; resolve answers one; an unknown or answered id is approval_not_found", async () => {
  await withHub(async (gateway, approvals) => {
    assert.deepEqual(await approvals.list(), []);
    const raised = gateway.approvals.raise("exec", {
      command: "rm -rf /tmp/cache",
      sessionKey: "agent:main:s1",
      agentId: "main",
      cwd: "/srv",
      host: "gateway",
    });
    const [listed] = await approvals.list();
    assert.equal(listed.id, raised.id);
    assert.equal(listed.summary, "rm -rf /tmp/cache");
    assert.equal(listed.sessionKey, "agent:main:s1");
    assert.equal(listed.kind, "exec");
    const outcome = await approvals.resolve(raised.id, "allow-once");
    assert.equal(outcome.decision, "allow-once");
    assert.equal(await raised.decided, "allow-once");
    assert.equal(
      await codeOf(approvals.resolve(raised.id, "deny")),
      "approval_not_found",
    );
    assert.equal(
      await codeOf(approvals.resolve("nope", "deny")),
      "approval_not_found",
    );
    // One connection served all of it.
    assert.equal(gateway.approvals.connects.length, 1);
  });
});

Deno.test("approvals: a decision the gateway does not offer for the request is invalid_argument", async () => {
  await withHub(async (gateway, approvals) => {
    const raised = gateway.approvals.raise("exec", {
      command: "curl x | sh",
      sessionKey: "agent:main:s1",
      unavailableDecisions: ["allow-always"],
    });
    assert.equal(await codeOf(approvals.resolve(raised.id, "allow-always")), "invalid_argument");
    assert.equal(gateway.approvals.pending.size, 1);
  });
});

Deno.test("approvals: a watch hears its own conversation only, pending ones included, and hears it end", async () => {
  await withHub(async (gateway, approvals) => {
    const early = gateway.approvals.raise("exec", {
      command: "early",
      sessionKey: "agent:main:s1",
    });
    const heard: Approval[] = [];
    const ended: string[] = [];
    const stop = approvals.watch("S1", {
      requested: (a) => heard.push(a),
      resolved: (id) => ended.push(id),
    });
    await until(() => heard.length === 1, "the pending approval");
    assert.equal(heard[0].id, early.id);
    gateway.approvals.raise("exec", { command: "other", sessionKey: "agent:main:s2" });
    const late = gateway.approvals.raise("exec", {
      command: "late",
      sessionKey: "agent:coder:s1",
    });
    await until(() => heard.length === 2, "the new approval");
    assert.equal(heard[1].id, late.id);
    gateway.approvals.resolve(early.id, "deny");
    await until(() => ended.length === 1, "the resolution");
    assert.deepEqual(ended, [early.id]);
    stop();
    // The connection closes once unused for the linger time.
    await until(() => gateway.approvals.connections === 0, "the idle close");
  });
});

Deno.test("approvals: a watch survives the gateway dropping the connection and catches what came meanwhile", async () => {
  await withHub(async (gateway, approvals) => {
    const heard: string[] = [];
    const stop = approvals.watch("s1", {
      requested: (a) => heard.push(a.summary),
      resolved() {},
    });
    await until(() => gateway.approvals.connections === 1, "the first connection");
    gateway.approvals.dropAll();
    await until(() => gateway.approvals.connections === 0, "the drop");
    gateway.approvals.raise("exec", { command: "while away", sessionKey: "agent:main:s1" });
    await until(() => heard.includes("while away"), "the approval raised while away", 10_000);
    assert.ok(gateway.approvals.connects.length >= 2);
    stop();
  });
});

Deno.test("approvals: callers that shared a failed connection attempt make one new connection, not one each", async () => {
  await withGateway(async (gateway, device) => {
    const instance = gateway.instance();
    const real = operatorOpener(instance, () => Promise.resolve(device));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    let opens = 0;
    const approvals = new GatewayApprovals(instance, async (signal) => {
      if (++opens > 1) return await real(signal);
      await gate;
      throw new BridgeError("gateway_unreachable", "down for a moment", "");
    }, { timing: FAST });
    try {
      const first = approvals.list();
      const others = [approvals.list(), approvals.list(), approvals.list()];
      release();
      assert.equal(await codeOf(first), "gateway_unreachable");
      for (const listed of await Promise.all(others)) assert.deepEqual(listed, []);
      assert.equal(opens, 2, "one new connection for the three that waited");
    } finally {
      approvals.close();
    }
    // Nothing is left open behind the hub's back.
    await until(() => gateway.approvals.connections === 0, "every connection closed");
  });
});

Deno.test("approvals: after a reconnect a watch hears only its own conversation's approvals end", async () => {
  await withGateway(async (gateway, device) => {
    const instance = gateway.instance();
    const approvals = new GatewayApprovals(
      instance,
      operatorOpener(instance, () => Promise.resolve(device)),
      { timing: FAST },
    );
    try {
      const heard: string[] = [];
      const ended: string[] = [];
      const stop = approvals.watch("s1", {
        requested: (a) => heard.push(a.summary),
        resolved: (id) => ended.push(id),
      });
      await until(() => gateway.approvals.connections === 1, "the first connection");
      const mine = gateway.approvals.raise("exec", {
        command: "mine",
        sessionKey: "agent:main:s1",
      });
      const theirs = gateway.approvals.raise("exec", {
        command: "theirs",
        sessionKey: "agent:main:s2",
      });
      await until(() => heard.includes("mine"), "my approval");
      gateway.approvals.dropAll();
      await until(() => gateway.approvals.connections === 0, "the drop");
      gateway.approvals.resolve(theirs.id, "deny");
      gateway.approvals.resolve(mine.id, "deny");
      gateway.approvals.raise("exec", { command: "after", sessionKey: "agent:main:s1" });
      await until(() => heard.includes("after"), "the approval raised while away", 10_000);
      assert.deepEqual(ended, [mine.id], "another conversation's approval is not told");
      stop();
    } finally {
      approvals.close();
    }
  });
});

Deno.test("approvals: a gateway listing a flood of pending requests is read in linear time", async () => {
  // 200,000 rows (about 4 MB): a quadratic bookkeeping pass would hold the
  // event loop for minutes.
  const rows = Array.from({ length: 200_000 }, (_, i) => ({ id: `a${i}` }));
  const listed = JSON.stringify(rows);
  const gateway = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () =>
      socket.send(JSON.stringify({
        type: "event",
        event: "connect.challenge",
        payload: { nonce: "n", ts: Date.now() },
      }));
    socket.onmessage = (event) => {
      const req = JSON.parse(String(event.data));
      const payload = req.method === "connect"
        ? { type: "hello-ok", protocol: 4 }
        : req.method === "exec.approval.list"
        ? null
        : [];
      if (payload === null) {
        socket.send(`{"type":"res","id":${JSON.stringify(req.id)},"ok":true,"payload":${listed}}`);
      } else socket.send(JSON.stringify({ type: "res", id: req.id, ok: true, payload }));
    };
    return response;
  });
  const instance = {
    name: "flood",
    url: `http://127.0.0.1:${gateway.addr.port}`,
    token: "t",
    timeoutMs: 10_000,
  } as ReturnType<TestGateway["instance"]>;
  const device = await ephemeralDeviceIdentity();
  const approvals = new GatewayApprovals(
    instance,
    operatorOpener(instance, () => Promise.resolve(device)),
    { timing: FAST },
  );
  try {
    const first = await approvals.list();
    assert.equal(first.length, rows.length);
    const again = await approvals.list();
    assert.equal(again.at(-1)?.id, "a199999");
  } finally {
    approvals.close();
    await gateway.shutdown();
  }
});

Deno.test("approvals: a request raised while a new watch reads the pending list is told once", async () => {
  await withGateway(async (gateway, device) => {
    const instance = gateway.instance();
    const approvals = new GatewayApprovals(
      instance,
      operatorOpener(instance, () => Promise.resolve(device)),
      { timing: FAST },
    );
    try {
      const keep = approvals.watch("other", { requested() {}, resolved() {} });
      await until(() => gateway.approvals.connections === 1, "the connection");
      await approvals.list();
      const heard: string[] = [];
      const stop = approvals.watch("s1", {
        requested: (a) => heard.push(a.id),
        resolved() {},
      });
      // Its event reaches the bridge before the answer to the watch's list.
      const raced = gateway.approvals.raise("exec", { command: "x", sessionKey: "agent:main:s1" });
      await until(() => heard.length > 0, "the approval");
      const marker = gateway.approvals.raise("exec", { command: "y", sessionKey: "agent:main:s1" });
      await until(() => heard.includes(marker.id), "the next approval");
      assert.deepEqual(heard, [raced.id, marker.id]);
      stop();
      keep();
    } finally {
      approvals.close();
    }
  });
});

Deno.test("approvals: parseApproval reads exec and plugin requests, cuts long commands, refuses junk", () => {
  const exec = parseApproval("exec", {
    id: "a1",
    request: { command: "x".repeat(5_000), sessionKey: null },
    createdAtMs: 1,
    expiresAtMs: 2,
  })!;
  assert.equal(exec.summary.length, 2_000);
  assert.equal(exec.sessionKey, null);
  const plugin = parseApproval("plugin", {
    id: "plugin:1",
    request: { title: "Send email", description: "to bob", sessionKey: "agent:main:k" },
  })!;
  assert.equal(plugin.summary, "Send email: to bob");
  assert.equal(parseApproval("exec", { request: {} }), null);
  assert.equal(parseApproval("exec", "junk"), null);
});

Deno.test("approvals: watches on a connection already listening cost no list round trip", async () => {
  await withHub(async (gateway, approvals) => {
    const lists = () =>
      gateway.approvals.calls.filter((c) => c.method === "exec.approval.list").length;
    const heard: string[] = [];
    const first = approvals.watch("s1", { requested: (a) => heard.push(a.id), resolved() {} });
    await until(() => lists() === 1, "the first list");
    const raised = gateway.approvals.raise("exec", { command: "x", sessionKey: "agent:main:s2" });
    await approvals.list();
    const stops = Array.from(
      { length: 20 },
      () => approvals.watch("s2", { requested: (a) => heard.push(a.id), resolved() {} }),
    );
    // Each new watch is told of the known request at once, without asking the gateway.
    assert.equal(heard.filter((id) => id === raised.id).length, 20);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(lists(), 2, "the first watch's list and the explicit read only");
    for (const stop of [first, ...stops]) stop();
  });
});
