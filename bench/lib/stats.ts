/**
 * Summaries of repeated measurements (median of rounds, with the spread) and latency percentiles
 * from an HDR histogram. Pure functions: unit-tested in test/unit/bench/stats.test.ts.
 */
import hdr from 'hdr-histogram-js';

/** Median, lowest and highest of the rounds, and the rounds themselves in the order they ran. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: readonly number[];
}

/** The middle value; the mean of the two middle values for an even count. Throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle]!;
  return (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summary of no values');
  for (const value of values) if (!Number.isFinite(value)) throw new RangeError(`summary of a non-finite value: ${value}`);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), rounds: [...values] };
}

/** Latency figures of one run, in microseconds, as taken from the histogram. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** Records latencies in microseconds, 1 µs to 10 min, 3 significant digits (≤ 0.1 % error). */
export class LatencyRecorder {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

  record(latencyUs: number): void {
    this.histogram.recordValue(Math.min(600_000_000, Math.max(1, Math.round(latencyUs))));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const histogram = this.histogram;
    const maxUs = histogram.maxValue;
    // A percentile is read as the top of its bucket, which at seconds (buckets of ~16 ms) can lie
    // above the largest value recorded; no percentile is above the maximum.
    const atPercentile = (percentile: number) => Math.min(histogram.getValueAtPercentile(percentile), maxUs);
    return { count: histogram.totalCount, p50Us: atPercentile(50), p99Us: atPercentile(99), p999Us: atPercentile(99.9), maxUs };
  }
}

/** The run (of several) whose p99 is the median one: its figures are reported together. */
export function medianLatencyRun(runs: readonly LatencySummary[]): LatencySummary {
  if (runs.length === 0) throw new RangeError('no latency runs');
  const sorted = [...runs].sort((a, b) => a.p99Us - b.p99Us);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** 1234567 → "1.23M", 12345 → "12.3k", 123 → "123". */
export function formatCount(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
  return abs >= 10 ? value.toFixed(0) : value.toPrecision(2);
}

/** Microseconds as "850µs", "12.3ms", "1.20s". */
export function formatMicroseconds(valueUs: number): string {
  if (valueUs >= 1e6) return `${(valueUs / 1e6).toPrecision(3)}s`;
  if (valueUs >= 1e3) return `${(valueUs / 1e3).toPrecision(3)}ms`;
  return `${Math.round(valueUs)}µs`;
}
