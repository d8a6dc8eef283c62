/**
 * An incremental Server-Sent Events parser: feed it text as it arrives, in
 * chunks split anywhere, and it yields complete events.
 *
 * Why our own: the kept parser, `@std/http`'s `ServerSentEventParseStream`,
 * is published on JSR only, and JSR is unreachable where this project is
 * built (only the npm registry is), so `deno.json` cannot import it. When
 * JSR becomes reachable, replace this module with it (the tests in
 * `tests/gateway/sse_test.ts` say what must still hold).
 *
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, if any. */
  event?: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/**
 * Parses the `text/event-stream` format (WHATWG HTML, "event stream
 * interpretation"): lines end with CRLF, LF or CR; `data:` lines accumulate;
 * a blank line dispatches; lines starting with `:` are comments.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * parser.push("data: hel");
 * const events = parser.push("lo\n\n"); // [{ data: "hello" }]
 * ```
 */
export class SseParser {
  #buffer = "";
  #data: string[] = [];
  #event: string | undefined;
  #sawCr = false;

  /** Adds text; returns every event completed by it. */
  push(text: string): SseEvent[] {
    // A CR at the end of the last chunk may be the first half of a CRLF.
    if (this.#sawCr && text.startsWith("\n")) text = text.slice(1);
    this.#sawCr = text.endsWith("\r");
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      this.#line(this.#buffer.slice(start, i), events);
      if (ch === "\r" && this.#buffer[i + 1] === "\n") i++;
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  /** Ends the stream; an event not terminated by a blank line is dropped, per spec. */
  end(): SseEvent[] {
    this.#buffer = "";
    this.#data = [];
    this.#event = undefined;
    return [];
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.#data.length > 0) {
        events.push({ event: this.#event, data: this.#data.join("\n") });
      }
      this.#data = [];
      this.#event = undefined;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
  }
}
