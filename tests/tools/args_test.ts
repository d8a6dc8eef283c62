/** The chat argument schemas: what a message, session id and agent may be, and the messages when not. */
import assert from "node:assert/strict";
import type { z } from "zod";
import {
  agentArg,
  chatArgs,
  MAX_ID_CHARS,
  MAX_MESSAGE_CHARS,
  messageArg,
  RESERVED_SESSION_PREFIXES,
  sessionArg,
} from "../../src/tools/args.ts";

function refusal(schema: z.ZodType, value: unknown): string {
  const result = schema.safeParse(value);
  assert.ok(!result.success, `expected ${JSON.stringify(value).slice(0, 40)} to be refused`);
  return result.error.issues[0].message;
}

Deno.test("args: a message is trimmed, not empty, within the cap, without control characters", () => {
  assert.equal(messageArg.parse("  hello \n"), "hello");
  assert.equal(messageArg.parse("x".repeat(MAX_MESSAGE_CHARS)).length, MAX_MESSAGE_CHARS);
  assert.equal(messageArg.parse(` ${"x".repeat(MAX_MESSAGE_CHARS)} `).length, MAX_MESSAGE_CHARS);
  assert.match(refusal(messageArg, "   "), /^message is empty/);
  assert.match(refusal(messageArg, "x".repeat(MAX_MESSAGE_CHARS + 1)), /longer than 100000/);
  assert.match(refusal(messageArg, "bell\u0007"), /control characters/);
});

Deno.test("args: a session id must fit an HTTP header and stay out of reserved namespaces", () => {
  assert.equal(sessionArg.parse(undefined), undefined);
  assert.equal(sessionArg.parse(" project-x "), "project-x");
  assert.equal(sessionArg.parse("café ÿ"), "café ÿ", "Latin-1 letters are fine");
  assert.equal(sessionArg.parse("x".repeat(MAX_ID_CHARS))?.length, MAX_ID_CHARS);
  assert.match(refusal(sessionArg, "x".repeat(MAX_ID_CHARS + 1)), /longer than 256/);
  assert.match(refusal(sessionArg, " "), /^session_id is empty/);
  for (const bad of ["a\nb", "Ā", "😀", "\u0085"]) {
    assert.match(refusal(sessionArg, bad), /session_id/, JSON.stringify(bad));
  }
  assert.deepEqual(RESERVED_SESSION_PREFIXES, ["subagent:", "cron:", "acp:"]);
  for (const reserved of ["subagent:x", "CRON:daily", "Acp:1"]) {
    assert.match(refusal(sessionArg, reserved), /reserved by OpenClaw/);
  }
  assert.equal(sessionArg.parse("my-cron:job"), "my-cron:job", "only as a prefix");
});

Deno.test("args: an agent is an OpenClaw agent id", () => {
  assert.equal(agentArg.parse("main"), "main");
  assert.equal(agentArg.parse("team.bot_2-x"), "team.bot_2-x");
  assert.equal(agentArg.parse(undefined), undefined);
  for (const bad of ["", "-lead", "a b", "a/b", "ü"]) {
    assert.match(refusal(agentArg, bad), /agent must be an OpenClaw agent id/, bad);
  }
  assert.match(refusal(agentArg, "a".repeat(MAX_ID_CHARS + 1)), /longer than 256/);
});

Deno.test("args: openclaw_chat takes message, session_id, instance and agent", () => {
  assert.deepEqual(Object.keys(chatArgs), ["message", "session_id", "instance", "agent"]);
  assert.equal(chatArgs.message, messageArg);
});
