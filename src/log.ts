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

/** Returns a deep copy of `value` with every secret-named key's value replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const secret = SECRET_KEY.test(key) && item !== undefined && item !== null &&
      item !== "" && typeof item !== "boolean";
    out[key] = secret ? REDACTED : redact(item, depth + 1);
  }
  return out;
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
