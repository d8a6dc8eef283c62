/**
 * MCP over stdin/stdout with Deno streams, in both protocol eras.
 *
 * The SDK's `serveStdio` owns the era decision: the opening exchange pins
 * the connection to 2025-11-25 (`initialize`, or any message without the
 * per-request envelope) or to 2026-07-28 (a `server/discover` or any request
 * carrying the envelope), and one server from our factory serves it.
 *
 * The transport under it is ours: on Deno streams, it answers a line that
 * is not JSON-RPC with a JSON-RPC error instead of dropping it, and at end
 * of input it lets the owner cancel work and flush the replies owed before
 * closing (the SDK's aborts requests in flight unanswered).
 *
 * @module
 */
import {
  type JSONRPCMessage,
  parseJSONRPCMessage,
  type Transport,
} from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import type { BridgeServer, Era } from "./server.ts";
import type { Logger } from "./log.ts";
import { rpcErrorBody } from "./errors.ts";

/** Longest accepted line; longer input is discarded up to the next newline. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** A JSON-RPC error reply as the transport sends it. */
function protocolError(
  code: number,
  message: string,
  id: string | number | null = null,
): JSONRPCMessage {
  return rpcErrorBody(code, message, id) as unknown as JSONRPCMessage;
}

/** Newline-delimited JSON-RPC over byte streams (stdin/stdout by default). */
export class StdioTransport implements Transport {
  /** Receives each valid JSON-RPC message read (set by the protocol layer). */
  onmessage?: (message: JSONRPCMessage) => void;
  /** Called once, when the transport closes (set by the protocol layer). */
  onclose?: () => void;
  /** Called when reading input fails (set by the protocol layer). */
  onerror?: (error: Error) => void;
  /**
   * Called once when input ends; default closes at once. The owner can
   * cancel work, {@linkcode StdioTransport.drain} the replies, then close.
   */
  onInputEnd?: () => void | Promise<void>;
  /** Called with the method of each request read, before the protocol layer sees it. */
  onRequest?: (method: string) => void;
  /** Called once when the transport has closed, after `onclose` (for the owner, who does not set `onclose`). */
  closed?: () => void;

  #input: ReadableStream<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #encoder = new TextEncoder();
  #closed = false;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #unanswered = new Set<string | number>();
  #drained?: () => void;

  /** Reads `input`, writes `output`; default the process's stdin and stdout. */
  constructor(
    input: ReadableStream<Uint8Array> = Deno.stdin.readable,
    output: WritableStream<Uint8Array> = Deno.stdout.writable,
  ) {
    this.#input = input;
    this.#writer = output.getWriter();
  }

  /** Starts reading; resolves at once, input is read in the background. */
  start(): Promise<void> {
    this.#reader = this.#input.getReader();
    this.#readLoop().catch((error) => this.onerror?.(error as Error));
    return Promise.resolve();
  }

  async #readLoop(): Promise<void> {
    let buffer = "";
    let discarding = false;
    // Decoding here rather than through a TextDecoderStream saves a stream
    // hop (a pipe, a queue, promise turns) per chunk read.
    const decoder = new TextDecoder();
    try {
      while (true) {
        const { done, value } = await this.#reader!.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf("\n")) !== -1) {
          const line = buffer.slice(0, newline).replace(/\r$/, "");
          buffer = buffer.slice(newline + 1);
          if (discarding) {
            discarding = false;
            continue;
          }
          this.#handleLine(line);
        }
        if (buffer.length > MAX_LINE_BYTES) {
          buffer = "";
          if (!discarding) await this.send(protocolError(-32600, "Message too large"));
          discarding = true;
        }
      }
    } catch (error) {
      if (!this.#closed) this.onerror?.(error as Error);
    }
    if (this.onInputEnd) await this.onInputEnd();
    else await this.close();
  }

  /** Resolves when every request read so far has its reply, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.#unanswered.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#drained = done;
    });
  }

  #handleLine(line: string): void {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.send(protocolError(-32700, "Parse error: the line is not JSON")).catch(() => {});
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(json);
    } catch {
      const id = (json as { id?: unknown })?.id;
      const reply = protocolError(
        -32600,
        "Invalid Request: not a JSON-RPC 2.0 message",
        typeof id === "string" || typeof id === "number" ? id : null,
      );
      this.send(reply).catch(() => {});
      return;
    }
    if ("method" in message && "id" in message) {
      this.#unanswered.add(message.id);
      this.onRequest?.(message.method);
    }
    this.onmessage?.(message);
  }

  /** Writes one message as a line. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return;
    await this.#writer.write(this.#encoder.encode(JSON.stringify(message) + "\n"));
    if (("result" in message || "error" in message) && "id" in message) {
      this.#unanswered.delete(message.id as string | number);
      if (this.#unanswered.size === 0) this.#drained?.();
    }
  }

  /** Stops reading and reports closure once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader?.cancel().catch(() => {});
    this.onclose?.();
    this.closed?.();
  }
}

/** What {@linkcode runStdio} needs. */
export interface StdioOptions {
  /** Builds the server for the connection, in the era its opening picked. */
  createServer: (era: Era) => BridgeServer;
  /** Aborted when input ends or a signal arrives. */
  shutdown: AbortController;
  /** Receives the `started` event. */
  log: Logger;
  /** The transport (default: stdin/stdout). */
  transport?: StdioTransport;
  /** Called with the method of each request read (main starts the task runner on the first real one). */
  onRequest?: (method: string) => void;
}

/**
 * Serves MCP on stdin/stdout until stdin ends or SIGTERM/SIGINT arrives.
 * Work in flight is cancelled and the replies owed are flushed (bounded).
 */
export async function runStdio(options: StdioOptions): Promise<void> {
  const { shutdown, log } = options;
  const transport = options.transport ?? new StdioTransport();
  transport.onRequest = options.onRequest;
  const closed = new Promise<void>((resolve) => {
    transport.closed = resolve;
  });
  const handle = serveStdio(({ era }) => options.createServer(era), {
    transport,
    onerror: (error) => log.debug("stdio_error", { error: error.message }),
  });
  transport.onInputEnd = async () => {
    shutdown.abort();
    await transport.drain(2_000);
    await handle.close();
  };
  const stop = () => {
    shutdown.abort();
    handle.close().catch(() => {});
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Not every platform has every signal (Windows has no SIGTERM).
    }
  }
  if (Deno.stdin.isTerminal()) {
    console.error(
      "openclaw-mcp: waiting for an MCP client on stdin (this is the stdio transport; use --transport http to serve HTTP, --help for options)",
    );
  }
  log.info("started", { transport: "stdio" });
  await closed;
  shutdown.abort();
}
