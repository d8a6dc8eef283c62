/**
 * One health probe of every gateway at most once per
 * {@linkcode PROBE_TTL_MS}, shared by whoever asks (`/ready` and the
 * operator page, neither of which may make a gateway do more work per
 * request): concurrent askers share the probe in flight, and the last
 * settled verdicts stay readable without probing.
 *
 * @module
 */
import type { HealthReport } from "./health.ts";

/**
 * How long one probe's verdicts answer, counted from when the probe
 * settled; concurrent askers share the probe in flight.
 */
export const PROBE_TTL_MS = 5_000;

/** A gateway that can be probed (a `GatewayClient` is one). */
export interface ProbedGateway {
  /** The instance's name, as the verdicts report it. */
  instance: { name: string };
  /** One health probe of the gateway. */
  health(): Promise<HealthReport>;
}

/** One gateway's verdict, named. */
export type NamedReport = HealthReport & { name: string };

/** Verdicts of one probe of every gateway and when it settled (epoch ms). */
export interface SettledProbe {
  /** Every gateway's verdict, in the registry's order. */
  reports: NamedReport[];
  /** When the probe settled, on the cache's clock. */
  at: number;
}

/** Options for {@linkcode ProbeCache}. */
export interface ProbeCacheOptions {
  /** Clock in ms the window is measured on; default `Date.now`. */
  now?: () => number;
}

/**
 * Probes every gateway at most once per {@linkcode PROBE_TTL_MS}; a probe
 * that rejects is not kept.
 *
 * @example
 * ```ts ignore
 * const probes = new ProbeCache(registry);
 * const reports = await probes.reports(); // probes, or the verdicts of the last 5 s
 * ```
 */
export class ProbeCache {
  #gateways: { list(): ProbedGateway[] };
  #now: () => number;
  #kept: { reports: Promise<NamedReport[]>; settledAt: number | null } | null = null;
  #latest: SettledProbe | null = null;

  /** Probes the gateways `gateways.list()` names at each probe. */
  constructor(gateways: { list(): ProbedGateway[] }, options: ProbeCacheOptions = {}) {
    this.#gateways = gateways;
    this.#now = options.now ?? Date.now;
  }

  /** Every gateway's verdict: the kept one within the window, else a new probe. */
  reports(): Promise<NamedReport[]> {
    const kept = this.#kept;
    if (kept && (kept.settledAt === null || this.#now() - kept.settledAt < PROBE_TTL_MS)) {
      return kept.reports;
    }
    const current: NonNullable<typeof kept> = { reports: this.#probeAll(), settledAt: null };
    this.#kept = current;
    current.reports.then(
      (reports) => {
        current.settledAt = this.#now();
        this.#latest = { reports, at: current.settledAt };
      },
      () => {
        if (this.#kept === current) this.#kept = null;
      },
    );
    return current.reports;
  }

  /** The verdicts of the last probe that settled, whatever its age; null before the first. */
  latest(): SettledProbe | null {
    return this.#latest;
  }

  #probeAll(): Promise<NamedReport[]> {
    return Promise.all(
      this.#gateways.list().map(async (g) => ({ name: g.instance.name, ...(await g.health()) })),
    );
  }
}
