/**
 * `form.ts`: OAuth request bodies read as form fields (urlencoded, or a JSON
 * object's string members) through Hono's `app.request()`, and zod parsing
 * whose refusal names the field.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { z } from "zod";
import { parseFields, readForm } from "../../src/auth/form.ts";

/** What `readForm` makes of a POST body with `contentType` (none when null). */
async function formOf(body: string, contentType: string | null): Promise<unknown> {
  const app = new Hono();
  app.post("/", async (c) => c.json(await readForm(c)));
  const response = await app.request("/", {
    method: "POST",
    headers: contentType === null ? {} : { "content-type": contentType },
    body,
  });
  assert.equal(response.status, 200);
  return await response.json();
}

Deno.test("readForm: urlencoded bodies, decoded; without a content type too", async () => {
  const body = "grant_type=refresh_token&refresh_token=a%2Bb%3D%3D&client_name=My+App";
  const expected = {
    grant_type: "refresh_token",
    refresh_token: "a+b==",
    client_name: "My App",
  };
  assert.deepEqual(await formOf(body, "application/x-www-form-urlencoded"), expected);
  assert.deepEqual(await formOf(body, null), expected);
  assert.deepEqual(await formOf("", "application/x-www-form-urlencoded"), {});
});

Deno.test("readForm: a JSON object keeps its string members only", async () => {
  const json = JSON.stringify({
    client_id: "abc",
    client_secret: "",
    expires: 3600,
    public: true,
    redirect_uris: ["http://127.0.0.1/cb"],
    nested: { a: "b" },
    none: null,
  });
  const expected = { client_id: "abc", client_secret: "" };
  assert.deepEqual(await formOf(json, "application/json"), expected);
  assert.deepEqual(await formOf(json, "application/json; charset=utf-8"), expected);
});

Deno.test("readForm: a JSON body that does not parse is an empty form, not an error", async () => {
  assert.deepEqual(await formOf("{not json", "application/json"), {});
  assert.deepEqual(await formOf("", "application/json"), {});
});

const required = (name: string) => z.string(`${name} is required`).min(1, `${name} is required`);
const Grant = z.object({
  code: required("code"),
  code_verifier: required("code_verifier"),
  resource: z.string().optional(),
});

Deno.test("parseFields: a valid form gives the schema's output", () => {
  assert.deepEqual(parseFields(Grant, { code: "c", code_verifier: "v", extra: "x" }), {
    ok: true,
    value: { code: "c", code_verifier: "v" },
  });
  const Scoped = z.object({
    scope: z.string().optional().transform((s) => (s ?? "mcp:tools").split(" ")),
  });
  assert.deepEqual(parseFields(Scoped, { scope: "a b" }), {
    ok: true,
    value: { scope: ["a", "b"] },
  });
  assert.deepEqual(parseFields(Scoped, {}), { ok: true, value: { scope: ["mcp:tools"] } });
});

Deno.test("parseFields: a refusal names the first field in error and says so first", () => {
  assert.deepEqual(parseFields(Grant, { code_verifier: "v" }), {
    ok: false,
    field: "code",
    message: "code is required",
  });
  assert.deepEqual(
    parseFields(Grant, { code: "", code_verifier: "" }),
    { ok: false, field: "code", message: "code is required" },
    "only the first issue",
  );
  assert.deepEqual(parseFields(Grant, { code: "c", code_verifier: "" }), {
    ok: false,
    field: "code_verifier",
    message: "code_verifier is required",
  });
  // A message that does not start with the field's name gets it as a prefix.
  const refused = parseFields(Grant, { code: "c", code_verifier: "v", resource: 7 });
  assert.ok(!refused.ok);
  assert.equal(refused.field, "resource");
  assert.match(refused.message, /^resource: ./);
});

Deno.test("parseFields: a nested field is named by its path; a body that is no object by 'body'", () => {
  const Meta = z.object({ redirect_uris: z.array(z.url("must be a URL")) });
  const nested = parseFields(Meta, { redirect_uris: ["https://ok.example/cb", "nope"] });
  assert.deepEqual(nested, {
    ok: false,
    field: "redirect_uris",
    message: "redirect_uris.1: must be a URL",
  });
  const notObject = parseFields(Meta, ["x"]);
  assert.ok(!notObject.ok);
  assert.equal(notObject.field, "body");
  assert.match(notObject.message, /^body: /);
});

Deno.test("readForm: a JSON body that is no object (null, an array, a scalar) is an empty form", async () => {
  for (const body of ["null", '["a","b"]', '"text"', "42"]) {
    assert.deepEqual(await formOf(body, "application/json"), {}, body);
  }
});
