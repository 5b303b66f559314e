/**
 * `osprey perf` against a real broker process: the numbers it reports must agree with each other
 * and with the broker (records sent = acknowledged = what the log grew by; percentiles ordered).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { assertFailed, assertSucceeded, osprey, ospreyJson } from '../helpers/osprey-cli.js';

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess({ args: ['--num-partitions', '3'] });
});

after(async () => {
  await broker.stop();
});

interface Latency {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

interface ProduceReport {
  recordsSent: number;
  recordsAcknowledged: number | null;
  recordsFailed: number;
  elapsedMs: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  latencyMs: Latency | null;
}

async function recordsInTopic(topic: string): Promise<number> {
  const described = await ospreyJson<{ partitions: { records: number }[] }>(broker, ['topic', 'describe', topic]);
  return described.partitions.reduce((sum, partition) => sum + partition.records, 0);
}

function assertLatencyConsistent(latency: Latency | null, count: number): void {
  assert.ok(latency !== null);
  assert.equal(latency.count, count);
  const ordered = [latency.min, latency.p50, latency.p95, latency.p99, latency.p999, latency.max];
  assert.deepEqual([...ordered].sort((left, right) => left - right), ordered, `percentiles in order: ${JSON.stringify(latency)}`);
  assert.ok(latency.min > 0 && latency.mean >= latency.min && latency.mean <= latency.max, JSON.stringify(latency));
}

test('perf produce: sent = acknowledged = what the topic grew by; throughput and percentiles agree', async () => {
  const report = await ospreyJson<ProduceReport>(broker, ['perf', 'produce', '--topic', 'perf-a', '--records', '30000', '--record-size', '200']);
  assert.equal(report.recordsSent, 30000);
  assert.equal(report.recordsAcknowledged, 30000);
  assert.equal(report.recordsFailed, 0);
  assert.equal(await recordsInTopic('perf-a'), 30000);
  const seconds = report.elapsedMs / 1000;
  assert.ok(Math.abs(report.recordsPerSecond - 30000 / seconds) <= 30000 / seconds / 100 + 1, JSON.stringify(report));
  assert.ok(Math.abs(report.megabytesPerSecond - (30000 * 200) / 1048576 / seconds) < 0.1 + report.megabytesPerSecond / 50, JSON.stringify(report));
  assertLatencyConsistent(report.latencyMs, 30000);
});

test('perf produce with compression, concurrency and a rate limit', async () => {
  const report = await ospreyJson<ProduceReport>(broker, ['perf', 'produce', '-t', 'perf-b', '--duration', '2s', '--rate', '2000', '--compression', 'zstd', '--concurrency', '2', '--acks', '1']);
  assert.equal(report.recordsAcknowledged, report.recordsSent);
  assert.equal(report.recordsFailed, 0);
  assert.ok(report.recordsSent >= 2000 && report.recordsSent <= 4400, `about 2 s at 2000/s, got ${report.recordsSent}`);
  assert.ok(report.recordsPerSecond <= 2200, `rate held: ${report.recordsPerSecond}`);
  assert.equal(await recordsInTopic('perf-b'), report.recordsSent);
  assertLatencyConsistent(report.latencyMs, report.recordsSent);
});

test('perf produce --acks 0 sends without acknowledgements; the log still gets every record', async () => {
  const report = await ospreyJson<ProduceReport>(broker, ['perf', 'produce', '-t', 'perf-c', '-n', '5000', '--acks', '0']);
  assert.equal(report.recordsSent, 5000);
  assert.equal(report.recordsAcknowledged, null);
  assert.equal(report.latencyMs, null);
  const deadline = Date.now() + 10_000;
  while ((await recordsInTopic('perf-c')) < 5000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await recordsInTopic('perf-c'), 5000);
});

test('perf consume reads everything there is and counts bytes exactly', async () => {
  assertSucceeded(await osprey(broker, ['perf', 'produce', '-t', 'perf-d', '-n', '20000', '-s', '64', '--compression', 'lz4']));
  const report = await ospreyJson<{ records: number; bytes: number; fetches: number; recordsPerSecond: number }>(broker, ['perf', 'consume', '-t', 'perf-d']);
  assert.equal(report.records, 20000);
  assert.equal(report.bytes, 20000 * 64);
  assert.ok(report.fetches >= 1);
  const limited = await ospreyJson<{ records: number }>(broker, ['perf', 'consume', '-t', 'perf-d', '--records', '5000']);
  assert.ok(limited.records >= 5000 && limited.records <= 20000);
});

test('perf e2e receives every record it sent and reports end-to-end percentiles', async () => {
  const report = await ospreyJson<{ recordsSent: number; recordsAcknowledged: number; recordsReceived: number; latencyMs: Latency | null; acknowledgedLatencyMs: Latency | null }>(broker, ['perf', 'e2e', '-t', 'perf-e', '-n', '3000', '--rate', '3000']);
  assert.equal(report.recordsSent, 3000);
  assert.equal(report.recordsAcknowledged, 3000);
  assert.equal(report.recordsReceived, 3000);
  assertLatencyConsistent(report.latencyMs, 3000);
  assertLatencyConsistent(report.acknowledgedLatencyMs, 3000);
  const human = await osprey(broker, ['perf', 'e2e', '-t', 'perf-e', '-n', '500']);
  assertSucceeded(human);
  assert.match(human.stdout, /^end-to-end:\s+p50 [\d.]+ m?s {2}p95/m);
  assert.match(human.stdout, /^acknowledged:\s+p50 [\d.]+ m?s {2}p95/m);
  const unacknowledged = await ospreyJson<{ recordsReceived: number; acknowledgedLatencyMs: Latency | null }>(broker, ['perf', 'e2e', '-t', 'perf-e', '-n', '500', '--acks', '0']);
  assert.equal(unacknowledged.recordsReceived, 500);
  assert.equal(unacknowledged.acknowledgedLatencyMs, null, 'acks=0: nothing is acknowledged');
});

test('perf prints a human summary, and refuses bad flags', async () => {
  const human = await osprey(broker, ['perf', 'produce', '-t', 'perf-f', '-n', '2000']);
  assertSucceeded(human);
  assert.match(human.stdout, /^records:\s+2,000 sent, 2,000 acknowledged, 0 failed$/m);
  assert.match(human.stdout, /^throughput:\s+[\d,]+ records\/s, [\d.]+ MiB\/s \(100 B records\)$/m);
  assert.match(human.stdout, /^latency:\s+p50 [\d.]+ m?s {2}p95 [\d.]+ m?s {2}p99 [\d.]+ m?s {2}p99\.9 [\d.]+ m?s {2}max [\d.]+ m?s/m);
  assert.equal(human.stderr, '', 'no progress line when stderr is not a terminal');

  assertFailed(await osprey(broker, ['perf', 'produce', '-n', '10']), /--topic is required/, 2);
  assertFailed(await osprey(broker, ['perf', 'produce', '-t', 'x', '-n', '10', '--duration', '1s']), /give --records or --duration, not both/, 2);
  assertFailed(await osprey(broker, ['perf', 'produce', '-t', 'x', '--record-size', 'big']), /--record-size: expected a size like 100, 16KiB or 1MiB/, 2);
  assertFailed(await osprey('127.0.0.1:1', ['perf', 'produce', '-t', 'x', '-n', '10']), /cannot reach broker 127\.0\.0\.1:1/);
});
