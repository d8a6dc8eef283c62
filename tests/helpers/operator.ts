/**
 * Helpers that play the owner's browser or a script against the operator
 * page: sign in through the form, ask for the page, the snapshot or the
 * feed with a cookie or a bearer header.
 *
 * @module
 */
import assert from "node:assert/strict";

/** What a request to an operator route got. */
export interface Answer {
  /** HTTP status. */
  status: number;
  /** `Location`, for a redirect. */
  location: string | null;
  /** The `error` code of a JSON error body, or null. */
  error: string | null;
  /** The body text (the first event of a feed). */
  text: string;
  /** The response headers. */
  headers: Headers;
}

/** GETs `path` (redirects not followed); a 200 feed is read up to its first event. */
export async function ask(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, { headers, redirect: "manual" });
  let text = "";
  if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    // Read until the first event is whole.
    while (!/^event: .*\n(data: .*\n)+\n/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
  } else {
    text = await response.text();
  }
  let error: string | null = null;
  if (response.headers.get("content-type")?.includes("application/json")) {
    error = JSON.parse(text).error ?? null;
  }
  return {
    status: response.status,
    location: response.headers.get("location"),
    error,
    text,
    headers: response.headers,
  };
}

/** The login form: its id and the cookie that goes with it. */
export async function loginForm(base: string): Promise<{ formId: string; cookie: string }> {
  const response = await fetch(`${base}/operator/login`, {
    headers: { accept: "text/html" },
    redirect: "manual",
  });
  assert.equal(response.status, 200, "the login form is shown");
  const html = await response.text();
  const formId = /name="form_id" value="([^"]+)"/.exec(html)?.[1];
  const cookie = response.headers.getSetCookie().find((c) =>
    c.startsWith("openclaw_operator_form=")
  )
    ?.split(";")[0];
  assert.ok(formId && cookie, "a form id and its cookie");
  return { formId, cookie };
}

/** Posts the login form. */
export async function postLogin(
  base: string,
  form: { formId?: string; cookie?: string; secret: string },
): Promise<Response> {
  const body = new URLSearchParams({ secret: form.secret });
  if (form.formId) body.set("form_id", form.formId);
  return await fetch(`${base}/operator/login`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(form.cookie ? { cookie: form.cookie } : {}),
    },
    body,
  });
}

/** The `name=value` of the cookie `name` a response sets, or null. */
export function setCookie(response: Response, name: string): string | null {
  return response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))?.split(";")[0] ??
    null;
}

/** Signs in with `secret` through a fresh form; the sign-in cookie, or null when refused. */
export async function signIn(base: string, secret: string): Promise<string | null> {
  const response = await postLogin(base, { ...await loginForm(base), secret });
  await response.body?.cancel();
  if (response.status !== 303) return null;
  return setCookie(response, "openclaw_operator");
}
