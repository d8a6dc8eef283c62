/**
 * A small Prometheus metrics registry: counters, gauges (set, or read by a
 * callback at scrape time), histograms with fixed buckets, and the text
 * exposition format 0.0.4.
 *
 * Written here rather than taken from `prom-client`, which is built for
 * Node (a process-wide default registry, `cluster` aggregation, Node
 * process collectors): a registry here is a plain object per bridge, so
 * tests build as many as they like and nothing is global.
 *
 * Cardinality is bounded by construction: every label declares the values
 * it may take (our own enums, instance and tool names), and anything else is
 * recorded as {@linkcode OTHER}. A client can never mint a new series.
 *
 * @module
 */

/** The content type of the text exposition format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The label value that stands in for any value a label does not declare. */
export const OTHER = "other";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Each label's name and the values it may take; any other value is recorded as {@linkcode OTHER}. */
export type LabelValues<L extends string> = { readonly [K in L]: readonly string[] };

/** One series' label values. */
export type Labels<L extends string> = { readonly [K in L]: string };

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  /** Full metric name, e.g. `openclaw_mcp_tool_calls_total`. */
  name: string;
  /** One line for `# HELP`. */
  help: string;
  /** Label names with their allowed values; none for a single series. */
  labels?: LabelValues<L>;
}

/** A histogram's declaration: its bucket upper bounds besides the implicit `+Inf`. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Finite, strictly increasing upper bounds, in the metric's base unit (seconds). */
  buckets: readonly number[];
}

/** A gauge read at scrape time: `collect` returns its series. */
export interface CallbackGaugeOptions<L extends string> extends MetricOptions<L> {
  /** The series and their values now; may read storage (the registry awaits it). */
  collect: () => Sample<L>[] | Promise<Sample<L>[]>;
}

/** One series of a callback gauge. */
export interface Sample<L extends string> {
  /** Its label values. */
  labels: Labels<L>;
  /** Its value. */
  value: number;
}

type MetricType = "counter" | "gauge" | "histogram";

/** Escapes a label value: backslash, double quote and line feed (text format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Escapes `# HELP` text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format spells it: `+Inf`, `-Inf`, `NaN` or a Go-parsable float. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** What every family shares: name, help, labels and their allowed values. */
abstract class Family<L extends string> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: MetricType;
  readonly labelNames: readonly L[];
  #allowed: Map<L, Set<string>>;

  constructor(options: MetricOptions<L>, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(options.name)) {
      throw new TypeError(`metric name ${JSON.stringify(options.name)} is not valid`);
    }
    this.name = options.name;
    this.help = options.help;
    const labels = (options.labels ?? {}) as LabelValues<L>;
    this.labelNames = Object.keys(labels) as L[];
    this.#allowed = new Map();
    for (const label of this.labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || reserved.includes(label)) {
        throw new TypeError(`label name ${JSON.stringify(label)} of ${options.name} is not valid`);
      }
      this.#allowed.set(label, new Set([...labels[label], OTHER]));
    }
  }

  /** The series key and its normalized values: undeclared values become {@linkcode OTHER}. */
  protected series(labels: Labels<L> | undefined): { key: string; values: string[] } {
    const values = this.labelNames.map((label) => {
      const value = labels?.[label];
      return value !== undefined && this.#allowed.get(label)!.has(value) ? value : OTHER;
    });
    return { key: JSON.stringify(values), values };
  }

  /** `{a="x",b="y"}` for these values (plus `extra`), or "" without labels. */
  protected labelText(values: readonly string[], extra?: [string, string]): string {
    const pairs = this.labelNames.map((label, i) => `${label}="${escapeLabelValue(values[i])}"`);
    if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return pairs.length ? `{${pairs.join(",")}}` : "";
  }

  /** The `# HELP` and `# TYPE` lines. */
  protected header(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
  }

  /** The family's lines; series sorted by label values. */
  abstract lines(): Promise<string[]>;
}

/** Sorted entries of a series map, so the exposition is stable. */
function sorted<T>(map: Map<string, T>): [string, T][] {
  return [...map].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

/** A value per series, for counters and set gauges. */
abstract class ValueFamily<L extends string> extends Family<L> {
  #values = new Map<string, { values: string[]; value: number }>();

  constructor(options: MetricOptions<L>) {
    super(options);
    // A metric without labels has its one series from the start.
    if (this.labelNames.length === 0) this.#values.set("[]", { values: [], value: 0 });
  }

  protected update(labels: Labels<L> | undefined, change: (value: number) => number): void {
    const { key, values } = this.series(labels);
    const entry = this.#values.get(key) ?? { values, value: 0 };
    entry.value = change(entry.value);
    this.#values.set(key, entry);
  }

  /** The value of one series (0 if it never moved). */
  get(labels?: Labels<L>): number {
    return this.#values.get(this.series(labels).key)?.value ?? 0;
  }

  lines(): Promise<string[]> {
    const out = this.header();
    for (const [, { values, value }] of sorted(this.#values)) {
      out.push(`${this.name}${this.labelText(values)} ${formatValue(value)}`);
    }
    return Promise.resolve(out);
  }
}

/** A counter: only goes up (until the process restarts). */
export class Counter<L extends string = never> extends ValueFamily<L> {
  readonly type = "counter";

  /**
   * Adds `by` (default 1) to the series of `labels`.
   *
   * @throws {RangeError} for a negative or non-finite amount.
   */
  inc(labels?: Labels<L>, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) {
      throw new RangeError(`${this.name}: a counter only goes up by a finite amount`);
    }
    this.update(labels, (value) => value + by);
  }
}

/** A gauge whose series are set by the code that owns the value. */
export class Gauge<L extends string = never> extends ValueFamily<L> {
  readonly type = "gauge";

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels<L> | undefined, value: number): void {
    this.update(labels, () => value);
  }

  /** Adds `by` (default 1, may be negative) to the series of `labels`. */
  inc(labels?: Labels<L>, by = 1): void {
    this.update(labels, (value) => value + by);
  }
}

/** A gauge read at scrape time from a callback. */
export class CallbackGauge<L extends string = never> extends Family<L> {
  readonly type = "gauge";
  #collect: CallbackGaugeOptions<L>["collect"];

  constructor(options: CallbackGaugeOptions<L>) {
    super(options);
    this.#collect = options.collect;
  }

  /** Its header, then one line per series the callback returns (summed if two normalize alike). */
  async lines(): Promise<string[]> {
    const samples = await this.#collect();
    const series = new Map<string, { values: string[]; value: number }>();
    for (const sample of samples) {
      const { key, values } = this.series(sample.labels);
      const entry = series.get(key) ?? { values, value: 0 };
      entry.value += sample.value;
      series.set(key, entry);
    }
    const out = this.header();
    for (const [, { values, value }] of sorted(series)) {
      out.push(`${this.name}${this.labelText(values)} ${formatValue(value)}`);
    }
    return out;
  }
}

interface HistogramSeries {
  values: string[];
  /** Observations per bucket (not cumulative); the last is past every bound (+Inf). */
  counts: number[];
  sum: number;
  count: number;
}

/** A histogram: observations counted into fixed buckets, with their sum and count. */
export class Histogram<L extends string = never> extends Family<L> {
  readonly type = "histogram";
  /** The finite upper bounds, increasing. */
  readonly buckets: readonly number[];
  #series = new Map<string, HistogramSeries>();

  constructor(options: HistogramOptions<L>) {
    super(options, ["le"]);
    const { buckets } = options;
    if (
      buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || b <= buckets[i - 1])
    ) {
      throw new TypeError(`${options.name}: buckets must be finite and strictly increasing`);
    }
    this.buckets = [...buckets];
    if (this.labelNames.length === 0) this.#series.set("[]", this.#empty([]));
  }

  #empty(values: string[]): HistogramSeries {
    return { values, counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  /** Records one observation (in the base unit) in the series of `labels`; NaN is ignored. */
  observe(labels: Labels<L> | undefined, value: number): void {
    if (Number.isNaN(value)) return;
    const { key, values } = this.series(labels);
    const series = this.#series.get(key) ?? this.#empty(values);
    let i = this.buckets.findIndex((bound) => value <= bound);
    if (i === -1) i = this.buckets.length;
    series.counts[i]++;
    series.sum += value;
    series.count++;
    this.#series.set(key, series);
  }

  /** Observations so far in the series of `labels` (0 if none). */
  count(labels?: Labels<L>): number {
    return this.#series.get(this.series(labels).key)?.count ?? 0;
  }

  lines(): Promise<string[]> {
    const out = this.header();
    for (const [, series] of sorted(this.#series)) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i];
        const labels = this.labelText(series.values, ["le", formatValue(bound)]);
        out.push(`${this.name}_bucket${labels} ${cumulative}`);
      });
      const all = this.labelText(series.values, ["le", "+Inf"]);
      out.push(`${this.name}_bucket${all} ${series.count}`);
      out.push(`${this.name}_sum${this.labelText(series.values)} ${formatValue(series.sum)}`);
      out.push(`${this.name}_count${this.labelText(series.values)} ${series.count}`);
    }
    return Promise.resolve(out);
  }
}

/** Options for {@linkcode Registry}. */
export interface RegistryOptions {
  /** Called when a callback gauge fails; its family is exposed without series. */
  onCollectError?: (name: string, error: unknown) => void;
}

/**
 * The metrics of one process (one bridge): declare them, update them, and
 * {@linkcode Registry.expose} them in the text format.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const calls = registry.counter({
 *   name: "demo_calls_total",
 *   help: "Calls.",
 *   labels: { outcome: ["ok", "error"] },
 * });
 * calls.inc({ outcome: "ok" });
 * const text = await registry.expose();
 * ```
 */
export class Registry {
  #families: Family<string>[] = [];
  #names = new Set<string>();
  #onCollectError: RegistryOptions["onCollectError"];

  /** An empty registry. */
  constructor(options: RegistryOptions = {}) {
    this.#onCollectError = options.onCollectError;
  }

  #add<F extends Family<string>>(family: F, names: string[]): F {
    for (const name of names) {
      if (this.#names.has(name)) throw new TypeError(`metric ${name} is declared twice`);
    }
    for (const name of names) this.#names.add(name);
    this.#families.push(family);
    return family;
  }

  /** Declares a counter; by convention its name ends in `_total`. */
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.#add(new Counter<L>(options), [options.name]);
  }

  /** Declares a gauge the code sets. */
  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.#add(new Gauge<L>(options), [options.name]);
  }

  /** Declares a gauge read by `collect` at each scrape. */
  callbackGauge<L extends string = never>(options: CallbackGaugeOptions<L>): CallbackGauge<L> {
    return this.#add(new CallbackGauge<L>(options), [options.name]);
  }

  /** Declares a histogram; by convention its name ends in the unit (`_seconds`). */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    const { name } = options;
    return this.#add(new Histogram<L>(options), [
      name,
      `${name}_bucket`,
      `${name}_sum`,
      `${name}_count`,
    ]);
  }

  /** Every metric in the text exposition format, in declaration order, ending in a line feed. */
  async expose(): Promise<string> {
    const blocks = await Promise.all(this.#families.map(async (family) => {
      try {
        return await family.lines();
      } catch (error) {
        this.#onCollectError?.(family.name, error);
        return [
          `# HELP ${family.name} ${escapeHelp(family.help)}`,
          `# TYPE ${family.name} ${family.type}`,
        ];
      }
    }));
    return blocks.flat().join("\n") + "\n";
  }
}
