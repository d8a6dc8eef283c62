/**
 * The gateway's replies, validated at the edge with zod: a chat completion
 * (one JSON body, or one streamed chunk at a time), the model list and the
 * OpenAI-style error body. Parsers return `undefined` for a shape that does
 * not fit; the caller words the error.
 *
 * @module
 */
import { z } from "zod";

/** Token usage as the gateway reports it. */
export interface Usage {
  /** Tokens of the prompt the model read. */
  prompt_tokens?: number;
  /** Tokens the model wrote. */
  completion_tokens?: number;
  /** Both together, as the gateway counts them. */
  total_tokens?: number;
}

/** A completed chat reply. */
export interface ChatReply {
  /** The assistant's text. */
  reply: string;
  /** The model the gateway says answered. */
  model: string;
  /** Token usage, when reported. */
  usage: Usage | null;
  /** Why generation stopped, when reported. */
  finishReason: string | null;
}

/** What one streamed chunk adds to the reply. */
export interface ChatChunk {
  /** The completion's id (the gateway's run id), when the chunk names one. */
  id: string | undefined;
  /** The model, when the chunk names one. */
  model: string | undefined;
  /** Token usage, when the chunk carries it (usually the last one). */
  usage: Usage | null;
  /** The non-empty text deltas, in order. */
  deltas: string[];
  /** The last finish reason the chunk gives, if any. */
  finishReason: string | null;
}

const usageSchema = z.object({
  prompt_tokens: z.number().optional(),
  completion_tokens: z.number().optional(),
  total_tokens: z.number().optional(),
}).passthrough().nullish();

const errorBodySchema = z.object({
  error: z.object({ message: z.string().optional(), type: z.string().optional() }).passthrough(),
});

const completionSchema = z.object({
  model: z.string().optional(),
  choices: z.array(
    z.object({
      message: z.object({ content: z.string().nullish() }).passthrough(),
      finish_reason: z.string().nullish(),
    }).passthrough(),
  ).min(1),
  usage: usageSchema,
}).passthrough();

const chunkSchema = z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.object({
      delta: z.object({ content: z.string().nullish() }).passthrough().optional(),
      finish_reason: z.string().nullish(),
    }).passthrough(),
  ).optional(),
  usage: usageSchema,
}).passthrough();

const modelsSchema = z.object({
  data: z.array(z.object({ id: z.string() }).passthrough()),
}).passthrough();

/**
 * A non-streamed completion as a {@linkcode ChatReply}, or `undefined` when
 * it has no `choices[0].message`.
 *
 * @param defaultModel the model to report when the reply names none.
 */
export function parseCompletion(json: unknown, defaultModel: string): ChatReply | undefined {
  const parsed = completionSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const choice = parsed.data.choices[0];
  return {
    reply: choice.message.content ?? "",
    model: parsed.data.model ?? defaultModel,
    usage: parsed.data.usage ?? null,
    finishReason: choice.finish_reason ?? null,
  };
}

/** One streamed chunk's contribution, or `undefined` when it is not a chat chunk. */
export function parseChunk(json: unknown): ChatChunk | undefined {
  const parsed = chunkSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const deltas: string[] = [];
  let finishReason: string | null = null;
  for (const choice of parsed.data.choices ?? []) {
    const delta = choice.delta?.content;
    if (delta) deltas.push(delta);
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  return {
    id: parsed.data.id,
    model: parsed.data.model,
    usage: parsed.data.usage ?? null,
    deltas,
    finishReason,
  };
}

/** The ids of a `/v1/models` list, or `undefined` when it is not one. */
export function parseModelIds(json: unknown): string[] | undefined {
  const parsed = modelsSchema.safeParse(json);
  return parsed.success ? parsed.data.data.map((m) => m.id) : undefined;
}

/**
 * The message of an OpenAI-style error body (`{"error": {"message": ...}}`),
 * cleaned by {@linkcode gatewayMessage}; `undefined` when `json` is not one.
 */
export function gatewayErrorMessage(json: unknown): string | undefined {
  // Checked before zod: streamed chunks pass here on the hot path, and a
  // failed safeParse builds a costly error.
  if (json === null || typeof json !== "object" || !("error" in json)) return undefined;
  const parsed = errorBodySchema.safeParse(json);
  return parsed.success ? gatewayMessage(parsed.data.error.message) : undefined;
}

/** Cleans a gateway-supplied message for display: one line, at most 300 characters. */
export function gatewayMessage(text: string | undefined): string {
  if (!text) return "";
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? line.slice(0, 297) + "..." : line;
}

/** Agent ids from `/v1/models` ids such as `openclaw/main`; `openclaw` and `openclaw/default` are aliases. */
export function agentsFromModels(ids: string[]): string[] {
  const agents = new Set<string>();
  for (const id of ids) {
    const match = /^openclaw[/:](.+)$/.exec(id);
    if (match && match[1] !== "default") agents.add(match[1]);
  }
  return [...agents].sort();
}
