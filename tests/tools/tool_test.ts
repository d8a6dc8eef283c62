/** The parts every tool shares: the error envelope and text, safe-text and instance arguments. */
import assert from "node:assert/strict";
import { z } from "zod";
import { BridgeError, ERROR_CODES } from "../../src/errors.ts";
import {
  defineTool,
  errorEnvelope,
  errorText,
  instanceArg,
  plainText,
} from "../../src/tools/tool.ts";

Deno.test("tool: errorText puts the code first and the hint on its own line", () => {
  assert.equal(
    errorText(new BridgeError("gateway_timeout", "No reply in 5 s.", "Raise the timeout.")),
    "Error [gateway_timeout]: No reply in 5 s.\nHint: Raise the timeout.",
  );
  assert.equal(errorText(new BridgeError("internal", "Oops.")), "Error [internal]: Oops.");
});

Deno.test("tool: the error envelope is the JSON of a BridgeError, nothing less", () => {
  const error = new BridgeError("unknown_agent", "No agent x.", "Use main.");
  assert.ok(errorEnvelope.safeParse({ error: error.toJSON() }).success);
  assert.ok(!errorEnvelope.safeParse({ error: { code: "x", message: "m" } }).success, "hint");
  assert.ok(!errorEnvelope.safeParse({ code: "x", message: "m", hint: "" }).success, "wrapped");
});

Deno.test("tool: the error envelope's code is one of the bridge's codes, in the JSON Schema too", () => {
  const body = { message: "m", hint: "" };
  assert.ok(errorEnvelope.safeParse({ error: { code: "interrupted", ...body } }).success);
  assert.ok(!errorEnvelope.safeParse({ error: { code: "made_up", ...body } }).success);
  const schema = z.toJSONSchema(errorEnvelope) as unknown as {
    properties: { error: { properties: { code: { enum: string[] } } } };
  };
  assert.deepEqual(schema.properties.error.properties.code.enum, ERROR_CODES);
});

Deno.test("tool: plainText refuses control characters except tab, CR and LF, naming the field", () => {
  const schema = plainText("note");
  assert.ok(schema.safeParse("line one\r\n\tline two").success);
  assert.ok(schema.safeParse("émoji 😀 fine").success);
  for (const bad of ["\u0000", "a\u0007b", "\u001b[31m", "\u007f", "\u000b", "\u000c"]) {
    const result = schema.safeParse(bad);
    assert.ok(!result.success, JSON.stringify(bad));
    assert.match(result.error.issues[0].message, /^note contains control characters/);
  }
});

Deno.test("tool: instanceArg is optional and at most 63 characters", () => {
  assert.ok(instanceArg.safeParse(undefined).success);
  assert.ok(instanceArg.safeParse("x".repeat(63)).success);
  assert.ok(!instanceArg.safeParse("x".repeat(64)).success);
});

Deno.test("tool: defineTool keeps the tool as declared", async () => {
  const input = z.object({ n: z.number() });
  const tool = defineTool({
    name: "double",
    title: "Double",
    description: "Doubles n.",
    input,
    output: z.object({ n: z.number() }),
    annotations: { readOnlyHint: true },
    run: (args) => Promise.resolve({ structured: { n: args.n * 2 } }),
  });
  assert.equal(tool.name, "double");
  assert.equal(tool.input, input);
  const context = { signal: new AbortController().signal, progress() {}, owner: "o" };
  assert.deepEqual(await tool.run({ n: 21 }, context), { structured: { n: 42 } });
});
