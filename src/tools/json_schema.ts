/**
 * Tool JSON Schemas from zod schemas, spelt the way the most clients accept.
 *
 * zod writes a nullable primitive as `"type": ["string", "null"]` and an
 * open record as `"additionalProperties": {}`. Both are valid JSON Schema,
 * but clients that map tool schemas onto a single-`type` dialect (the
 * OpenAPI subset of Gemini function declarations) reject or weaken the
 * first, and the MCP Inspector's `--strict` lint warns on both
 * (`type-union`, `untyped-schema`). We rewrite them into forms that accept
 * exactly the same values: `anyOf` branches of one type each, and `true`.
 *
 * @module
 */
import { z } from "zod";

/** A JSON Schema object as `z.toJSONSchema` returns it. */
type Schema = Record<string, unknown>;

/** Keywords that only constrain numbers (integers included). */
const NUMBER_KEYWORDS = [
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
];

/**
 * Keywords that only constrain values of one JSON type, by that type: in a
 * `type` union each moves into its own branch, where it means the same.
 */
const TYPE_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  string: ["minLength", "maxLength", "pattern", "format", "contentEncoding", "contentMediaType"],
  number: NUMBER_KEYWORDS,
  integer: NUMBER_KEYWORDS,
  array: ["items", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains"],
  object: [
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
  ],
};

/** Keywords holding one subschema. */
const SCHEMA_KEYWORDS = [
  "items",
  "additionalItems",
  "additionalProperties",
  "contains",
  "propertyNames",
  "not",
  "if",
  "then",
  "else",
];

/** Keywords holding a list of subschemas. */
const SCHEMA_LIST_KEYWORDS = ["allOf", "anyOf", "oneOf", "items"];

/** Keywords holding subschemas by name (`dependencies` also holds property lists). */
const SCHEMA_MAP_KEYWORDS = [
  "properties",
  "patternProperties",
  "$defs",
  "definitions",
  "dependencies",
];

/** Keywords where `true` is a schema that accepts anything, same as `{}`. */
const BOOLEAN_KEYWORDS = ["additionalProperties", "additionalItems"];

/**
 * The JSON Schema (draft-7, no `$schema`) a tool lists for `schema`, read as
 * its `io` side (input: what callers may send; output: what we return),
 * without `type` arrays or empty `additionalProperties` schemas (see
 * {@linkcode portableJsonSchema}).
 *
 * @example
 * ```ts
 * toolJsonSchema(z.object({ id: z.string().nullable() }), "output");
 * // { type: "object", properties: { id: { anyOf: [{ type: "string" }, { type: "null" }] } },
 * //   required: ["id"], additionalProperties: false }
 * ```
 */
export function toolJsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io }) as Schema;
  return portableJsonSchema(rest);
}

/**
 * `schema` with every `type` array, at any depth, rewritten as `anyOf`
 * branches of one type each, and every `additionalProperties` or
 * `additionalItems` of `{}` written `true`. It accepts exactly the values
 * `schema` accepts; the input is not changed.
 *
 * In a split, keywords for one type (`minLength`, `items`, `properties`...)
 * go to that type's branch; `enum` and `const` go, filtered, to the branches
 * whose type their values have (a branch left with no value is dropped);
 * everything else (`description`, `title`, `default`, `examples`, `$ref`,
 * applicators) stays on the outer schema. A one-type array becomes a plain
 * `type`, and so does a split left with one branch (a split left with none,
 * which admits no value, is not made). An outer `anyOf` already
 * there moves into an `allOf` beside the new one.
 *
 * @example
 * ```ts
 * portableJsonSchema({ type: ["string", "null"], maxLength: 9, description: "Id" });
 * // { description: "Id", anyOf: [{ type: "string", maxLength: 9 }, { type: "null" }] }
 * ```
 */
export function portableJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const node = withPortableSubschemas(schema);
  const types = node.type;
  // An empty or malformed `type` array is left for the client to refuse as it is.
  if (!Array.isArray(types) || types.length === 0) return node;
  if (!types.every((type) => typeof type === "string")) return node;
  return splitTypes(node, [...new Set(types)]);
}

/** `value` rewritten if it is a schema object; booleans and anything else as they are. */
function portable(value: unknown): unknown {
  return isSchema(value) ? portableJsonSchema(value) : value;
}

/** Whether `value` is a JSON object (a schema where a schema is expected). */
function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A copy of `schema` whose subschemas (not the node itself) are portable. */
function withPortableSubschemas(schema: Schema): Schema {
  const node: Schema = { ...schema };
  for (const key of SCHEMA_KEYWORDS) {
    if (!(key in node)) continue;
    node[key] = BOOLEAN_KEYWORDS.includes(key) && isEmptySchema(node[key])
      ? true
      : portable(node[key]);
  }
  for (const key of SCHEMA_LIST_KEYWORDS) {
    if (Array.isArray(node[key])) node[key] = (node[key] as unknown[]).map(portable);
  }
  for (const key of SCHEMA_MAP_KEYWORDS) {
    const map = node[key];
    if (!isSchema(map)) continue;
    node[key] = Object.fromEntries(
      Object.entries(map).map(([name, sub]) => [name, portable(sub)]),
    );
  }
  return node;
}

/** Whether `value` is `{}`, the schema that accepts anything. */
function isEmptySchema(value: unknown): boolean {
  return isSchema(value) && Object.keys(value).length === 0;
}

/** `node` (subschemas already portable) with its `types` as `anyOf` branches. */
function splitTypes(node: Schema, types: string[]): Schema {
  const moved = new Set(["type", "enum", "const", ...types.flatMap((t) => TYPE_KEYWORDS[t] ?? [])]);
  const outer = Object.fromEntries(Object.entries(node).filter(([key]) => !moved.has(key)));
  const branches = types.flatMap((type) => branch(node, type));
  // No value fits (an enum of other types): nothing to gain from a rewrite.
  if (branches.length === 0) return node;
  if (branches.length === 1) return { ...outer, ...branches[0] };
  if (!("anyOf" in outer)) return { ...outer, anyOf: branches };
  // The old anyOf and the new one must both hold: an allOf says so.
  const { anyOf, allOf, ...rest } = outer;
  return {
    ...rest,
    allOf: [...(Array.isArray(allOf) ? allOf : []), { anyOf }, { anyOf: branches }],
  };
}

/**
 * The branch of `node` for values of `type`: that type's keywords, and its
 * share of `enum`/`const`; none when `enum`/`const` admit no value of it.
 */
function branch(node: Schema, type: string): Schema[] {
  const result: Schema = { type };
  for (const key of TYPE_KEYWORDS[type] ?? []) if (key in node) result[key] = node[key];
  if ("const" in node) {
    if (!hasType(node.const, type)) return [];
    if (type !== "null") result.const = node.const;
  }
  if (Array.isArray(node.enum)) {
    const values = node.enum.filter((value) => hasType(value, type));
    if (values.length === 0) return [];
    // `{"type": "null"}` already admits only null.
    if (type !== "null") result.enum = values;
  }
  return [result];
}

/** Whether `value` is an instance of the JSON Schema `type`. */
function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "integer":
      return Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return isSchema(value);
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    default:
      return false;
  }
}
