/**
 * The operator page's HTML: everything from tasks and gateways escaped,
 * nonce'd style and script only, the live part, the sign-in page per mode.
 */
import assert from "node:assert/strict";
import {
  ago,
  dashboardPage,
  duration,
  liveFragment,
  loginPage,
  operatorCsp,
} from "../../src/operator/page.ts";
import type {
  ApprovalView,
  InstanceApprovals,
  OperatorSnapshot,
  TaskView,
} from "../../src/operator/snapshot.ts";

function task(patch: Partial<TaskView>): TaskView {
  return {
    id: "0123456789abcdef",
    status: "pending",
    instance: "local",
    agent: null,
    owner: "token:0123456789abcdef",
    priority: 0,
    attempt: 0,
    createdAt: 1_000,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    message: "hello",
    reply: "",
    replyChars: 0,
    error: null,
    waiting: [],
    ...patch,
  };
}

const NO_APPROVALS: InstanceApprovals = {
  state: "ok",
  pending: [],
  total: 0,
  error: null,
  checkedAt: 60_000,
};

function approval(patch: Partial<ApprovalView> = {}): ApprovalView {
  return {
    id: "approval-1",
    kind: "exec",
    summary: "rm -rf /tmp/cache",
    sessionKey: "agent:main:mcp-abc:chores",
    agent: "main",
    cwd: "/srv/app",
    host: "gateway",
    decisions: ["allow-once", "allow-always", "deny"],
    requestedAt: 55_000,
    expiresAt: 175_000,
    ...patch,
  };
}

const HOSTILE = `<script>alert(1)</script><img src=x onerror=alert(2)>"'`;

function snapshot(patch: Partial<OperatorSnapshot> = {}): OperatorSnapshot {
  return {
    version: "9.9.9",
    startedAt: 0,
    now: 61_000,
    auth: "oauth",
    sessions: { open: 2, max: 1000, stateless: false },
    instances: [{
      name: "local",
      url: "http://127.0.0.1:18789",
      isDefault: true,
      status: "ok",
      latencyMs: 12,
      message: "ok",
      agents: ["main", HOSTILE],
      checkedAt: 60_000,
      approvals: NO_APPROVALS,
    }, {
      name: "far",
      url: `http://far.example/${HOSTILE}`,
      isDefault: false,
      status: "timeout",
      latencyMs: 5_000,
      message: HOSTILE,
      agents: [],
      checkedAt: 60_000,
      approvals: NO_APPROVALS,
    }],
    tasks: {
      active: [
        task({ id: "queued-task", message: HOSTILE }),
        task({
          id: "running-task",
          status: "running",
          attempt: 1,
          startedAt: 50_000,
          reply: `so far ${HOSTILE}`,
          replyChars: 5_000,
        }),
      ],
      finished: [
        task({
          id: "done-task",
          status: "completed",
          startedAt: 10_000,
          finishedAt: 13_500,
          durationMs: 3_500,
          reply: "done",
          replyChars: 4,
        }),
        task({
          id: "failed-task",
          status: "failed",
          finishedAt: 20_000,
          durationMs: 100,
          error: { code: "gateway_timeout", message: HOSTILE },
        }),
      ],
      shownActive: 50,
      shownFinished: 20,
    },
    ...patch,
  };
}

Deno.test("page: everything that came from tasks or gateways is escaped", () => {
  const html = liveFragment(snapshot());
  assert.doesNotMatch(html, /<script>|<img/);
  assert.ok(
    html.includes("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"),
  );
  assert.equal(
    html.match(/&lt;script&gt;/g)?.length,
    6,
    "message, reply, error, agent, url, message",
  );
});

Deno.test("page: the live part shows instances, tasks by state, sessions and uptime", () => {
  const html = liveFragment(snapshot());
  assert.match(html, /data-instance="local"\s+data-status="ok"/);
  assert.match(html, /<span class="latency"[^>]*>12 ms<\/span>/);
  assert.match(html, /data-instance="far"\s+data-status="timeout"/);
  assert.match(html, /instances-up">1 \/ 2</);
  assert.match(html, /tasks-queued">1</);
  assert.match(html, /tasks-running">1</);
  assert.match(html, /data-task="queued-task" data-status="pending">[\s\S]*?queued 1 min 0 s ago/);
  assert.match(
    html,
    /data-task="running-task"[\s\S]*?running for 11.0 s[\s\S]*?<pre class="reply">\u2026so far/,
  );
  assert.match(html, /5000 characters so far/);
  assert.match(html, /data-task="done-task"[\s\S]*?took 3.5 s, ended 47.5 s ago/);
  assert.match(html, /data-task="failed-task"[\s\S]*?gateway_timeout: /);
  assert.match(html, /class="sessions-open">2<\/b> open \(at most 1000\)/);
  assert.match(html, /2026-07-28 requests are stateless/);
  assert.match(html, /class="uptime">1 min 1 s</);
  const stateless = liveFragment(
    snapshot({ sessions: { open: null, max: null, stateless: true } }),
  );
  assert.match(stateless, /Stateless mode: no sessions are kept/);
  const empty = liveFragment(snapshot({
    tasks: { active: [], finished: [], shownActive: 50, shownFinished: 20 },
  }));
  assert.match(empty, /Nothing queued or running/);
  assert.match(empty, /Nothing finished recently/);
});

function withApprovals(local: InstanceApprovals, far: InstanceApprovals): OperatorSnapshot {
  const base = snapshot();
  return {
    ...base,
    instances: [{ ...base.instances[0], approvals: local }, {
      ...base.instances[1],
      approvals: far,
    }],
  };
}

Deno.test("page: pending approvals with the buttons the gateway offers; texts escaped", () => {
  const html = liveFragment(withApprovals(
    {
      ...NO_APPROVALS,
      pending: [
        approval(),
        approval({
          id: `id"${HOSTILE}`,
          summary: HOSTILE,
          cwd: HOSTILE,
          sessionKey: HOSTILE,
          agent: null,
          host: null,
          decisions: ["allow-once", "deny"],
        }),
      ],
      total: 23,
    },
    NO_APPROVALS,
  ));
  assert.doesNotMatch(html, /<script>|<img/);
  assert.match(html, /approvals-waiting">23</);
  assert.match(html, /23 approvals waiting/);
  const first = /<article class="card approval" data-approval="approval-1"[\s\S]*?<\/article>/
    .exec(html)?.[0] ?? "";
  assert.match(first, /data-instance="local"/);
  assert.match(first, /<pre class="command">rm -rf \/tmp\/cache<\/pre>/);
  assert.match(first, /local \/ main/);
  assert.match(first, /agent:main:mcp-abc:chores/);
  assert.match(first, /asked 6.0 s ago/);
  assert.match(first, /denied by itself in 1 min 54 s/);
  assert.match(first, /in <code>\/srv\/app<\/code>, on gateway/);
  assert.deepEqual(
    [...first.matchAll(/<button type="button" data-decision="([^"]+)">([^<]+)</g)].map((m) =>
      `${m[1]}=${m[2]}`
    ),
    ["allow-once=Allow once", "allow-always=Allow always", "deny=Deny"],
  );
  const second = html.slice(html.indexOf('data-approval="id&quot;'));
  assert.ok(second.length < html.length, "the hostile id is escaped in its attribute");
  assert.deepEqual(
    [...second.slice(0, second.indexOf("</article>")).matchAll(/data-decision="([^"]+)"/g)]
      .map((m) => m[1]),
    ["allow-once", "deny"],
    "only the decisions offered",
  );
  assert.match(html, /21 more waiting/);
});

Deno.test("page: approvals off, none waiting, or unreadable (a line on the instance)", () => {
  const off: InstanceApprovals = { ...NO_APPROVALS, state: "off", checkedAt: null };
  const none = liveFragment(withApprovals(off, off));
  assert.match(none, /Approvals are off \(OPENCLAW_APPROVALS=off\)/);
  assert.match(none, /approvals off/);
  assert.doesNotMatch(none, /data-decision/);
  const quiet = liveFragment(snapshot());
  assert.match(quiet, /Nothing waiting for approval/);
  const broken = liveFragment(withApprovals(NO_APPROVALS, {
    ...NO_APPROVALS,
    state: "unavailable",
    error: {
      code: "gateway_pairing_required",
      message: `Not paired ${HOSTILE}.`,
      hint: "On the gateway's machine run: openclaw devices approve abc",
    },
  }));
  assert.doesNotMatch(broken, /<script>|<img/);
  assert.match(
    broken,
    /data-instance="far"[\s\S]*?approvals-line"\s+data-error="gateway_pairing_required">approvals unavailable: gateway_pairing_required — Not paired &lt;script&gt;/,
  );
  assert.match(broken, /far: approvals unavailable: gateway_pairing_required/);
  assert.match(broken, /openclaw devices approve abc/);
  assert.match(broken, /Nothing waiting for approval/);
});

Deno.test("page: a running task waiting for an approval says so", () => {
  const base = snapshot();
  const html = liveFragment({
    ...base,
    tasks: {
      ...base.tasks,
      active: [task({
        id: "waiting-task",
        status: "running",
        startedAt: 50_000,
        waiting: [{ id: "a", kind: "exec", summary: `echo ${HOSTILE}` }],
      })],
    },
  });
  assert.match(
    html,
    /data-task="waiting-task" data-status="running"[\s\S]*?waiting for approval: <code>echo &lt;script&gt;/,
  );
});

Deno.test("page: the approval buttons' CSRF token is in the page, not in the live part", () => {
  const page = dashboardPage({ snapshot: snapshot(), approvalsCsrf: "answer-csrf" });
  assert.match(page.html, /id="notice"[^>]*data-csrf="answer-csrf"/);
  assert.doesNotMatch(liveFragment(snapshot()), /answer-csrf|data-csrf/);
  assert.doesNotMatch(page.html, /<[^>]*\son[a-z]+=/i, "no inline event handlers");
});

Deno.test("page: one nonce per page for the style and the script; strict CSP; no caching", () => {
  const page = dashboardPage({ snapshot: snapshot(), signOutCsrf: "csrf-token" });
  const csp = page.headers["content-security-policy"];
  const nonce = /'nonce-([A-Za-z0-9_-]+)'/.exec(csp)![1];
  assert.equal(csp, operatorCsp(nonce));
  assert.equal(page.html.match(/<style nonce="([^"]+)">/)?.[1], nonce);
  assert.equal(page.html.match(/<script nonce="([^"]+)">/)?.[1], nonce);
  assert.equal(page.html.match(/<script/g)?.length, 1);
  assert.match(page.html, /name="csrf" value="csrf-token"/);
  assert.equal(page.headers["cache-control"], "no-store");
  assert.equal(page.headers["x-frame-options"], "DENY");
  assert.equal(page.headers["referrer-policy"], "no-referrer");
  assert.notEqual(
    nonce,
    /'nonce-([^']+)'/.exec(
      dashboardPage({ snapshot: snapshot() }).headers["content-security-policy"],
    )![1],
  );
  assert.doesNotMatch(dashboardPage({ snapshot: snapshot() }).html, /Sign out/);
});

Deno.test("page: the sign-in page asks for what the mode accepts", () => {
  assert.match(loginPage({ mode: "password", formId: "f" }).html, /Owner password<\/label>/);
  assert.match(loginPage({ mode: "token", formId: "f" }).html, /Access token<\/label>/);
  assert.match(
    loginPage({ mode: "password_or_token", formId: "f" }).html,
    /Owner password or access token<\/label>/,
  );
  const withError =
    loginPage({ mode: "password", formId: "f<x>", error: "Wrong <password>." }).html;
  assert.match(withError, /value="f&lt;x&gt;"/);
  assert.match(withError, /role="alert">Wrong &lt;password&gt;.</);
  const closed = loginPage({ mode: "closed" }).html;
  assert.match(closed, /No way to sign in is configured/);
  assert.doesNotMatch(closed, /<form/);
});

Deno.test("page: durations for people", () => {
  assert.equal(duration(850), "850 ms");
  assert.equal(duration(12_345), "12.3 s");
  assert.equal(duration(245_000), "4 min 5 s");
  assert.equal(duration(7_380_000), "2 h 3 min");
  assert.equal(duration(90_000_000), "1 d 1 h");
  assert.equal(ago(10_000, 6_000), "4.0 s ago");
  assert.equal(ago(0, 5), "0 ms ago", "a clock a little behind never reads negative");
});
