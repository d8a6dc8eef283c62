/**
 * The bridge's metrics, and how they are fed with the least coupling:
 *
 * - from the structured events the code already logs, through a logger
 *   that observes them (`observeLogger`, calling {@linkcode BridgeMetrics.record}): `tool_call`,
 *   `task_created`, `task_started` (queue wait), `task_finished` (run
 *   time), `oauth_tokens_issued`, `oauth_refused`;
 * - from a hook where nothing was logged: each gateway request's status
 *   ({@linkcode BridgeMetrics.gatewayRequest}, given to the gateway clients);
 * - read at scrape time: open sessions (the session table's size) and task
 *   counts by status (from KV, shared by every process on it, cached for
 *   {@linkcode TASK_COUNTS_TTL_MS} so scrapes cannot hammer KV).
 *
 * Everything but the task counts is per process.
 *
 * @module
 */
import { OAUTH_ERROR_CODES } from "../auth/oauth_error.ts";
import { ERROR_CODES } from "../errors.ts";
import type { GatewayRequestRecord } from "../gateway/client.ts";
import type { Logger } from "../log.ts";
import { STATUSES, type TaskStatus } from "../tasks/task.ts";
import { VERSION } from "../version.ts";
import { CONTENT_TYPE, type Counter, type Histogram, Registry } from "./registry.ts";

/** Every metric's name starts with this. */
export const METRIC_PREFIX = "openclaw_mcp_";

/** How long task counts read from KV are served before the next scrape reads them again. */
export const TASK_COUNTS_TTL_MS = 5_000;

/** Buckets of call and run durations, seconds: 5 ms to 10 min (the gateway timeout is 2 min by default). */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
];

/** Buckets of queue waits, seconds: 10 ms to a day (the default pending deadline). */
export const WAIT_BUCKETS: readonly number[] = [
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
  14_400,
  86_400,
];

/** The gateway paths the clients ask for; any other is counted as `other`. */
const GATEWAY_PATHS = ["/v1/chat/completions", "/v1/models", "/readyz"];

/** HTTP statuses, and the ways a request can end without one. */
const GATEWAY_STATUSES = [
  ...Array.from({ length: 500 }, (_, i) => String(100 + i)),
  "unreachable",
  "timeout",
  "cancelled",
];

/** A tool call's outcome: `ok`, `task_created` (the call became a task) or an error code. */
const TOOL_OUTCOMES = ["ok", "task_created", ...ERROR_CODES];

const OAUTH_ENDPOINTS = ["authorize", "token", "revoke", "register"];
const GRANT_TYPES = ["authorization_code", "refresh_token"];

/** What {@linkcode BridgeMetrics} is built from. */
export interface BridgeMetricsOptions {
  /** The toolset's tool names: the only values of the `tool` label. */
  tools: readonly string[];
  /** The configured instance names: the only values of the `instance` label. */
  instances: readonly string[];
  /** Reads task counts by status across the KV (`TaskStore.countAll`); no task gauge without it. */
  taskCounts?: () => Promise<Record<TaskStatus, number>>;
  /** How long a read of task counts is served (default {@linkcode TASK_COUNTS_TTL_MS}). */
  taskCountsTtlMs?: number;
  /** Clock in ms for that cache; default `Date.now`. */
  now?: () => number;
  /** Where a failed scrape-time read is reported (`metrics_collect_failed`). */
  log?: Logger;
}

/** A string field of a log event, if it is one. */
function text(fields: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = fields[key];
  return typeof value === "string" ? value : undefined;
}

/** A finite number field of a log event, if it is one. */
function number(fields: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const value = fields[key];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The bridge's metric set for one process. */
export class BridgeMetrics {
  /** The registry the metrics live in. */
  readonly registry: Registry;
  /** The content type of {@linkcode BridgeMetrics.expose}'s text. */
  readonly contentType: string = CONTENT_TYPE;
  #toolCalls: Counter<"tool" | "outcome">;
  #toolSeconds: Histogram<"tool">;
  #gateway: Counter<"instance" | "endpoint" | "status">;
  #queueWait: Histogram<"instance">;
  #runSeconds: Histogram<"instance">;
  #grants: Counter<"grant_type">;
  #refusals: Counter<"endpoint" | "reason">;
  #sessions: () => number = () => 0;
  #counts?: { at: number; value: Promise<Record<TaskStatus, number>> };

  /** Declares the metrics; they start at zero. */
  constructor(options: BridgeMetricsOptions) {
    const { log } = options;
    const registry = this.registry = new Registry({
      onCollectError: (metric, error) =>
        log?.warn("metrics_collect_failed", { metric, error: String(error) }),
    });
    const name = (rest: string) => METRIC_PREFIX + rest;
    const instances = options.instances;
    registry.gauge<"version">({
      name: name("build_info"),
      help: "Always 1; the version of the bridge serving these metrics.",
      labels: { version: [VERSION] },
    }).set({ version: VERSION }, 1);
    this.#toolCalls = registry.counter({
      name: name("tool_calls_total"),
      help: "MCP tool calls by tool and outcome (ok, task_created, or the error code).",
      labels: { tool: options.tools, outcome: TOOL_OUTCOMES },
    });
    this.#toolSeconds = registry.histogram({
      name: name("tool_call_duration_seconds"),
      help: "Duration of tool calls that ran (not refused arguments, not calls queued as tasks).",
      labels: { tool: options.tools },
      buckets: DURATION_BUCKETS,
    });
    this.#gateway = registry.counter({
      name: name("gateway_requests_total"),
      help:
        "Requests to OpenClaw gateways by instance, path and HTTP status (or unreachable, timeout, cancelled).",
      labels: { instance: instances, endpoint: GATEWAY_PATHS, status: GATEWAY_STATUSES },
    });
    if (options.taskCounts) {
      const read = this.#cachedCounts(options.taskCounts, {
        ttlMs: options.taskCountsTtlMs ?? TASK_COUNTS_TTL_MS,
        now: options.now ?? Date.now,
      });
      registry.callbackGauge<"status">({
        name: name("tasks"),
        help:
          "Tasks in the store by status, across every process on the KV (finished ones until they expire).",
        labels: { status: STATUSES },
        collect: async () => {
          const counts = await read();
          return STATUSES.map((status) => ({ labels: { status }, value: counts[status] }));
        },
      });
    }
    this.#queueWait = registry.histogram({
      name: name("task_queue_wait_seconds"),
      help: "Time tasks waited in the queue before their first attempt started, by instance.",
      labels: { instance: instances },
      buckets: WAIT_BUCKETS,
    });
    this.#runSeconds = registry.histogram({
      name: name("task_run_duration_seconds"),
      help: "Time task attempts run in this process took, by instance.",
      labels: { instance: instances },
      buckets: DURATION_BUCKETS,
    });
    registry.callbackGauge({
      name: name("sessions_open"),
      help: "Streamable HTTP sessions open in this process (2025-11-25 clients).",
      collect: () => [{ labels: {}, value: this.#sessions() }],
    });
    this.#grants = registry.counter({
      name: name("oauth_grants_total"),
      help: "OAuth tokens issued at /token, by grant type.",
      labels: { grant_type: GRANT_TYPES },
    });
    this.#refusals = registry.counter({
      name: name("oauth_refusals_total"),
      help: "Refused OAuth requests by endpoint and reason (the OAuth error code).",
      labels: { endpoint: OAUTH_ENDPOINTS, reason: OAUTH_ERROR_CODES },
    });
  }

  /** `read`, at most once per `ttlMs`; concurrent scrapes share one read, a failed read is not kept. */
  #cachedCounts(
    read: () => Promise<Record<TaskStatus, number>>,
    cache: { ttlMs: number; now: () => number },
  ): () => Promise<Record<TaskStatus, number>> {
    return () => {
      const now = cache.now();
      if (!this.#counts || now - this.#counts.at >= cache.ttlMs) {
        const value = read();
        const entry = { at: now, value };
        this.#counts = entry;
        value.catch(() => {
          if (this.#counts === entry) this.#counts = undefined;
        });
      }
      return this.#counts.value;
    };
  }

  /**
   * Updates the metrics from one log event; events that count nothing are
   * ignored. The bridge calls it for every event its logger is given
   * (`observeLogger` in `log.ts`).
   */
  record(event: string, fields: Readonly<Record<string, unknown>>): void {
    switch (event) {
      case "tool_call": {
        const tool = text(fields, "tool") ?? "";
        this.#toolCalls.inc({ tool, outcome: text(fields, "outcome") ?? "" });
        const ms = number(fields, "ms");
        if (ms !== undefined) this.#toolSeconds.observe({ tool }, ms / 1000);
        return;
      }
      case "task_created":
        this.#toolCalls.inc({ tool: text(fields, "tool") ?? "", outcome: "task_created" });
        return;
      case "task_started": {
        const wait = number(fields, "wait_ms");
        if (wait === undefined) return;
        this.#queueWait.observe({ instance: text(fields, "instance") ?? "" }, wait / 1000);
        return;
      }
      case "task_finished": {
        const ms = number(fields, "ms");
        if (ms === undefined) return;
        this.#runSeconds.observe({ instance: text(fields, "instance") ?? "" }, ms / 1000);
        return;
      }
      case "oauth_tokens_issued":
        this.#grants.inc({ grant_type: text(fields, "grant") ?? "" });
        return;
      case "oauth_refused":
        this.#refusals.inc({
          endpoint: text(fields, "endpoint") ?? "",
          reason: text(fields, "reason") ?? "",
        });
        return;
    }
  }

  /** Counts one gateway request: give this to the gateway clients (`onRequest`). */
  readonly gatewayRequest = (record: GatewayRequestRecord): void => {
    this.#gateway.inc({
      instance: record.instance,
      endpoint: record.path,
      status: String(record.status),
    });
  };

  /** Where the open-sessions gauge reads from (the HTTP app's session table). */
  watchSessions(read: () => number): void {
    this.#sessions = read;
  }

  /** Every metric in the Prometheus text format ({@linkcode BridgeMetrics.contentType}). */
  expose(): Promise<string> {
    return this.registry.expose();
  }
}
