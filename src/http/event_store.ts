/**
 * A bounded in-memory event store for Streamable HTTP resumability: a client
 * that reconnects with `Last-Event-ID` gets the events it missed that are
 * still held. One store per session, freed with it.
 *
 * What is held is bounded four ways, so a long session does not keep every
 * reply it was ever sent: events per stream, bytes per session (serialized
 * JSON), age, and a short grace window after a stream's final response (the
 * window in which a client that lost the connection reconnects). Replay
 * sends what is still held after the given id; an id whose stream was
 * dropped entirely is unknown (the transport answers 400).
 *
 * @module
 */
import type { EventStore, JSONRPCMessage } from "@modelcontextprotocol/server";
import { utf8Bytes } from "../utf8.ts";

/** Default events kept per stream; beyond it the oldest is dropped, and a resume replays only what is left. */
export const EVENTS_PER_STREAM = 256;

/** Default bytes of events (serialized JSON) kept per session: 2 MiB. */
export const EVENT_BYTES_PER_SESSION = 2 * 1024 * 1024;

/** Default age after which an event is dropped: 10 minutes. */
export const EVENT_MAX_AGE_MS = 10 * 60_000;

/** Default time a finished stream stays replayable after its final response: 60 s. */
export const FINISHED_STREAM_GRACE_MS = 60_000;

/**
 * How often storing an event also walks every stream for what is past its
 * time. Every POST of a session is a stream, and finished ones stay for the
 * grace window, so walking them on each event made a busy session's cost
 * grow with the square of its call rate; the byte budget is still kept on
 * every event.
 */
export const PRUNE_INTERVAL_MS = 1_000;

/** Options for {@linkcode BoundedEventStore}. */
export interface EventStoreOptions {
  /** Events kept per stream, oldest dropped first; default {@linkcode EVENTS_PER_STREAM}. */
  perStream?: number;
  /** Bytes of events kept in the store; the oldest go first. */
  maxBytes?: number;
  /** Age after which an event is dropped. */
  maxAgeMs?: number;
  /** Time a stream stays after its final response. */
  finishedGraceMs?: number;
  /** Epoch ms clock that ages and grace periods are measured on; default `Date.now`. */
  now?: () => number;
}

interface StoredEvent {
  id: string;
  seq: number;
  message: JSONRPCMessage;
  bytes: number;
  at: number;
}

interface Stream {
  events: StoredEvent[];
  /** Epoch ms of the last event stored. */
  lastAt: number;
  /** When a response was last stored with nothing after it; null while active. */
  finishedAt: number | null;
}

function isResponse(message: JSONRPCMessage): boolean {
  return "id" in message && ("result" in message || "error" in message);
}

/** The stream id and sequence number in an event id (`<stream>_<seq>`). */
function parseEventId(eventId: string): { streamId: string; seq: number } {
  const cut = eventId.lastIndexOf("_");
  return { streamId: eventId.slice(0, cut), seq: Number(eventId.slice(cut + 1)) };
}

/** Holds recent events of each stream within a byte, age and count budget. */
export class BoundedEventStore implements EventStore {
  #streams = new Map<string, Stream>();
  #limit: number;
  #maxBytes: number;
  #maxAgeMs: number;
  #graceMs: number;
  #now: () => number;
  #bytes = 0;
  #prunedAt = -Infinity;
  // One sequence for the whole store, so that a stream dropped and seen
  // again never reuses an event id.
  #seq = 0;

  /** Creates a store; `limit` alone (events per stream) is the old signature. */
  constructor(limit: number | EventStoreOptions = {}) {
    const options = typeof limit === "number" ? { perStream: limit } : limit;
    this.#limit = options.perStream ?? EVENTS_PER_STREAM;
    this.#maxBytes = options.maxBytes ?? EVENT_BYTES_PER_SESSION;
    this.#maxAgeMs = options.maxAgeMs ?? EVENT_MAX_AGE_MS;
    this.#graceMs = options.finishedGraceMs ?? FINISHED_STREAM_GRACE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Events held now, over all streams (for tests and /health). */
  get size(): number {
    let n = 0;
    for (const s of this.#streams.values()) n += s.events.length;
    return n;
  }

  /** Bytes held now (serialized JSON of the events), over all streams. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Streams held now, finished ones still in their grace period included (for tests). */
  get streams(): number {
    return this.#streams.size;
  }

  /** Records an event; returns its id (`<stream>_<seq>`). */
  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const at = this.#now();
    let stream = this.#streams.get(streamId);
    if (!stream) {
      stream = { events: [], lastAt: at, finishedAt: null };
      this.#streams.set(streamId, stream);
    }
    const seq = ++this.#seq;
    const id = `${streamId}_${seq}`;
    const bytes = utf8Bytes(JSON.stringify(message));
    stream.events.push({ id, seq, message, bytes, at });
    stream.lastAt = at;
    stream.finishedAt = isResponse(message) ? at : null;
    this.#bytes += bytes;
    if (stream.events.length > this.#limit) this.#bytes -= stream.events.shift()!.bytes;
    if (at - this.#prunedAt >= PRUNE_INTERVAL_MS) this.prune();
    else this.#keepBudget();
    return Promise.resolve(id);
  }

  /**
   * Drops what is past its time (finished streams after the grace window,
   * events past the age limit), then the oldest events until the store is
   * within its byte budget. Stores call it at most every
   * {@linkcode PRUNE_INTERVAL_MS}; call it from a timer too, so an idle
   * session frees memory.
   */
  prune(): void {
    const t = this.#now();
    this.#prunedAt = t;
    const ageCutoff = t - this.#maxAgeMs;
    for (const [streamId, stream] of this.#streams) {
      if (stream.finishedAt !== null && t - stream.finishedAt >= this.#graceMs) {
        this.#dropStream(streamId, stream);
        continue;
      }
      while (stream.events.length && stream.events[0].at <= ageCutoff) {
        this.#bytes -= stream.events.shift()!.bytes;
      }
      // A stream silent for the whole age limit is forgotten with its events.
      if (!stream.events.length && stream.lastAt <= ageCutoff) this.#dropStream(streamId, stream);
    }
    this.#keepBudget();
  }

  /** Drops the oldest events until the store is within its byte budget. */
  #keepBudget(): void {
    while (this.#bytes > this.#maxBytes) {
      let oldest: Stream | undefined;
      for (const stream of this.#streams.values()) {
        const first = stream.events[0];
        if (first && (!oldest || first.seq < oldest.events[0].seq)) oldest = stream;
      }
      if (!oldest) break;
      this.#bytes -= oldest.events.shift()!.bytes;
    }
  }

  #dropStream(streamId: string, stream: Stream): void {
    for (const event of stream.events) this.#bytes -= event.bytes;
    this.#streams.delete(streamId);
  }

  /** The stream an event id belongs to, while that stream is held. */
  getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    this.prune();
    const { streamId } = parseEventId(eventId);
    return Promise.resolve(this.#streams.has(streamId) ? streamId : undefined);
  }

  /** Sends the events still held after `lastEventId` on its stream. */
  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const { streamId, seq } = parseEventId(lastEventId);
    const stream = this.#streams.get(streamId);
    if (!stream) return streamId;
    for (const event of [...stream.events]) {
      if (event.seq > seq) await send(event.id, event.message);
    }
    return streamId;
  }
}
