/**
 * The operator page's only script, inlined with the page's CSP nonce: it
 * follows `/operator/events?format=html` and puts each fragment the server
 * rendered (every value already escaped by Hono's `html`) in place of the
 * live part. When the feed ends (after a few minutes) the browser's
 * EventSource reconnects by itself; when it is refused (signed out or
 * expired) the script asks `/operator/snapshot` whether the sign-in still
 * holds and goes to the sign-in page if not.
 *
 * The approval buttons (`data-decision` in an `article[data-approval]`) are
 * handled by one listener on the live part (they are replaced with it):
 * a click posts `{instance, id, decision, csrf}` to `/operator/approvals`
 * (the CSRF token is the one the page was served with, in `#notice`), and
 * the outcome, or the error's message and hint, is put in `#notice` as
 * text. An answered approval leaves the page at once; the feed confirms.
 *
 * @module
 */

/** The script's source (plain ES2020, no dependencies). */
export const LIVE_SCRIPT = `"use strict";
(() => {
  const root = document.getElementById("live-root");
  const badge = document.getElementById("live");
  const notice = document.getElementById("notice");
  const DONE = { "allow-once": "allowed once", "allow-always": "allowed always", "deny": "denied" };
  // Answered (gone) and being answered: kept so across the feed's replacements.
  const answered = new Set();
  const busy = new Set();
  const mark = () => {
    root.querySelectorAll("article[data-approval]").forEach((card) => {
      if (answered.has(card.dataset.approval)) card.remove();
      else if (busy.has(card.dataset.approval)) {
        card.querySelectorAll("button[data-decision]").forEach((b) => b.disabled = true);
      }
    });
  };
  const gone = (id) => {
    if (answered.size > 500) answered.clear();
    answered.add(id);
    mark();
  };
  const tell = (text, ok) => {
    const line = document.createElement("p");
    line.className = ok ? "ok" : "err";
    line.textContent = text;
    notice.replaceChildren(line);
  };
  const answer = async (button) => {
    const card = button.closest("article[data-approval]");
    if (!card) return;
    const id = card.dataset.approval;
    busy.add(id);
    mark();
    const body = {
      instance: card.dataset.instance,
      id,
      decision: button.dataset.decision,
      csrf: notice.dataset.csrf,
    };
    try {
      const response = await fetch("/operator/approvals", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status === 401) return location.assign("/operator/login");
      const data = await response.json();
      if (response.ok) {
        const what = data.approval.summary;
        tell(data.accepted
          ? DONE[data.decision] + ": " + what
          : "already answered: " + data.decision + " (" + what + ")", data.accepted);
        gone(id);
      } else {
        tell(data.message + (data.hint ? " " + data.hint : ""), false);
        if (data.error === "approval_not_found") gone(id);
      }
    } catch {
      tell("The answer did not reach the server; try again.", false);
    } finally {
      busy.delete(id);
      root.querySelectorAll("article[data-approval]").forEach((c) => {
        if (c.dataset.approval === id) {
          c.querySelectorAll("button[data-decision]").forEach((b) => b.disabled = false);
        }
      });
    }
  };
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-decision]");
    if (button && !button.disabled) answer(button);
  });
  let failures = 0;
  const show = (text, on) => {
    badge.textContent = text;
    badge.className = on ? "live on" : "live off";
  };
  const connect = () => {
    const source = new EventSource("/operator/events?format=html");
    source.addEventListener("open", () => show("live", true));
    source.addEventListener("html", (event) => {
      failures = 0;
      root.innerHTML = event.data;
      mark();
      show("live", true);
    });
    source.addEventListener("end", (event) => {
      const reason = JSON.parse(event.data).reason;
      if (reason === "signed_out") {
        source.close();
        location.assign("/operator/login");
      }
    });
    source.addEventListener("error", () => {
      show("reconnecting", false);
      if (source.readyState !== EventSource.CLOSED) return;
      failures++;
      setTimeout(check, Math.min(30000, 1000 * 2 ** Math.min(failures, 5)));
    });
  };
  const check = async () => {
    try {
      const response = await fetch("/operator/snapshot", { headers: { accept: "application/json" } });
      if (response.status === 401) return location.assign("/operator/login");
    } catch {
      // Offline: try the feed again anyway.
    }
    connect();
  };
  connect();
})();
`;
