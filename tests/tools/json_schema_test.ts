/**
 * Tool JSON Schemas: nullables as `anyOf` branches of one type, open records
 * as `additionalProperties: true`, and every value judged as before (by the
 * SDK client's own Ajv validator). Covers every tool of the real toolset.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { z } from "zod";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { silentLogger } from "../../src/log.ts";
import { createToolset } from "../../src/server.ts";
import { TaskRunner } from "../../src/tasks/runner.ts";
import { TaskStore } from "../../src/tasks/store.ts";
import { portableJsonSchema, toolJsonSchema } from "../../src/tools/json_schema.ts";
import { errorEnvelope } from "../../src/tools/tool.ts";

type Schema = Record<string, unknown>;

const ajv = new AjvJsonSchemaValidator();

/** Whether `schema` accepts `value`, as the SDK client judges tool results. */
function validator(schema: unknown): (value: unknown) => boolean {
  const check = ajv.getValidator(schema as Parameters<typeof ajv.getValidator>[0]);
  return (value) => check(value).valid;
}

/** Values of every JSON type, a few of each. */
const SCALARS: unknown[] = [
  null,
  true,
  false,
  "",
  "x",
  "2026-01-01T00:00:00.000Z",
  0,
  1,
  -1,
  1.5,
  [],
  {},
];

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unique(values: unknown[]): unknown[] {
  const seen = new Map<string, unknown>();
  for (const value of values) seen.set(JSON.stringify(value), value);
  return [...seen.values()];
}

/**
 * Values around `schema`: scalars, its enum and const values, and objects and
 * arrays built from its subschemas' values, one property changed at a time
 * from a valid base (so valid and nearly-valid instances both appear).
 */
function samples(schema: unknown, depth = 0): unknown[] {
  if (!isSchema(schema) || depth > 8) return SCALARS;
  const values = [...SCALARS];
  if (Array.isArray(schema.enum)) values.push(...schema.enum);
  if ("const" in schema) values.push(schema.const);
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    for (const sub of (schema[key] as unknown[] | undefined) ?? []) {
      values.push(...samples(sub, depth + 1));
    }
  }
  if (isSchema(schema.items)) {
    values.push(...samples(schema.items, depth + 1).map((item) => [item]));
  }
  if (isSchema(schema.additionalProperties)) {
    values.push(...samples(schema.additionalProperties, depth + 1).map((v) => ({ any: v })));
  }
  if (isSchema(schema.properties)) {
    const props = Object.entries(schema.properties).map(([name, sub]) => {
      const accepts = validator(sub);
      const own = unique(samples(sub, depth + 1));
      return { name, own, base: own.find(accepts) ?? own[0] };
    });
    const base = Object.fromEntries(props.map((p) => [p.name, p.base]));
    values.push(base, { ...base, extra: 1 });
    for (const { name, own } of props) {
      const { [name]: _, ...without } = base;
      values.push(without, ...own.map((value) => ({ ...base, [name]: value })));
    }
  }
  return unique(values);
}

/** Asserts `rewritten` accepts exactly the `values` that `original` accepts. */
function assertSameVerdicts(original: unknown, rewritten: unknown, values: unknown[]): void {
  const before = validator(original);
  const after = validator(rewritten);
  for (const value of values) {
    assert.equal(after(value), before(value), `verdict changed for ${JSON.stringify(value)}`);
  }
}

/** `z.toJSONSchema` as the tools listed it before the rewrite. */
function zodJsonSchema(schema: z.ZodType, io: "input" | "output"): Schema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io }) as Schema;
  return rest;
}

/** Every schema object in `schema` (itself included), with its path. */
function* schemaNodes(schema: unknown, path = "#"): Generator<[string, Schema]> {
  if (!isSchema(schema)) return;
  yield [path, schema];
  for (const [key, value] of Object.entries(schema)) {
    if (key === "enum" || key === "const" || key === "default" || key === "examples") continue;
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) yield* schemaNodes(item, `${path}/${key}/${i}`);
    } else if (isSchema(value)) {
      yield* schemaNodes(value, `${path}/${key}`);
    }
  }
}

/** Keywords that describe a schema without constraining any value. */
const ANNOTATIONS = new Set([
  "description",
  "title",
  "default",
  "examples",
  "$comment",
  "deprecated",
  "readOnly",
  "writeOnly",
]);

/** What the MCP Inspector's `--strict` lint warns on: type arrays and schemas that constrain nothing. */
function portabilityFindings(schema: Schema): string[] {
  const findings: string[] = [];
  for (const [path, node] of schemaNodes(schema)) {
    if (Array.isArray(node.type)) findings.push(`${path}: type ${JSON.stringify(node.type)}`);
    const constrains = Object.keys(node).some((key) => !ANNOTATIONS.has(key));
    // Map keywords hold schemas by name; their own object is not a schema.
    const isMap = /\/(properties|patternProperties|\$defs|definitions|dependencies)$/.test(path);
    if (!constrains && !isMap && !path.endsWith("/not")) {
      findings.push(`${path}: constrains nothing (${JSON.stringify(node)})`);
    }
  }
  return findings;
}

Deno.test("json_schema: a nullable primitive becomes anyOf branches of one type each", () => {
  assert.deepEqual(toolJsonSchema(z.string().nullable(), "output"), {
    anyOf: [{ type: "string" }, { type: "null" }],
  });
  assert.deepEqual(toolJsonSchema(z.number().nullable(), "output"), {
    anyOf: [{ type: "number" }, { type: "null" }],
  });
  assert.deepEqual(toolJsonSchema(z.boolean().nullable(), "output"), {
    anyOf: [{ type: "boolean" }, { type: "null" }],
  });
  assert.deepEqual(toolJsonSchema(z.union([z.string(), z.number()]).nullable(), "output"), {
    anyOf: [{ type: "string" }, { type: "number" }, { type: "null" }],
  });
});

Deno.test("json_schema: description and default stay on the outer schema", () => {
  const schema = z.object({
    position: z.number().nullable().describe("Tasks ahead; null if over 1,000"),
    session_id: z.string().nullable().default(null),
  });
  assert.deepEqual(toolJsonSchema(schema, "input"), {
    type: "object",
    properties: {
      position: {
        description: "Tasks ahead; null if over 1,000",
        anyOf: [{ type: "number" }, { type: "null" }],
      },
      session_id: { default: null, anyOf: [{ type: "string" }, { type: "null" }] },
    },
    required: ["position"],
  });
});

Deno.test("json_schema: nullable enum, object and array keep zod's anyOf as it is", () => {
  assert.deepEqual(toolJsonSchema(z.enum(["ok", "error"]).nullable(), "output"), {
    anyOf: [{ type: "string", enum: ["ok", "error"] }, { type: "null" }],
  });
  assert.deepEqual(toolJsonSchema(z.object({ a: z.number() }).nullable(), "output"), {
    anyOf: [{
      type: "object",
      properties: { a: { type: "number" } },
      required: ["a"],
      additionalProperties: false,
    }, { type: "null" }],
  });
  assert.deepEqual(toolJsonSchema(z.array(z.string().nullable()).max(3).nullable(), "output"), {
    anyOf: [
      { type: "array", maxItems: 3, items: { anyOf: [{ type: "string" }, { type: "null" }] } },
      { type: "null" },
    ],
  });
});

Deno.test("json_schema: an open record's additionalProperties {} becomes true", () => {
  assert.deepEqual(toolJsonSchema(z.record(z.string(), z.unknown()).nullable(), "output"), {
    anyOf: [
      { type: "object", propertyNames: { type: "string" }, additionalProperties: true },
      { type: "null" },
    ],
  });
  // `{}` elsewhere is not a place for a boolean: left alone.
  assert.deepEqual(toolJsonSchema(z.object({ u: z.unknown() }), "output"), {
    type: "object",
    properties: { u: {} },
    required: ["u"],
    additionalProperties: false,
  });
  assert.deepEqual(portableJsonSchema({ type: "array", items: [{}], additionalItems: {} }), {
    type: "array",
    items: [{}],
    additionalItems: true,
  });
  const annotated = { type: "object", additionalProperties: { description: "anything" } };
  assert.deepEqual(portableJsonSchema(annotated), annotated);
});

Deno.test("json_schema: nested nullables are rewritten at every depth", () => {
  const schema = z.object({
    tasks: z.array(z.object({
      id: z.string(),
      agent: z.string().nullable(),
      error: z.object({ code: z.string(), status: z.number().nullable() }).nullable(),
    })),
    next_cursor: z.string().nullable(),
  });
  const nullable = (type: string) => ({ anyOf: [{ type }, { type: "null" }] });
  assert.deepEqual(toolJsonSchema(schema, "output"), {
    type: "object",
    properties: {
      tasks: {
        type: "array",
        items: {
          type: "object",
          properties: {
            id: { type: "string" },
            agent: nullable("string"),
            error: {
              anyOf: [{
                type: "object",
                properties: { code: { type: "string" }, status: nullable("number") },
                required: ["code", "status"],
                additionalProperties: false,
              }, { type: "null" }],
            },
          },
          required: ["id", "agent", "error"],
          additionalProperties: false,
        },
      },
      next_cursor: nullable("string"),
    },
    required: ["tasks", "next_cursor"],
    additionalProperties: false,
  });
});

Deno.test("json_schema: every subschema keyword is walked", () => {
  const pair = { type: ["string", "null"] };
  const split = { anyOf: [{ type: "string" }, { type: "null" }] };
  const input = {
    $defs: { a: pair },
    definitions: { b: pair },
    properties: { c: pair },
    patternProperties: { "^d": pair },
    additionalProperties: pair,
    dependencies: { e: pair, f: ["c"] },
    propertyNames: { type: ["string"] },
    items: [pair],
    additionalItems: pair,
    contains: pair,
    allOf: [pair],
    oneOf: [pair],
    not: pair,
    if: pair,
    then: pair,
    else: pair,
  };
  assert.deepEqual(portableJsonSchema(input), {
    $defs: { a: split },
    definitions: { b: split },
    properties: { c: split },
    patternProperties: { "^d": split },
    additionalProperties: split,
    dependencies: { e: split, f: ["c"] },
    propertyNames: { type: "string" },
    items: [split],
    additionalItems: split,
    contains: split,
    allOf: [split],
    oneOf: [split],
    not: split,
    if: split,
    then: split,
    else: split,
  });
  assert.deepEqual(portableJsonSchema({ items: pair, anyOf: [pair] }), {
    items: split,
    anyOf: [split],
  });
});

Deno.test("json_schema: type keywords move into their branch, annotations stay outside", () => {
  const original = {
    type: ["string", "integer", "array", "object", "null"],
    title: "T",
    description: "D",
    default: null,
    examples: ["a"],
    minLength: 1,
    pattern: "^a",
    format: "email",
    minimum: 2,
    multipleOf: 2,
    items: { type: "number" },
    minItems: 1,
    properties: { k: { type: "boolean" } },
    required: ["k"],
    additionalProperties: false,
  };
  const rewritten = portableJsonSchema(original);
  assert.deepEqual(rewritten, {
    title: "T",
    description: "D",
    default: null,
    examples: ["a"],
    anyOf: [
      { type: "string", minLength: 1, pattern: "^a", format: "email" },
      { type: "integer", minimum: 2, multipleOf: 2 },
      { type: "array", items: { type: "number" }, minItems: 1 },
      {
        type: "object",
        properties: { k: { type: "boolean" } },
        required: ["k"],
        additionalProperties: false,
      },
      { type: "null" },
    ],
  });
  assertSameVerdicts(original, rewritten, [
    ...SCALARS,
    "a@b.c",
    "ab",
    4,
    3,
    6.0,
    [1],
    ["x"],
    { k: true },
    { k: 1 },
    { k: true, j: 1 },
  ]);
});

Deno.test("json_schema: enum and const values go to the branches of their type", () => {
  const original = { type: ["string", "integer", "null"], enum: ["a", 1, null, 2.5, true] };
  const rewritten = portableJsonSchema(original);
  assert.deepEqual(rewritten, {
    anyOf: [{ type: "string", enum: ["a"] }, { type: "integer", enum: [1] }, { type: "null" }],
  });
  assertSameVerdicts(original, rewritten, [...SCALARS, "a", 2.5, 2]);

  // One branch left: a plain type; none of null's.
  assert.deepEqual(portableJsonSchema({ type: ["string", "null"], const: "x" }), {
    type: "string",
    const: "x",
  });
  assert.deepEqual(portableJsonSchema({ type: ["number", "null"], enum: [1.5, 2] }), {
    type: "number",
    enum: [1.5, 2],
  });
  assert.deepEqual(portableJsonSchema({ type: ["string", "null"], const: null }), {
    type: "null",
  });
  // No value of either type: admits nothing, left as it is.
  const nothing = { type: ["string", "null"], enum: [1] };
  assert.deepEqual(portableJsonSchema(nothing), nothing);
  assert.deepEqual(portableJsonSchema({ type: ["boolean"], description: "B" }), {
    type: "boolean",
    description: "B",
  });
});

Deno.test("json_schema: an anyOf already there joins the new one in an allOf", () => {
  const original = {
    type: ["string", "null"],
    anyOf: [{ maxLength: 2 }, { const: null }],
    allOf: [{ not: { const: "" } }],
  };
  const rewritten = portableJsonSchema(original);
  assert.deepEqual(rewritten, {
    allOf: [
      { not: { const: "" } },
      { anyOf: [{ maxLength: 2 }, { const: null }] },
      { anyOf: [{ type: "string" }, { type: "null" }] },
    ],
  });
  assertSameVerdicts(original, rewritten, [...SCALARS, "ab", "abc"]);
});

Deno.test("json_schema: the input schema object is not changed", () => {
  const original = {
    type: "object",
    properties: { a: { type: ["string", "null"] } },
    additionalProperties: {},
  };
  const copy = structuredClone(original);
  portableJsonSchema(original);
  assert.deepEqual(original, copy);
});

Deno.test("json_schema: every tool's schemas are portable and judge values as before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "json-schema-test-" });
  const kv = await Deno.openKv(join(dir, "tasks.kv"));
  try {
    const gateways = new GatewayRegistry([{
      name: "default",
      url: "http://127.0.0.1:9",
      timeoutMs: 1_000,
      isDefault: true,
      model: "openclaw",
    }]);
    const store = new TaskStore(kv);
    const runner = new TaskRunner({ store, gateways, log: silentLogger });
    const { tools } = createToolset({ gateways, tasks: { store, runner, ttlMs: 60_000 } });
    assert.equal(tools.size, 10, "the sync tools, the recall tools and the task tools");
    const schemas: [string, z.ZodType, "input" | "output"][] = [
      ["error envelope", errorEnvelope, "output"],
      ...[...tools.values()].flatMap((tool): [string, z.ZodType, "input" | "output"][] => [
        [`${tool.name} input`, tool.input, "input"],
        [`${tool.name} output`, tool.output, "output"],
      ]),
    ];
    let rewrites = 0;
    for (const [name, zod, io] of schemas) {
      const original = zodJsonSchema(zod, io);
      const rewritten = toolJsonSchema(zod, io);
      assert.deepEqual(portabilityFindings(rewritten), [], name);
      const values = samples(original);
      const accepts = validator(rewritten);
      assert.ok(values.some(accepts), `${name}: some samples are valid`);
      assert.ok(!values.every(accepts), `${name}: some samples are not`);
      assertSameVerdicts(original, rewritten, values);
      if (portabilityFindings(original).length > 0) rewrites++;
    }
    assert.ok(rewrites >= 8, `the rewrite had work to do (${rewrites} schemas)`);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
