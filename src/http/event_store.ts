/**
 * A bounded in-memory event store for Streamable HTTP resumability: a client
 * that reconnects with `Last-Event-ID` gets the events it missed, up to the
 * last `limit` per stream. One store per session, freed with it.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import type { EventStore } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** Default events kept per stream. */
export const EVENTS_PER_STREAM = 256;

/** Keeps the last `limit` events of each stream. */
export class BoundedEventStore implements EventStore {
  #streams = new Map<string, { seq: number; events: { id: string; message: JSONRPCMessage }[] }>();
  #limit: number;

  /** Creates a store keeping `limit` events per stream. */
  constructor(limit = EVENTS_PER_STREAM) {
    this.#limit = limit;
  }

  /** Events held now, over all streams (for tests and /health). */
  get size(): number {
    let n = 0;
    for (const s of this.#streams.values()) n += s.events.length;
    return n;
  }

  /** Records an event; returns its id (`<stream>_<seq>`). */
  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const stream = this.#streams.get(streamId) ?? { seq: 0, events: [] };
    this.#streams.set(streamId, stream);
    const id = `${streamId}_${++stream.seq}`;
    stream.events.push({ id, message });
    if (stream.events.length > this.#limit) stream.events.shift();
    return Promise.resolve(id);
  }

  /** The stream an event id belongs to. */
  getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    const streamId = eventId.slice(0, eventId.lastIndexOf("_"));
    return Promise.resolve(this.#streams.has(streamId) ? streamId : undefined);
  }

  /** Sends the events after `lastEventId` on its stream. */
  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = lastEventId.slice(0, lastEventId.lastIndexOf("_"));
    const seq = Number(lastEventId.slice(lastEventId.lastIndexOf("_") + 1));
    const stream = this.#streams.get(streamId);
    if (!stream) return streamId;
    for (const event of stream.events) {
      if (Number(event.id.slice(event.id.lastIndexOf("_") + 1)) > seq) {
        await send(event.id, event.message);
      }
    }
    return streamId;
  }
}
