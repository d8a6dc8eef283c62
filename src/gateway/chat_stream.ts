/**
 * Reading a streamed chat completion (`text/event-stream` of OpenAI-style
 * chunks, ended by `data: [DONE]`) into one {@linkcode ChatReply}, passing
 * each text delta on as it arrives.
 *
 * @module
 */
import { BodyTooLarge } from "../read_capped.ts";
import { badReplyError, disconnectedError, streamError } from "./errors.ts";
import { type ChatReply, gatewayErrorMessage, parseChunk } from "./reply.ts";
import type { GatewayCall } from "./request.ts";
import { SseParser } from "./sse.ts";

/** Called with each streamed delta and the text so far. */
export type OnDelta = (delta: string, text: string) => void;

/** What {@linkcode readChatStream} needs besides the response. */
export interface ChatStreamOptions {
  /** The call the response belongs to: its signal, size cap and instance. */
  call: GatewayCall;
  /** Called for each delta as it arrives, in order (progress, partial text). */
  onDelta?: OnDelta;
  /** Called once with the completion's id (OpenClaw's run id) when a chunk first names it. */
  onRunId?: (id: string) => void;
}

/**
 * Reads `response`'s event stream to its end. A stream that stops before
 * `[DONE]` and without a finish reason is an error; so is an error event,
 * a chunk that is not JSON or not a chat chunk, and a stream over the cap.
 * Stopping early cancels the body, releasing the connection.
 *
 * @throws {BridgeError} `gateway_error`, `gateway_bad_reply`, `gateway_disconnected`, `gateway_timeout` or `cancelled`.
 */
export async function readChatStream(
  response: Response,
  options: ChatStreamOptions,
): Promise<ChatReply> {
  const { call, onDelta } = options;
  let onRunId = options.onRunId;
  const { instance, maxReplyBytes } = call.target;
  const body = response.body;
  if (!body) throw badReplyError(instance, "the stream has no body");
  const parser = new SseParser();
  const reply: ChatReply = { reply: "", model: instance.model, usage: null, finishReason: null };
  let done = false;
  let ended = false;
  let bytes = 0;
  // Decoded here rather than through a TextDecoderStream: one stream hop
  // less per chunk (measured: web streams are the largest CPU cost of a call).
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (!done) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw call.readError(error);
      }
      if (chunk.done) {
        ended = true;
        break;
      }
      bytes += chunk.value.byteLength;
      if (bytes > maxReplyBytes) throw call.readError(new BodyTooLarge(maxReplyBytes));
      for (const event of parser.push(decoder.decode(chunk.value, { stream: true }))) {
        if (event.data === "[DONE]") {
          done = true;
          break;
        }
        const id = applyEvent(reply, { data: event.data, call, onDelta });
        if (id && onRunId) {
          onRunId(id);
          onRunId = undefined;
        }
      }
    }
  } finally {
    // Release the connection when we stop early; a finished stream needs nothing.
    if (!ended) reader.cancel().catch(() => {});
  }
  if (!done && reply.finishReason === null) throw disconnectedError(instance, "ended");
  return reply;
}

/**
 * Adds one event's chunk to `reply`, or throws what the event says went
 * wrong; returns the chunk's id, if it names one.
 */
function applyEvent(
  reply: ChatReply,
  event: { data: string; call: GatewayCall; onDelta?: OnDelta },
): string | undefined {
  const { instance } = event.call.target;
  let json: unknown;
  try {
    json = JSON.parse(event.data);
  } catch {
    throw badReplyError(instance, "a stream event is not JSON");
  }
  const error = gatewayErrorMessage(json);
  if (error !== undefined) throw streamError(instance, error);
  const chunk = parseChunk(json);
  if (!chunk) throw badReplyError(instance, "a stream event is not a chat chunk");
  if (chunk.model) reply.model = chunk.model;
  if (chunk.usage) reply.usage = chunk.usage;
  for (const delta of chunk.deltas) {
    reply.reply += delta;
    event.onDelta?.(delta, reply.reply);
  }
  if (chunk.finishReason) reply.finishReason = chunk.finishReason;
  return chunk.id;
}
