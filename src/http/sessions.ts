/**
 * Streamable HTTP sessions: one MCP server and transport per session, bound
 * to the principal that opened it, closed after `idleMs` without requests,
 * capped at `max`. A stateless mode serves each request with a fresh server.
 *
 * @module
 */
import type { BridgeServer } from "../server.ts";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../log.ts";
import { BoundedEventStore } from "./event_store.ts";
import { rpcError } from "./rpc_error.ts";

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: BridgeServer;
  owner: string;
  lastSeen: number;
}

/** Options for {@linkcode SessionManager}. */
export interface SessionOptions {
  /** Builds the MCP server for a principal. */
  createServer: (owner: string) => BridgeServer;
  /** Idle time after which a session is closed. */
  idleMs: number;
  /** Most live sessions. */
  max: number;
  /** Logger. */
  log: Logger;
  /** Clock in ms. */
  now?: () => number;
}

/** Routes `/mcp` requests to sessions. */
export class SessionManager {
  #sessions = new Map<string, Session>();
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

  /** Live sessions. */
  get size(): number {
    return this.#sessions.size;
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
      session.lastSeen = this.#now();
      return await session.transport.handleRequest(request, { parsedBody: body });
    }
    if (request.method !== "POST" || !isInitialize(body)) {
      return rpcError(
        400,
        -32000,
        "Bad Request: no Mcp-Session-Id; send an initialize request first",
      );
    }
    if (this.#sessions.size >= this.#o.max) {
      return rpcError(503, -32000, "Too many sessions open; retry later");
    }
    const server = this.#o.createServer(owner);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      eventStore: new BoundedEventStore(),
      onsessioninitialized: (sessionId) => {
        this.#sessions.set(sessionId, { transport, server, owner, lastSeen: this.#now() });
        this.#o.log.debug("session_opened", { sessions: this.#sessions.size });
      },
      onsessionclosed: (sessionId) => {
        this.#drop(sessionId);
      },
    });
    await server.connect(transport);
    return await transport.handleRequest(request, { parsedBody: body });
  }

  #drop(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (!session) return;
    this.#sessions.delete(sessionId);
    session.server.close().catch(() => {});
    this.#o.log.debug("session_closed", { sessions: this.#sessions.size });
  }

  /** Closes sessions idle for longer than the limit; returns how many. */
  sweep(): number {
    const cutoff = this.#now() - this.#o.idleMs;
    let closed = 0;
    for (const [id, session] of this.#sessions) {
      if (session.lastSeen <= cutoff) {
        this.#drop(id);
        closed++;
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
