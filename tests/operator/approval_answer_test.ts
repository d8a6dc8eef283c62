/**
 * `approvalAnswer` against a fake gateway: the answer that stands when
 * someone answered first, a gateway's coded error passed on (scrubbed), an
 * unexpected one as `internal` without detail, and the page's reads
 * forgetting an approval only once it is gone.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import type { Approval, Decision } from "../../src/gateway/approvals.ts";
import { BridgeError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { approvalAnswer } from "../../src/operator/approval_answer.ts";
import { ApprovalReads, type ApprovalsPort } from "../../src/operator/approval_reads.ts";
import { scrubber } from "../../src/operator/snapshot.ts";

const SECRET = "gateway-secret-token";

function approval(id: string): Approval {
  return {
    id,
    kind: "exec",
    summary: `curl -H 'x: ${SECRET}'`,
    sessionKey: null,
    agent: null,
    cwd: null,
    host: null,
    unavailable: [],
    createdAt: null,
    expiresAt: null,
  };
}

class Gateway implements ApprovalsPort {
  pending = [approval("a"), approval("b")];
  stands: string | null = null;
  failure: unknown = null;
  lists = 0;
  list(): Promise<Approval[]> {
    this.lists++;
    return Promise.resolve([...this.pending]);
  }
  resolve(id: string, decision: Decision) {
    if (this.failure) return Promise.reject(this.failure);
    const found = this.pending.find((a) => a.id === id)!;
    return Promise.resolve({ approval: found, decision: this.stands ?? decision });
  }
}

function setup() {
  const gateway = new Gateway();
  const reads = new ApprovalReads({ timing: { ttlMs: 60_000 } });
  let answered = 0;
  const handler = approvalAnswer({
    instances: () => [{ name: "default", approvals: gateway }],
    isOwner: () => true,
    csrfOf: () => null,
    origins: [],
    trustProxy: 0,
    addressOf: () => "local",
    reads,
    answered: () => answered++,
    scrub: scrubber([SECRET]),
    log: silentLogger,
    now: Date.now,
  });
  const app = new Hono();
  app.post("/a", (c) => handler(c, { via: "token", principal: "token:x" }));
  const post = async (body: Record<string, string>) => {
    const response = await app.request("/a", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const shown = async () =>
    ((await reads.read("default", gateway)) as { approvals: Approval[] }).approvals.map((a) =>
      a.id
    );
  return { gateway, post, shown, answered: () => answered };
}

Deno.test("approval answer: someone answered first: the decision that stands, accepted false", async () => {
  const s = setup();
  s.gateway.stands = "deny";
  const got = await s.post({ instance: "default", id: "a", decision: "allow-once" });
  assert.equal(got.status, 200);
  assert.equal(got.body.decision, "deny");
  assert.equal(got.body.accepted, false);
  assert.equal(got.body.approval.summary, "curl -H 'x: [hidden]'");
  assert.equal(s.answered(), 1, "the next snapshot is new");
});

Deno.test("approval answer: a gateway's coded error is passed on; anything else is internal", async () => {
  const s = setup();
  assert.deepEqual(await s.shown(), ["a", "b"]);
  s.gateway.failure = new BridgeError(
    "gateway_unreachable",
    `Could not reach http://gw/?t=${SECRET}.`,
    "Check the gateway.",
  );
  const down = await s.post({ instance: "default", id: "a", decision: "deny" });
  assert.equal(down.status, 502);
  assert.deepEqual(down.body, {
    error: "gateway_unreachable",
    message: "Could not reach http://gw/?t=[hidden].",
    hint: "Check the gateway.",
  });
  assert.deepEqual(await s.shown(), ["a", "b"], "still pending as far as anyone knows");
  assert.equal(s.gateway.lists, 1, "and not read again");

  s.gateway.failure = new Error("socket exploded at gateway_socket.ts:99");
  const odd = await s.post({ instance: "default", id: "a", decision: "deny" });
  assert.equal(odd.status, 500);
  assert.equal(odd.body.error, "internal");
  assert.doesNotMatch(JSON.stringify(odd.body), /exploded|\.ts:/);

  s.gateway.failure = new BridgeError("approval_not_found", 'No pending approval "a".', "");
  s.gateway.pending = [approval("b")];
  const gone = await s.post({ instance: "default", id: "a", decision: "deny" });
  assert.equal(gone.status, 404);
  assert.deepEqual(await s.shown(), ["b"], "gone: the page reads again at once");
  assert.equal(s.gateway.lists, 2);

  s.gateway.failure = null;
  const ok = await s.post({ instance: "default", id: "b", decision: "allow-always" });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.accepted, true);
  s.gateway.pending = [];
  assert.deepEqual(await s.shown(), [], "answered: read again at once");
  assert.equal(s.gateway.lists, 3);
});
