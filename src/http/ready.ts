/**
 * `GET /ready`: is the task store readable and is some gateway healthy? The
 * route needs no login, so gateway probes are cached: a flood of `/ready`
 * costs at most one probe of each gateway per {@linkcode READY_PROBE_TTL_MS}.
 *
 * @module
 */
import type { Handler } from "hono";
import type { HealthReport } from "../gateway/health.ts";

/**
 * How long one gateway probe answers `/ready`; concurrent hits share the
 * probe in flight.
 */
export const READY_PROBE_TTL_MS = 5_000;

/** A gateway `/ready` can probe (a `GatewayClient` is one). */
export interface ProbedGateway {
  /** The instance's name, as `/ready` reports it. */
  instance: { name: string };
  /** One health probe of the gateway. */
  health(): Promise<HealthReport>;
}

/** What {@linkcode readyHandler} needs. */
export interface ReadyOptions {
  /** The instances to probe (a `GatewayRegistry`). */
  gateways: { list(): ProbedGateway[] };
  /** The store that must be readable (one `get` per hit, never cached). */
  kv: Pick<Deno.Kv, "get">;
  /** Clock in ms for the probe cache; default `Date.now`. */
  now?: () => number;
}

/** One gateway's verdict as the probe keeps it. */
type NamedReport = HealthReport & { name: string };

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
  const probe = cachedProbe(options.gateways, options.now ?? Date.now);
  return async function ready(c) {
    const reasons: string[] = [];
    if (!await storeReadable(options.kv)) reasons.push("task store (Deno KV) is not readable");
    const reports = await probe();
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

/**
 * Probes every gateway at most once per {@linkcode READY_PROBE_TTL_MS}
 * (counted from when the probe settled); a probe that rejects is not kept.
 */
function cachedProbe(
  gateways: ReadyOptions["gateways"],
  now: () => number,
): () => Promise<NamedReport[]> {
  let kept: { reports: Promise<NamedReport[]>; settledAt: number | null } | null = null;
  const probeAll = () =>
    Promise.all(
      gateways.list().map(async (g) => ({ name: g.instance.name, ...(await g.health()) })),
    );
  return () => {
    if (kept && (kept.settledAt === null || now() - kept.settledAt < READY_PROBE_TTL_MS)) {
      return kept.reports;
    }
    const current: NonNullable<typeof kept> = { reports: probeAll(), settledAt: null };
    kept = current;
    current.reports.then(
      () => current.settledAt = now(),
      () => {
        if (kept === current) kept = null;
      },
    );
    return current.reports;
  };
}
