/**
 * The HDR latency summary against percentiles computed by sorting, and the progress line's text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../../src/perf/latency-histogram.js';
import { formatProgress } from '../../../src/perf/progress.js';

test('percentiles agree with a sorted array within the histogram precision (3 digits)', () => {
  const histogram = new LatencyHistogram();
  const samples: number[] = [];
  let seed = 7;
  for (let index = 0; index < 100_000; index++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const latencyMs = 0.05 + (seed / 2 ** 31) ** 4 * 250; // a long tail
    samples.push(latencyMs);
    histogram.recordMs(latencyMs);
  }
  samples.sort((left, right) => left - right);
  const exact = (percentile: number) => samples[Math.ceil((percentile / 100) * samples.length) - 1]!;
  const summary = histogram.summary();
  assert.equal(summary.count, 100_000);
  for (const [percentile, value] of [[50, summary.p50Ms], [95, summary.p95Ms], [99, summary.p99Ms], [99.9, summary.p999Ms]] as const) {
    assert.ok(Math.abs(value - exact(percentile)) <= exact(percentile) * 0.002 + 0.001, `p${percentile}: ${value} vs ${exact(percentile)}`);
  }
  assert.ok(Math.abs(summary.maxMs - samples[samples.length - 1]!) <= samples[samples.length - 1]! * 0.002);
  assert.ok(Math.abs(summary.minMs - samples[0]!) <= 0.001 + samples[0]! * 0.002);
});

test('no percentile lies above the maximum, although histogram buckets are wider than one microsecond', () => {
  const histogram = new LatencyHistogram();
  for (let index = 0; index < 1000; index++) histogram.recordMs(index % 2 === 0 ? 12.3457 : 4.2);
  const summary = histogram.summary();
  const ordered = [summary.minMs, summary.p50Ms, summary.p95Ms, summary.p99Ms, summary.p999Ms, summary.maxMs];
  assert.deepEqual(ordered, [...ordered].sort((left, right) => left - right), JSON.stringify(summary));
  assert.ok(summary.p999Ms >= 12.3, JSON.stringify(summary));
});

test('an empty histogram summarises to zeros', () => {
  const summary = new LatencyHistogram().summary();
  assert.deepEqual([summary.count, summary.p99Ms, summary.maxMs], [0, 0, 0]);
});

test('the progress line shows a bar when the end is known, and rates', () => {
  assert.equal(formatProgress({ records: 500_000, bytes: 0, fraction: 0.5, note: 'p99 3.10 ms' }, 250_000, 25 * 1048576), '[██████████░░░░░░░░░░]  50%  500,000 records  250,000 rec/s  25.0 MiB/s  p99 3.10 ms');
  assert.equal(formatProgress({ records: 10, bytes: 0, fraction: null }, 5, 0), '10 records  5 rec/s  0.0 MiB/s');
});
