/**
 * Streamable HTTP sessions: one MCP server and transport per session, bound
 * to the principal that opened it, closed after `idleMs` without requests,
 * capped at `maxPerPrincipal` per principal and `max` in all. A principal at
 * either cap gets room by closing its own least recently used idle session
 * (no request in flight); another principal's sessions are never touched.
 * A stateless mode serves each request with a fresh server.
 *
 * @module
 */
import type { BridgeServer } from "../server.ts";
import {
  isInitializeRequest,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { Logger } from "../log.ts";
import { BoundedEventStore, type EventStoreOptions } from "./event_store.ts";
import { rpcError } from "./rpc_error.ts";

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: BridgeServer;
  events: BoundedEventStore;
  owner: string;
  lastSeen: number;
  /** POST requests whose response is still open. */
  inFlight: number;
}

/** Options for {@linkcode SessionManager}. */
export interface SessionOptions {
  /** Builds the MCP server for a principal. */
  createServer: (owner: string) => BridgeServer;
  /** Idle time after which a session is closed. */
  idleMs: number;
  /** Most live sessions in all (`MCP_MAX_SESSIONS`); at the cap a new one closes its principal's idlest or gets 503. */
  max: number;
  /** Most live sessions of one principal (default `max`). */
  maxPerPrincipal?: number;
  /** Bounds of each session's event store (defaults in `event_store.ts`). */
  events?: Omit<EventStoreOptions, "now">;
  /** Receives `session_opened`/`session_closed` (debug), `session_evicted` and `sessions_expired`. */
  log: Logger;
  /** Epoch ms clock that idleness is measured on; default `Date.now`. */
  now?: () => number;
}

/** Routes `/mcp` requests to sessions. */
export class SessionManager {
  #sessions = new Map<string, Session>();
  /** Initializations under way per principal: they hold a slot. */
  #opening = new Map<string, number>();
  #o: SessionOptions;
  #now: () => number;
  #timer: number;

  /** Starts the idle sweeper (it does not keep the process alive). */
  constructor(options: SessionOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    // Deno's timers are numbers (npm typings say otherwise).
    this.#timer = setInterval(
      () => this.sweep(),
      Math.max(50, Math.min(options.idleMs / 2, 30_000)),
    ) as unknown as number;
    Deno.unrefTimer(this.#timer);
  }

  /** Sessions open now (initializations still under way not counted). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Bytes held by a session's event store (for tests and diagnostics). */
  eventBytes(sessionId: string): number | undefined {
    return this.#sessions.get(sessionId)?.events.bytes;
  }

  /**
   * Handles one request. `body` is the parsed JSON body of a POST.
   * Unknown or expired session ids and another principal's session give 404,
   * so clients re-initialize.
   */
  async handle(request: Request, owner: string, body?: unknown): Promise<Response> {
    const id = request.headers.get("mcp-session-id");
    if (id) {
      const session = this.#sessions.get(id);
      if (!session || session.owner !== owner) {
        return rpcError(
          404,
          -32001,
          "Session not found: it expired or was closed; initialize a new one",
        );
      }
      return await this.#serve(session, request, body);
    }
    if (request.method !== "POST" || !isInitialize(body)) {
      return rpcError(
        400,
        -32000,
        "Bad Request: no Mcp-Session-Id; send an initialize request first",
      );
    }
    const refused = this.#makeRoom(owner);
    if (refused) return refused;
    let reserved = true;
    const release = () => {
      if (!reserved) return;
      reserved = false;
      const n = (this.#opening.get(owner) ?? 1) - 1;
      if (n > 0) this.#opening.set(owner, n);
      else this.#opening.delete(owner);
    };
    this.#opening.set(owner, (this.#opening.get(owner) ?? 0) + 1);
    try {
      const server = this.#o.createServer(owner);
      const events = new BoundedEventStore({ ...this.#o.events, now: this.#now });
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        eventStore: events,
        onsessioninitialized: (sessionId) => {
          release();
          this.#sessions.set(sessionId, {
            transport,
            server,
            events,
            owner,
            lastSeen: this.#now(),
            inFlight: 0,
          });
          this.#o.log.debug("session_opened", { sessions: this.#sessions.size });
        },
        onsessionclosed: (sessionId) => {
          this.#drop(sessionId);
        },
      });
      await server.connect(transport);
      return await transport.handleRequest(request, { parsedBody: body });
    } finally {
      release();
    }
  }

  /**
   * Frees a slot for a new session of `owner` if a cap is reached, by closing
   * the owner's least recently used idle session; a 503 response if it has none.
   */
  #makeRoom(owner: string): Response | null {
    let mine = this.#opening.get(owner) ?? 0;
    let opening = 0;
    for (const n of this.#opening.values()) opening += n;
    for (const session of this.#sessions.values()) if (session.owner === owner) mine++;
    const perPrincipal = this.#o.maxPerPrincipal ?? this.#o.max;
    const atOwnCap = mine >= perPrincipal;
    if (!atOwnCap && this.#sessions.size + opening < this.#o.max) return null;
    let victim: [string, Session] | undefined;
    for (const entry of this.#sessions) {
      const session = entry[1];
      if (session.owner !== owner || session.inFlight > 0) continue;
      if (!victim || session.lastSeen < victim[1].lastSeen) victim = entry;
    }
    if (!victim) {
      return rpcError(
        503,
        -32000,
        atOwnCap
          ? `Too many sessions open for this principal (at most ${perPrincipal}) and none is idle; close one or retry later`
          : "Too many sessions open; retry later",
      );
    }
    this.#drop(victim[0]);
    this.#o.log.info("session_evicted", {
      cap: atOwnCap ? "principal" : "global",
      live: this.#sessions.size,
    });
    return null;
  }

  /** Serves a request on a live session, counting it in flight until its response ends. */
  async #serve(session: Session, request: Request, body: unknown): Promise<Response> {
    session.lastSeen = this.#now();
    const lastEventId = request.method === "GET" ? request.headers.get("last-event-id") : null;
    if (lastEventId && !(await session.events.getStreamIdForEventId(lastEventId))) {
      // The transport would say "Invalid event ID format"; the truth is that
      // the stream was dropped (finished a while ago, or past the store's bounds).
      return rpcError(
        400,
        -32000,
        "Last-Event-ID is no longer held: its stream finished or expired, so nothing can be replayed; retry the request if its result was not received",
      );
    }
    if (request.method !== "POST") {
      return await session.transport.handleRequest(request, { parsedBody: body });
    }
    session.inFlight++;
    const settle = () => {
      session.inFlight--;
      session.lastSeen = this.#now();
    };
    let response: Response;
    try {
      response = await session.transport.handleRequest(request, { parsedBody: body });
    } catch (error) {
      settle();
      throw error;
    }
    if (!response.body) {
      settle();
      return response;
    }
    return new Response(whenDone(response.body, settle), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  #drop(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (!session) return;
    this.#sessions.delete(sessionId);
    session.server.close().catch(() => {});
    this.#o.log.debug("session_closed", { sessions: this.#sessions.size });
  }

  /**
   * Closes sessions idle for longer than the limit (none with a request in
   * flight) and trims the event stores of the others; returns how many closed.
   */
  sweep(): number {
    const cutoff = this.#now() - this.#o.idleMs;
    let closed = 0;
    for (const [id, session] of this.#sessions) {
      if (session.lastSeen <= cutoff && session.inFlight === 0) {
        this.#drop(id);
        closed++;
      } else {
        session.events.prune();
      }
    }
    if (closed) this.#o.log.info("sessions_expired", { closed, live: this.#sessions.size });
    return closed;
  }

  /** Closes every session and stops the sweeper. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(all.map((s) => s.server.close().catch(() => {})));
  }
}

/** Passes `body` through, calling `done` once when it ends, fails or is cancelled. */
function whenDone(
  body: ReadableStream<Uint8Array>,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    done();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          settle();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        settle();
        controller.error(error);
      }
    },
    cancel(reason) {
      settle();
      return reader.cancel(reason);
    },
  });
}

function isInitialize(body: unknown): boolean {
  if (Array.isArray(body)) return body.some((m) => isInitializeRequest(m));
  return isInitializeRequest(body);
}

/** Serves one request with a fresh server and transport (stateless mode). */
export async function handleStateless(
  request: Request,
  server: BridgeServer,
  body?: unknown,
): Promise<Response> {
  if (request.method !== "POST") {
    return rpcError(405, -32000, "Method not allowed: this server is stateless; use POST", {
      allow: "POST",
    });
  }
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request, { parsedBody: body });
  } finally {
    server.close().catch(() => {});
  }
}
