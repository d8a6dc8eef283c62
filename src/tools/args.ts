/**
 * Argument schemas shared by the chat tools (sync and async).
 *
 * @module
 */
import { z } from "zod";
import { instanceArg, plainText } from "./tool.ts";

/** Longest message accepted, in characters after trimming. */
export const MAX_MESSAGE_CHARS = 100_000;

/** Longest session id or agent id accepted. */
export const MAX_ID_CHARS = 256;

/** Session-key prefixes the gateway reserves for its own sessions. */
export const RESERVED_SESSION_PREFIXES = ["subagent:", "cron:", "acp:"];

/** The message argument: trimmed, 1 to 100,000 characters, no control characters. */
export const messageArg: z.ZodType<string> = plainText("message").trim()
  .min(1, "message is empty; send some text")
  .max(
    MAX_MESSAGE_CHARS,
    `message is longer than ${MAX_MESSAGE_CHARS} characters; shorten it or split it over several calls`,
  )
  .describe("The message to send to the OpenClaw agent");

/**
 * Characters a session id may hold: it travels as an HTTP header value
 * (`x-openclaw-session-key`), which carries visible ASCII, spaces and
 * Latin-1 letters only (no line breaks, no C1 controls, nothing above U+00FF).
 */
export const SESSION_ID_PATTERN = /^[\u0020-\u007e\u00a0-\u00ff]*$/;

/** The session id argument: conversation continuity across calls. */
export const sessionArg: z.ZodOptional<z.ZodType<string>> = plainText("session_id").trim()
  .min(1, "session_id is empty; leave it out for a new conversation")
  .max(MAX_ID_CHARS, `session_id is longer than ${MAX_ID_CHARS} characters; use a shorter key`)
  .regex(
    SESSION_ID_PATTERN,
    "session_id may hold only printable ASCII (letters, digits, punctuation, spaces) and Latin-1 letters (U+00A0-U+00FF), no line breaks: it is sent to the gateway as an HTTP header",
  )
  .refine(
    (id) => !RESERVED_SESSION_PREFIXES.some((p) => id.toLowerCase().startsWith(p)),
    `session_id may not start with ${
      RESERVED_SESSION_PREFIXES.join(", ")
    } (reserved by OpenClaw); choose another key`,
  )
  .describe("Conversation key: reuse it to continue the same OpenClaw session")
  .optional();

/** The `agent` argument: an OpenClaw agent id, checked for shape here and for existence by the gateway. */
export const agentArg: z.ZodOptional<z.ZodString> = z.string()
  .max(MAX_ID_CHARS, `agent is longer than ${MAX_ID_CHARS} characters`)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    "agent must be an OpenClaw agent id such as 'main' (letters, digits, '.', '_', '-')",
  )
  .describe("OpenClaw agent id; the instance's default agent when omitted")
  .optional();

/** Arguments of `openclaw_chat`. */
export const chatArgs = {
  message: messageArg,
  session_id: sessionArg,
  instance: instanceArg,
  agent: agentArg,
};
