/**
 * Latency percentiles from an HDR histogram (hdr-histogram-js): values recorded in microseconds at
 * 3 significant digits, so p99.9 of a million samples costs a few kilobytes, not a sorted array.
 * Used by `osprey perf`; meant for the benchmarks too.
 */
import hdr from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  readonly minMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export class LatencyHistogram {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });

  /** Records one latency given in milliseconds (fractional allowed). */
  recordMs(latencyMs: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /**
   * The histogram answers with the highest value its bucket stands for, which can lie above the
   * largest latency actually recorded (buckets are up to 0.1 % wide); no sample exceeded the
   * maximum, so the answer is capped there.
   */
  percentileMs(percentile: number): number {
    return Math.min(this.histogram.getValueAtPercentile(percentile), this.histogram.maxValue) / 1000;
  }

  summary(): LatencySummary {
    const empty = this.histogram.totalCount === 0;
    return {
      count: this.histogram.totalCount,
      minMs: empty ? 0 : this.histogram.minNonZeroValue / 1000,
      meanMs: empty ? 0 : this.histogram.mean / 1000,
      p50Ms: this.percentileMs(50),
      p95Ms: this.percentileMs(95),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      maxMs: empty ? 0 : this.histogram.maxValue / 1000,
    };
  }
}
