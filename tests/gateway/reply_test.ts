import assert from "node:assert/strict";
import {
  agentsFromModels,
  gatewayErrorMessage,
  gatewayMessage,
  parseChunk,
  parseCompletion,
  parseModelIds,
} from "../../src/gateway/reply.ts";

Deno.test("reply: a completion reads its first choice, with defaults", () => {
  assert.deepEqual(
    parseCompletion({
      model: "openclaw/main",
      choices: [{ message: { content: "hi" }, finish_reason: "stop" }, { message: {} }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    }, "openclaw"),
    {
      reply: "hi",
      model: "openclaw/main",
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      finishReason: "stop",
    },
  );
  assert.deepEqual(parseCompletion({ choices: [{ message: { content: null } }] }, "fallback"), {
    reply: "",
    model: "fallback",
    usage: null,
    finishReason: null,
  });
  assert.equal(parseCompletion({ choices: [] }, "m"), undefined);
  assert.equal(parseCompletion("text", "m"), undefined);
});

Deno.test("reply: a chunk gives its deltas in order and its last finish reason", () => {
  assert.deepEqual(
    parseChunk({
      id: "chatcmpl-1",
      model: "m",
      choices: [
        { delta: { content: "a" } },
        { delta: { content: "" }, finish_reason: "length" },
        { delta: { content: "b" }, finish_reason: "stop" },
      ],
    }),
    { id: "chatcmpl-1", model: "m", usage: null, deltas: ["a", "b"], finishReason: "stop" },
  );
  assert.deepEqual(parseChunk({ usage: { total_tokens: 5 } }), {
    id: undefined,
    model: undefined,
    usage: { total_tokens: 5 },
    deltas: [],
    finishReason: null,
  });
  assert.equal(parseChunk({ choices: "nope" }), undefined);
  assert.equal(parseChunk(null), undefined);
});

Deno.test("reply: model ids, and the agents among them", () => {
  assert.deepEqual(parseModelIds({ data: [{ id: "openclaw/main" }, { id: "x" }] }), [
    "openclaw/main",
    "x",
  ]);
  assert.equal(parseModelIds({ data: [{ name: "no id" }] }), undefined);
  assert.deepEqual(agentsFromModels(["openclaw/b", "openclaw:a", "openclaw/b", "gpt"]), ["a", "b"]);
});

Deno.test("reply: error bodies give a cleaned message; other shapes none", () => {
  assert.equal(gatewayErrorMessage({ error: { message: " a \n b " } }), "a b");
  assert.equal(gatewayErrorMessage({ error: {} }), "");
  assert.equal(gatewayErrorMessage({ error: "flat" }), undefined);
  assert.equal(gatewayErrorMessage({ choices: [] }), undefined);
  assert.equal(gatewayErrorMessage(null), undefined);
  assert.equal(gatewayMessage(undefined), "");
  const long = gatewayMessage("x".repeat(400));
  assert.equal(long.length, 300);
  assert.ok(long.endsWith("..."));
});
