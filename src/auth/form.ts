/**
 * Request forms of the OAuth endpoints: read as `application/x-www-form-urlencoded`
 * (or a JSON object of strings, which some clients send), then parsed with a
 * zod schema whose refusal names the field.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";

/** A form's string fields. */
export type Form = Record<string, string>;

/** Reads the body as form fields; a JSON body keeps its string members. */
export async function readForm(c: Context): Promise<Form> {
  const type = c.req.header("content-type") ?? "";
  if (type.includes("application/json")) {
    const json: unknown = await c.req.json().catch(() => ({}));
    // Only a JSON object holds fields; null, arrays and scalars hold none.
    if (json === null || typeof json !== "object" || Array.isArray(json)) return {};
    return Object.fromEntries(
      Object.entries(json).filter(([, v]) => typeof v === "string"),
    ) as Form;
  }
  return Object.fromEntries(new URLSearchParams(await c.req.text()));
}

/** The outcome of {@linkcode parseFields}: the typed value, or the first field refused. */
export type Parsed<T> =
  | { ok: true; value: T }
  | { ok: false; field: string; message: string };

/**
 * Parses `input` with `schema`. A refusal carries the first field in error
 * and a message that starts with its name ("code_verifier is required").
 */
export function parseFields<T>(schema: z.ZodType<T>, input: unknown): Parsed<T> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join(".") || "body";
  const message = issue.message.startsWith(field) ? issue.message : `${field}: ${issue.message}`;
  return { ok: false, field: String(issue.path[0] ?? "body"), message };
}
