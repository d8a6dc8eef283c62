/**
 * Server-rendered HTML for the OAuth flow: the consent page and the error
 * page. No external assets; a strict Content-Security-Policy with a nonce for
 * the inline style; no framing (clickjacking); nothing cached.
 *
 * @module
 */
import { randomToken } from "./crypto.ts";

/**
 * Characters that change how the text around them is shown without being
 * visible themselves: controls (C0, DEL, C1), format characters (bidi
 * embeddings, overrides, isolates and marks, zero-width characters; U+202E
 * makes "moc.elgoog" read as "google.com") and line/paragraph separators.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** Longest client name or id shown to the owner; the rest is cut with an ellipsis. */
export const MAX_SHOWN_LENGTH = 200;

/**
 * Text that came from a client (a name, an id, a URI), made safe to show
 * the owner: invisible and direction-changing characters are removed and
 * the result is cut to {@linkcode MAX_SHOWN_LENGTH} characters.
 */
export function displayText(text: string): string {
  const clean = text.replace(INVISIBLE, "");
  return clean.length > MAX_SHOWN_LENGTH ? clean.slice(0, MAX_SHOWN_LENGTH - 1) + "\u2026" : clean;
}

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const STYLE =
  `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.25rem}
code{background:#f3f3f3;padding:0 .25rem;border-radius:4px}.err{color:#b00020}
label{display:block;margin:1rem 0 .25rem}input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
.actions{margin-top:1rem;display:flex;gap:.75rem}button{padding:.5rem 1rem;font-size:1rem}`;

function page(title: string, body: string, formTargets: string[] = []): {
  html: string;
  headers: Record<string, string>;
} {
  const nonce = randomToken(16);
  const csp = [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    // A form's redirect is checked against form-action too, so the client's
    // redirect origin must be listed for the approval to land.
    `form-action 'self' ${formTargets.join(" ")}`.trim(),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
  return {
    html: `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style></head><body>${body}</body></html>`,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": csp,
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
    },
  };
}

/** What the consent page shows. */
export interface ConsentView {
  /** Consent id (also the CSRF form token). */
  consentId: string;
  /** The client's `name`, escaped on the page; the owner decides on it, so it is never trusted HTML. */
  clientName: string;
  /** Client id (a URL for CIMD clients). */
  clientId: string;
  /** Where the browser goes afterwards. */
  redirectUri: string;
  /** The "Owner access" box is ticked (shown again after a wrong password as it was sent). */
  ownerAccess?: boolean;
  /** Shown after a wrong password. */
  error?: string;
}

/**
 * The consent page: names the client and its redirect host; asks for the
 * owner's password, with an "Owner access" box, unticked unless the form
 * being shown again had it ticked. Everything the client chose is passed through
 * {@linkcode displayText} and isolated (`<bdi>`), so it cannot reorder or hide
 * the text around it.
 */
export function consentPage(view: ConsentView): { html: string; headers: Record<string, string> } {
  const host = new URL(view.redirectUri).host;
  const shown = (text: string) => `<bdi>${escapeHtml(displayText(text))}</bdi>`;
  return page(
    "Approve access to OpenClaw",
    `<h1>Allow <strong>${shown(view.clientName)}</strong> to use your OpenClaw gateway?</h1>
<div class="box"><p>Client: <code>${shown(view.clientId)}</code></p>
<p>After approval you will be sent to <strong>${shown(host)}</strong>.</p>
<p>It will be able to chat with your OpenClaw agents and manage its tasks.</p></div>
${view.error ? `<p class="err" role="alert">${escapeHtml(view.error)}</p>` : ""}
<form method="post" action="authorize">
<input type="hidden" name="consent_id" value="${escapeHtml(view.consentId)}">
<label for="password">Owner password</label>
<input id="password" name="password" type="password" autocomplete="current-password" autofocus>
<label class="owner"><input type="checkbox" name="owner_access" value="yes"${
      view.ownerAccess ? " checked" : ""
    }> <strong>Owner access</strong>: let this client read every conversation of the claw and answer its approvals (commands on the gateway's machine). Leave it unticked unless this is your own client.</label>
<div class="actions"><button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button></div></form>`,
    [new URL(view.redirectUri).origin],
  );
}

/** An error page, for failures that must not redirect to an unverified URI. */
export function errorPage(title: string, message: string): {
  html: string;
  headers: Record<string, string>;
} {
  return page(title, `<h1>${escapeHtml(title)}</h1><p class="err">${escapeHtml(message)}</p>`);
}

/** A rendered page as a response, with a `Retry-After` when the reader should come back later. */
export function pageResponse(
  page: { html: string; headers: Record<string, string> },
  status = 200,
  retryAfterSeconds?: number,
): Response {
  return new Response(page.html, {
    status,
    headers: {
      ...page.headers,
      ...(retryAfterSeconds ? { "retry-after": String(retryAfterSeconds) } : {}),
    },
  });
}

/** When to come back, for people: "in 8 seconds (after 12:00:08 UTC)". */
export function whenText(seconds: number, at: number): string {
  const time = new Date(at).toISOString().slice(11, 19);
  return `in ${seconds} second${seconds === 1 ? "" : "s"} (after ${time} UTC)`;
}
