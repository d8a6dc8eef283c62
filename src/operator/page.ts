/**
 * The operator page's HTML, rendered by Hono's `html` helper (every value
 * escaped): the page around a snapshot, the live part alone (which the feed
 * sends again as it changes), and the sign-in page. Served with a strict
 * Content-Security-Policy whose nonce admits only our own inline style and
 * script, no framing, no referrer, nothing cached. No external asset.
 *
 * @module
 */
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { randomToken } from "../auth/crypto.ts";
import { LIVE_SCRIPT } from "./live_script.ts";
import type { OperatorMode } from "./access.ts";
import type { ApprovalView, InstanceView, OperatorSnapshot, TaskView } from "./snapshot.ts";

type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The Content-Security-Policy of operator pages, for a response's `nonce`. */
export function operatorCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** Headers every operator response carries (JSON and the feed too): no caching, no framing, no referrer. */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** A rendered page: its HTML and the headers it must be served with. */
export interface Page {
  /** The document. */
  html: string;
  /** Content type, CSP with the page's nonce, and {@linkcode NO_STORE_HEADERS}. */
  headers: Record<string, string>;
}

/** The page as a response. */
export function pageResponse(
  page: Page,
  status = 200,
  extra: Record<string, string> = {},
): Response {
  return new Response(page.html, { status, headers: { ...page.headers, ...extra } });
}

function text(fragment: Fragment): string {
  if (fragment instanceof Promise) throw new Error("operator page fragments are synchronous");
  return fragment.toString();
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f5f6f8;--card:#fff;--fg:#1c1f23;--muted:#667085;--line:#e2e5e9;
--ok:#15803d;--bad:#c81e1e;--warn:#b45309;--run:#1d4ed8}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--card:#181c22;--fg:#e7e9ec;--muted:#98a2b3;
--line:#2a3038;--ok:#4ade80;--bad:#f87171;--warn:#fbbf24;--run:#93c5fd}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
.top{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;justify-content:space-between;
padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--card);position:sticky;top:0;z-index:1}
.top form{margin:0}
h1{font-size:1.05rem;margin:0}h2{font-size:1rem;margin:1.4rem 0 .5rem}
h3{font-size:.85rem;color:var(--muted);margin:1rem 0 .4rem;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
main{max-width:72rem;margin:0 auto;padding:0 1rem 2rem}
.meta{color:var(--muted);font-size:.85rem;display:flex;flex-wrap:wrap;gap:.2rem .8rem;align-items:center}
.grid{display:grid;gap:.75rem;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr))}
.stats{display:grid;gap:.5rem;grid-template-columns:repeat(auto-fit,minmax(6.5rem,1fr));margin-top:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.7rem .85rem;min-width:0}
.stat{font-size:.8rem;color:var(--muted)}.stat b{display:block;font-size:1.35rem;color:var(--fg)}
.row{display:flex;flex-wrap:wrap;gap:.2rem .7rem;align-items:baseline}
.dot{display:inline-block;width:.6rem;height:.6rem;border-radius:50%;background:var(--muted);margin-right:.2rem}
.s-ok .dot{background:var(--ok)}.s-down .dot{background:var(--bad)}.s-probing .dot{background:var(--warn)}
.s-ok .state{color:var(--ok)}.s-down .state{color:var(--bad)}
.badge{display:inline-block;font-size:.72rem;padding:0 .45rem;border-radius:999px;border:1px solid var(--line);
color:var(--muted);white-space:nowrap}
.st-pending{color:var(--warn);border-color:var(--warn)}.st-running{color:var(--run);border-color:var(--run)}
.st-completed{color:var(--ok);border-color:var(--ok)}.st-failed{color:var(--bad);border-color:var(--bad)}
.st-cancelled{color:var(--muted)}
code,.url{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.84em;overflow-wrap:anywhere}
.muted{color:var(--muted)}.small{font-size:.82rem}
.agents{margin-top:.35rem;display:flex;flex-wrap:wrap;gap:.3rem}
.task{margin-bottom:.6rem}
.msg{margin:.4rem 0 0;overflow-wrap:anywhere}
pre.reply{white-space:pre-wrap;overflow-wrap:anywhere;margin:.45rem 0 0;padding:.5rem .6rem;background:var(--bg);
border-radius:6px;max-height:14rem;overflow:auto;font:.82rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.err{color:var(--bad)}
.none{color:var(--muted);margin:.2rem 0}
button{font:inherit;padding:.3rem .8rem;border-radius:6px;border:1px solid var(--line);background:var(--card);
color:var(--fg);cursor:pointer}
.live{font-size:.8rem}.live::before{content:"\\25CF  ";color:var(--muted)}.live.on::before{color:var(--ok)}
.live.off::before{color:var(--warn)}
.approval{border-color:var(--warn)}
pre.command{white-space:pre-wrap;overflow-wrap:anywhere;margin:.45rem 0 0;padding:.5rem .6rem;background:var(--bg);
border-radius:6px;max-height:10rem;overflow:auto;font:.86rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.actions{display:flex;flex-wrap:wrap;gap:.4rem;margin-top:.55rem}
.actions button[data-decision=deny]{color:var(--bad);border-color:var(--bad)}
.actions button[data-decision=allow-once],.actions button[data-decision=allow-always]{color:var(--ok);border-color:var(--ok)}
button:disabled{opacity:.55;cursor:wait}
.warn{color:var(--warn)}
.notice{max-width:72rem;margin:.6rem auto 0;padding:0 1rem}.notice:empty{display:none}
.notice p{margin:0;padding:.45rem .7rem;border-radius:6px;border:1px solid var(--line);background:var(--card)}
.notice .ok{border-color:var(--ok)}.notice .err{border-color:var(--bad)}
.login{max-width:24rem;margin:3rem auto;padding:0 1rem}
.login label{display:block;margin:1rem 0 .3rem}
.login input[type=password]{width:100%;padding:.55rem;font-size:1rem;border-radius:6px;border:1px solid var(--line);
background:var(--card);color:var(--fg)}
.login button{margin-top:1rem}
`;

/** A whole document with its nonce'd style (and script, when given). */
function document(title: string, body: Fragment, options: { script?: string } = {}): Page {
  const nonce = randomToken(16);
  const page = html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width,initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <link rel="icon" href="data:,">
        <title>${title}</title>
        <style nonce="${nonce}">${raw(STYLE)}</style>
      </head>
      <body>${body}${options.script
        ? html`<script nonce="${nonce}">${raw(options.script)}</script>`
        : ""}</body>
    </html>
  `;
  return {
    html: text(page),
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": operatorCsp(nonce),
      ...NO_STORE_HEADERS,
    },
  };
}

/** How long ago `at` was, for people: "4 s ago", "3 min ago". */
export function ago(now: number, at: number): string {
  return `${duration(Math.max(0, now - at))} ago`;
}

/** A duration for people: "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`;
}

const STATUS_WORD: Record<TaskView["status"], string> = {
  pending: "queued",
  running: "running",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

function healthClass(instance: InstanceView): string {
  if (instance.status === "ok") return "s-ok";
  return instance.status === "probing" ? "s-probing" : "s-down";
}

function instanceCard(instance: InstanceView, now: number): Fragment {
  const up = instance.status === "ok";
  return html`
    <article class="card inst ${healthClass(instance)}" data-instance="${instance.name}"
      data-status="${instance.status}">
    <div class="row"><strong><span class="dot"></span>${instance.name}</strong>${instance.isDefault
      ? html`<span class="badge">default</span>`
      : ""}<span class="state">${up
      ? "up"
      : instance.status === "probing"
      ? "probing"
      : "down"}</span>${instance.latencyMs === null
      ? ""
      : html`<span class="latency" title="health probe round trip">${instance.latencyMs} ms</span>`}</div>
    <div class="url">${instance.url}</div>
    ${up ? "" : html`<div class="small err msg">${instance.status}: ${instance.message}</div>`}
    <div class="agents">${instance.agents.length
      ? instance.agents.map((a) => html`<span class="badge agent">${a}</span>`)
      : html`<span class="small muted">${up ? "no agents listed" : "agents unknown"}</span>`}</div>
    ${approvalsLine(instance)}
    <div class="small muted">${instance.checkedAt === null
      ? "not probed yet"
      : html`checked ${ago(now, instance.checkedAt)}`}</div>
    </article>
  `;
}

/** The instance's approvals in one line: how many wait, or why they cannot be read. */
function approvalsLine(instance: InstanceView): Fragment | "" {
  const { approvals } = instance;
  switch (approvals.state) {
    case "off":
      return html`<div class="small muted approvals-line">approvals off</div>`;
    case "reading":
      return html`<div class="small muted approvals-line">reading approvals</div>`;
    case "unavailable":
      return html`
        <div class="small err approvals-line"
          data-error="${approvals.error?.code}">approvals unavailable: ${approvals
            .error?.code} — ${approvals.error?.message} ${approvals.error?.hint}</div>
      `;
    case "ok":
      return approvals.total
        ? html`<div class="small warn approvals-line">${approvals.total} approval${
          approvals.total ===
              1
            ? ""
            : "s"
        } waiting</div>`
        : "";
  }
}

const DECISION_LABEL: Record<string, string> = {
  "allow-once": "Allow once",
  "allow-always": "Allow always",
  "deny": "Deny",
};

function approvalCard(instance: string, approval: ApprovalView, now: number): Fragment {
  const who = [instance, approval.agent].filter(Boolean).join(" / ");
  return html`
    <article class="card approval" data-approval="${approval.id}" data-instance="${instance}"
      data-kind="${approval.kind}">
    <div class="row"><span class="badge st-pending">${approval.kind === "exec"
      ? "command"
      : "plugin"}</span><span class="small">${who}</span>${approval.sessionKey
      ? html`<code class="small muted" title="conversation">${approval.sessionKey}</code>`
      : ""}${approval.requestedAt === null
      ? ""
      : html`<span class="small muted">asked ${ago(now, approval.requestedAt)}</span>`}${approval
        .expiresAt === null
      ? ""
      : html`<span class="small muted">denied by itself in ${
        duration(
          Math.max(0, approval.expiresAt - now),
        )
      }</span>`}</div>
    <pre class="command">${approval.summary}</pre>
    ${approval.cwd || approval.host
      ? html`<div class="small muted">${approval.cwd ? html`in <code>${approval.cwd}</code>` : ""}${
        approval
            .cwd && approval.host
          ? ", "
          : ""
      }${approval.host ? html`on ${approval.host}` : ""}</div>`
      : ""}
    <div class="actions">${approval.decisions.map((d) =>
      html`<button type="button" data-decision="${d}">${DECISION_LABEL[d] ?? d}</button>`
    )}</div>
    </article>
  `;
}

function approvalsSection(snapshot: OperatorSnapshot): Fragment {
  const { instances, now } = snapshot;
  const on = instances.filter((i) => i.approvals.state !== "off");
  const cards = on.flatMap((i) => i.approvals.pending.map((a) => approvalCard(i.name, a, now)));
  const more = on.reduce((n, i) => n + i.approvals.total - i.approvals.pending.length, 0);
  const unreadable = on.filter((i) => i.approvals.state === "unavailable");
  let body: Fragment;
  if (on.length === 0) {
    body = html`
      <p
        class="none approvals-off">Approvals are off (OPENCLAW_APPROVALS=off): the bridge does not read the gateways' approval requests.</p>
    `;
  } else {
    body = html`<div class="approvals">${
      cards.length ? cards : html`<p class="none">Nothing waiting for approval.</p>`
    }</div>${
      more ? html`<p class="small muted">${more} more waiting; answer the oldest first.</p>` : ""
    }${
      unreadable.map((i) =>
        html`
          <p class="small err approvals-error"
            data-instance="${i.name}">${i.name}: approvals unavailable: ${i
              .approvals.error?.code} — ${i.approvals.error?.message} ${i.approvals.error?.hint}</p>
        `
      )
    }`;
  }
  return html`<section aria-labelledby="h-approvals">
<h2 id="h-approvals">Approvals</h2>${body}</section>`;
}

function taskCard(task: TaskView, now: number): Fragment {
  const finished = task.finishedAt !== null;
  const target = task.agent ? `${task.instance} / ${task.agent}` : task.instance;
  const when = finished
    ? html`<span class="small muted">took ${duration(task.durationMs ?? 0)}, ended ${
      ago(now, task.finishedAt!)
    }</span>`
    : task.status === "running" && task.startedAt !== null
    ? html`<span class="small muted">running for ${duration(now - task.startedAt)}</span>`
    : html`<span class="small muted">queued ${ago(now, task.createdAt)}</span>`;
  return html`<article class="card task" data-task="${task.id}" data-status="${task.status}">
<div class="row"><span class="badge st-${task.status}">${STATUS_WORD[task.status]}</span>
<code title="${task.id}">${task.id.slice(0, 8)}</code><span class="small">${target}</span>
<span class="small muted">${task.owner}</span>${
    task.priority ? html`<span class="small muted">priority ${task.priority}</span>` : ""
  }${
    task.attempt > 1 ? html`<span class="small muted">attempt ${task.attempt}</span>` : ""
  }${when}</div>
<p class="msg">${task.message}</p>
${
    task.waiting.map((w) =>
      html`<p class="small warn waiting">waiting for approval: <code>${w.summary}</code></p>`
    )
  }${task.error ? html`<p class="small err">${task.error.code}: ${task.error.message}</p>` : ""}${
    task.reply
      ? html`<pre class="reply">${
        task.status === "running" && task.replyChars > task.reply.length ? "\u2026" : ""
      }${task.reply}${
        task.status !== "running" && task.replyChars > task.reply.length ? "\u2026" : ""
      }</pre>
<div class="small muted chars">${task.replyChars} characters${
        task.status === "running" ? " so far" : ""
      }</div>`
      : task.status === "running"
      ? html`<div class="small muted chars">waiting for the first words</div>`
      : ""
  }
</article>`;
}

function sessionsLine(snapshot: OperatorSnapshot): Fragment {
  const { sessions } = snapshot;
  if (sessions.stateless) {
    return html`<p>Stateless mode: no sessions are kept; every request stands alone.</p>`;
  }
  const cap = sessions.max === null ? "" : ` (at most ${sessions.max})`;
  return html`<p><b class="sessions-open">${sessions.open}</b> open${cap}: 2025-11-25 clients over Streamable HTTP, in this process.</p>`;
}

/** The part of the page that the feed replaces as it changes. */
export function liveFragment(snapshot: OperatorSnapshot): string {
  const { now, instances, tasks } = snapshot;
  const up = instances.filter((i) => i.status === "ok").length;
  const queued = tasks.active.filter((t) => t.status === "pending").length;
  const running = tasks.active.length - queued;
  const list = (items: TaskView[], none: string) =>
    items.length ? items.map((t) => taskCard(t, now)) : html`<p class="none">${none}</p>`;
  return text(html`
    <section class="stats">
      <div class="card stat">instances up<b class="instances-up">${up} / ${instances
        .length}</b></div>
      <div class="card stat">queued<b class="tasks-queued">${queued}</b></div>
      <div class="card stat">running<b class="tasks-running">${running}</b></div>
      <div class="card stat">approvals<b class="approvals-waiting">${instances.reduce(
        (n, i) => n + i.approvals.total,
        0,
      )}</b></div>
      <div class="card stat">sessions<b>${snapshot.sessions.stateless
        ? "none"
        : snapshot.sessions.open}</b></div>
      <div class="card stat">uptime<b class="uptime">${duration(now - snapshot.startedAt)}</b></div>
    </section>
    ${approvalsSection(snapshot)}
    <section aria-labelledby="h-instances">
      <h2 id="h-instances">Instances</h2>
      <div class="grid">${instances.map((i) => instanceCard(i, now))}</div>
    </section>
    <section aria-labelledby="h-tasks">
      <h2 id="h-tasks">Tasks</h2>
      <h3>Queued and running</h3>
      <div class="active">${list(tasks.active, "Nothing queued or running.")}</div>
      <h3>Recently finished</h3>
      <div class="finished">${list(tasks.finished, "Nothing finished recently.")}</div>
      <p
        class="small muted">The newest ${tasks.shownActive} queued or running and ${tasks
          .shownFinished} finished tasks of every caller; messages and replies are cut short.</p>
    </section>
    <section aria-labelledby="h-sessions"><h2 id="h-sessions">Sessions</h2>${sessionsLine(snapshot)}
    <p class="small muted">MCP 2026-07-28 requests are stateless and hold no session.</p></section>
  `);
}

/** What the dashboard needs besides the snapshot. */
export interface DashboardView {
  /** The snapshot shown first (the feed sends the next ones). */
  snapshot: OperatorSnapshot;
  /** The sign-out form's CSRF token, when the viewer is signed in (else no sign-out button). */
  signOutCsrf?: string;
  /** The CSRF token the page's approval buttons send (the sign-in's, or the loopback one). */
  approvalsCsrf?: string;
}

/** The operator page: a header, the live part, and the script that keeps it live. */
export function dashboardPage(view: DashboardView): Page {
  const { snapshot } = view;
  return document(
    "OpenClaw MCP operator",
    html`
      <header class="top">
        <h1>OpenClaw MCP <span class="muted">operator</span></h1>
        <div class="meta"><span>v${snapshot.version}</span><span>auth: ${snapshot.auth}</span>
      <span id="live" class="live" role="status">connecting</span>${view.signOutCsrf
        ? html`
          <form method="post"
            action="/operator/logout"><input type="hidden" name="csrf" value="${view
              .signOutCsrf}"><button type="submit">Sign out</button></form>
        `
        : ""}</div>
      </header>
      <div id="notice" class="notice" role="status" aria-live="polite" data-csrf="${view
        .approvalsCsrf ?? ""}"></div>
      <main id="live-root">${raw(liveFragment(snapshot))}</main>
    `,
    { script: LIVE_SCRIPT },
  );
}

/** What the sign-in page shows. */
export interface LoginView {
  /** How the owner signs in. */
  mode: OperatorMode;
  /** The form's CSRF token (absent when no form is shown). */
  formId?: string;
  /** Shown after a refused attempt. */
  error?: string;
}

const ASK: Record<OperatorMode, string> = {
  password: "Owner password",
  token: "Access token",
  password_or_token: "Owner password or access token",
  loopback: "",
  closed: "",
};

const WHY: Record<OperatorMode, string> = {
  password: "Sign in with the owner password (MCP_OWNER_PASSWORD).",
  token: "Sign in with one of the server's access tokens (MCP_AUTH_TOKENS).",
  password_or_token:
    "Sign in with the owner password (MCP_OWNER_PASSWORD) or one of the server's access tokens (MCP_AUTH_TOKENS).",
  loopback: "",
  closed:
    "No way to sign in is configured: set MCP_OWNER_PASSWORD (with OAuth on) or MCP_AUTH_TOKENS. Without authentication the page is served to loopback clients of a loopback bind only.",
};

/** The sign-in page (or, with nothing to sign in with, why there is none). */
export function loginPage(view: LoginView): Page {
  const form = view.formId
    ? html`<form method="post" action="/operator/login">
<input type="hidden" name="form_id" value="${view.formId}">
<label for="secret">${ASK[view.mode]}</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Sign in</button></form>`
    : "";
  return document(
    "Sign in: OpenClaw MCP operator",
    html`<main class="login"><h1>OpenClaw MCP operator</h1><p>${WHY[view.mode]}</p>
${view.error ? html`<p class="err" role="alert">${view.error}</p>` : ""}${form}</main>`,
  );
}
