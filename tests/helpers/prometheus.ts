/**
 * Reads a `/metrics` exposition with an independent parser
 * (`prom2javascript`, which also checks that each histogram's `+Inf` bucket
 * equals its `_count`), so tests check what a scraper would read, not what
 * our writer meant.
 *
 * @module
 */
import assert from "node:assert/strict";
import { getMetricsFromIterator, type PromHistogramData } from "prom2javascript";

/** One metric family as the parser reads it. */
export interface ParsedFamily {
  /** Metric name. */
  name: string;
  /** `# HELP` text (as written, not unescaped). */
  help: string;
  /** `counter`, `gauge`, `histogram`... */
  type: string;
  /** Its series: a value, or a histogram's buckets, count and sum. */
  data: { labels: Record<string, string>; value?: number; count?: number; sum?: number }[];
}

/** A parsed scrape with lookups; an absent series reads as 0 (a counter never moved). */
export interface Scrape {
  /** Every family, in exposition order. */
  families: ParsedFamily[];
  /** The family named `name`; fails the test when absent. */
  family(name: string): ParsedFamily;
  /** A counter's or gauge's value for exactly these labels (0 when absent). */
  value(name: string, labels?: Record<string, string>): number;
  /** A histogram series' observation count (0 when absent). */
  count(name: string, labels?: Record<string, string>): number;
  /** A histogram series' cumulative buckets by `le` (empty when absent). */
  buckets(name: string, labels?: Record<string, string>): Record<string, number>;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Parses an exposition; every family must have HELP and TYPE. */
export async function parseMetrics(text: string): Promise<Scrape> {
  const parsed = await getMetricsFromIterator(text.split("\n")[Symbol.iterator]());
  const families: ParsedFamily[] = Object.entries(parsed).map(([name, metric]) => ({
    name,
    help: metric.help,
    type: metric.type,
    data: metric.data as ParsedFamily["data"],
  }));
  for (const f of families) {
    assert.ok(f.help, `${f.name} has HELP`);
    assert.notEqual(f.type, "unknown", `${f.name} has TYPE`);
  }
  const family = (name: string) => {
    const found = families.find((f) => f.name === name);
    assert.ok(found, `no metric ${name}`);
    return found;
  };
  const series = (name: string, labels: Record<string, string>) =>
    family(name).data.find((d) => sameLabels(d.labels, labels));
  return {
    families,
    family,
    value: (name, labels = {}) => series(name, labels)?.value ?? 0,
    count: (name, labels = {}) => series(name, labels)?.count ?? 0,
    buckets: (name, labels = {}) => {
      const found = series(name, labels) as PromHistogramData | undefined;
      return { ...found?.buckets };
    },
  };
}
