/**
 * Structured logging: one JSON object per line on stderr (stdout belongs to
 * the stdio transport). Secrets are redacted by key name, recursively, so a
 * token never reaches a log however it is nested.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_KEY =
  /token|secret|password|authorization|api[-_]?key|cookie|credential|verifier|^code$/i;

/** The value that stands in for a redacted secret. */
export const REDACTED = "[redacted]";

/**
 * How deep {@linkcode redact} copies: anything nested deeper is dropped (it
 * becomes {@linkcode DEPTH_LIMIT}), never passed through unredacted.
 */
export const MAX_REDACT_DEPTH = 32;

/** The value that stands in for a value nested deeper than {@linkcode MAX_REDACT_DEPTH}. */
export const DEPTH_LIMIT = "[depth limit]";

/** The value that stands in for a reference back to one of its own containers. */
export const CIRCULAR = "[circular]";

/**
 * Returns a deep copy of `value` with every secret-named key's value
 * replaced by {@linkcode REDACTED}. Objects nested deeper than
 * {@linkcode MAX_REDACT_DEPTH} are dropped and cycles are cut, so no secret
 * can slip through by depth and no log call can loop or throw on shape.
 */
export function redact(value: unknown): unknown {
  return redactAt(value, 0, new WeakSet());
}

function redactAt(value: unknown, depth: number, ancestors: WeakSet<object>): unknown {
  if (value === null || typeof value !== "object") return value;
  // Dropping, not passing through: an unvisited object may hold a secret.
  if (depth >= MAX_REDACT_DEPTH) return DEPTH_LIMIT;
  if (ancestors.has(value)) return CIRCULAR;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redactAt(item, depth + 1, ancestors));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const secret = SECRET_KEY.test(key) && item !== undefined && item !== null &&
        item !== "" && typeof item !== "boolean";
      out[key] = secret ? REDACTED : redactAt(item, depth + 1, ancestors);
    }
    return out;
  } finally {
    // Only the path from the root counts: the same object twice side by side is no cycle.
    ancestors.delete(value);
  }
}

/** Where the bridge reports events: a name and fields per record (see {@linkcode createLogger}). */
export interface Logger {
  /** Logs at `debug` level (only shown with --debug). */
  debug(event: string, fields?: Record<string, unknown>): void;
  /** Logs normal operation: start, stop, each tool call. */
  info(event: string, fields?: Record<string, unknown>): void;
  /** Logs what an operator should look at, e.g. a risky setting. */
  warn(event: string, fields?: Record<string, unknown>): void;
  /** Logs a failure that needs attention, e.g. a tool crash or a failed listener. */
  error(event: string, fields?: Record<string, unknown>): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /** The clock; default `Date.now`. */
  now?: () => number;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible left to do with a log line.
  }
}

/** Creates a logger that writes JSON lines with `level`, `time` and `event`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const log = (level: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[level] < min) return;
    const record = {
      level,
      time: new Date(now()).toISOString(),
      event,
      ...(redact(fields) as Record<string, unknown>),
    };
    write(JSON.stringify(record));
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = createLogger({ write: () => {} });

/** Hears every event a logger is given, whatever its level prints: see {@linkcode observeLogger}. */
export type LogObserver = (
  event: string,
  fields: Readonly<Record<string, unknown>>,
  level: LogLevel,
) => void;

/**
 * A logger that tells `observer` of every event (before redaction, and at
 * every level, debug included, whether or not it is printed) and then
 * passes it to `log`. Metrics are fed this way from the events the code
 * already logs. The observer must not throw; if it does, the event is
 * still logged.
 *
 * @example
 * ```ts
 * let calls = 0;
 * const log = observeLogger(silentLogger, (event) => {
 *   if (event === "tool_call") calls++;
 * });
 * log.info("tool_call", { tool: "openclaw_chat", outcome: "ok" });
 * ```
 */
export function observeLogger(log: Logger, observer: LogObserver): Logger {
  const level = (name: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => {
    try {
      observer(event, fields, name);
    } catch {
      // An observer's failure never costs the log line.
    }
    log[name](event, fields);
  };
  return { debug: level("debug"), info: level("info"), warn: level("warn"), error: level("error") };
}
