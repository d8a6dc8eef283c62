/**
 * The operator page's only script, inlined with the page's CSP nonce: it
 * follows `/operator/events?format=html` and puts each fragment the server
 * rendered (every value already escaped by Hono's `html`) in place of the
 * live part. When the feed ends (after a few minutes) the browser's
 * EventSource reconnects by itself; when it is refused (signed out or
 * expired) the script asks `/operator/snapshot` whether the sign-in still
 * holds and goes to the sign-in page if not.
 *
 * @module
 */

/** The script's source (plain ES2020, no dependencies). */
export const LIVE_SCRIPT = `"use strict";
(() => {
  const root = document.getElementById("live-root");
  const badge = document.getElementById("live");
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
