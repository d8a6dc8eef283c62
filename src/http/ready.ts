/**
 * `GET /ready`: is the task store readable and is some gateway healthy? The
 * route needs no login, so gateway probes are cached ({@linkcode ProbeCache}):
 * a flood of `/ready` costs at most one probe of each gateway per
 * {@linkcode READY_PROBE_TTL_MS}.
 *
 * @module
 */
import type { Handler } from "hono";
import { PROBE_TTL_MS, ProbeCache, type ProbedGateway } from "../gateway/probe_cache.ts";

export type { ProbedGateway } from "../gateway/probe_cache.ts";

/**
 * How long one gateway probe answers `/ready`; concurrent hits share the
 * probe in flight.
 */
export const READY_PROBE_TTL_MS = PROBE_TTL_MS;

/** What {@linkcode readyHandler} needs. */
export interface ReadyOptions {
  /** The instances to probe (a `GatewayRegistry`), unless `probes` is given. */
  gateways: { list(): ProbedGateway[] };
  /** The probe cache to share (the operator page reads the same verdicts); default a new one. */
  probes?: ProbeCache;
  /** The store that must be readable (one `get` per hit, never cached). */
  kv: Pick<Deno.Kv, "get">;
  /** Clock in ms for a new probe cache; default `Date.now`. */
  now?: () => number;
}

/**
 * The `/ready` handler: 200 `{status: "ready", gateways}` when the store
 * answers and at least one gateway is healthy, else 503
 * `{status: "not_ready", reasons, gateways}`.
 *
 * @example
 * ```ts
 * app.get("/ready", readyHandler({ gateways, kv }));
 * ```
 */
export function readyHandler(options: ReadyOptions): Handler {
  const probes = options.probes ?? new ProbeCache(options.gateways, { now: options.now });
  return async function ready(c) {
    const reasons: string[] = [];
    if (!await storeReadable(options.kv)) reasons.push("task store (Deno KV) is not readable");
    const reports = await probes.reports();
    if (!reports.some((r) => r.status === "ok")) reasons.push("no gateway instance is healthy");
    const gateways = reports.map((r) => ({
      name: r.name,
      status: r.status,
      latency_ms: r.latencyMs,
    }));
    return reasons.length
      ? c.json({ status: "not_ready", reasons, gateways }, 503)
      : c.json({ status: "ready", gateways });
  };
}

async function storeReadable(kv: Pick<Deno.Kv, "get">): Promise<boolean> {
  try {
    await kv.get(["ready"]);
    return true;
  } catch {
    return false;
  }
}
