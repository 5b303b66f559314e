import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCount, formatMicroseconds, LatencyRecorder, median, medianLatencyRun, summarize } from '../../../bench/lib/stats.js';

test('median of odd and even counts, independent of order', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), RangeError);
});

test('summary keeps the rounds in order with median, min and max', () => {
  const summary = summarize([30, 10, 20]);
  assert.deepEqual(summary, { median: 20, min: 10, max: 30, rounds: [30, 10, 20] });
  assert.throws(() => summarize([1, Number.NaN]), RangeError);
  assert.throws(() => summarize([]), RangeError);
});

test('latency recorder: percentiles of 1..10000 µs within the histogram precision', () => {
  const recorder = new LatencyRecorder();
  for (let value = 1; value <= 10_000; value += 1) recorder.record(value);
  const summary = recorder.summary();
  assert.equal(summary.count, 10_000);
  const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 1, `${actual} ≉ ${expected}`);
  near(summary.p50Us, 5_000);
  near(summary.p99Us, 9_900);
  near(summary.p999Us, 9_990);
  near(summary.maxUs, 10_000);
});

test('latency recorder clamps values outside its range instead of throwing', () => {
  const recorder = new LatencyRecorder();
  recorder.record(0);
  recorder.record(-5);
  recorder.record(1e12);
  assert.equal(recorder.count, 3);
  assert.ok(recorder.summary().maxUs >= 600_000_000 * 0.999);
});

test('the reported latency run is the one with the median p99', () => {
  const run = (p99Us: number) => ({ count: 1, p50Us: 1, p99Us, p999Us: p99Us, maxUs: p99Us });
  assert.equal(medianLatencyRun([run(30), run(10), run(20)]).p99Us, 20);
  assert.equal(medianLatencyRun([run(30), run(10)]).p99Us, 10);
});

test('formatting of counts and durations', () => {
  assert.equal(formatCount(1_234_567), '1.23M');
  assert.equal(formatCount(12_345), '12.3k');
  assert.equal(formatCount(123), '123');
  assert.equal(formatMicroseconds(850), '850µs');
  assert.equal(formatMicroseconds(12_345), '12.3ms');
  assert.equal(formatMicroseconds(1_200_000), '1.20s');
});

test('no percentile is above the maximum, even where buckets are wide (seconds)', () => {
  const recorder = new LatencyRecorder();
  for (let index = 0; index < 1000; index += 1) recorder.record(17_000_000 + index * 481); // 17.0 s to 17.48 s
  const summary = recorder.summary();
  assert.ok(summary.p50Us <= summary.p99Us && summary.p99Us <= summary.p999Us && summary.p999Us <= summary.maxUs, JSON.stringify(summary));
  assert.ok(Math.abs(summary.maxUs - 17_480_519) <= 17_480_519 * 0.001, `max ${summary.maxUs}`);
});
