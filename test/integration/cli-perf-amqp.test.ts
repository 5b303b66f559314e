/**
 * `osprey perf amqp-*` against a real RabbitMQ node (Osprey's own AMQP listener is not there yet):
 * the numbers it reports must agree with each other and with the broker (messages published =
 * confirmed = what the queue holds; consumed and acknowledged = what left it; persistent means
 * delivery mode 2 on the stored message; percentiles ordered).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAmqp } from '../../src/client/amqp/connection.js';
import type { AmqpConnection } from '../../src/client/amqp/connection.js';
import { startRabbitmqProcess } from '../helpers/rabbitmq-process.js';
import type { RabbitmqProcess } from '../helpers/rabbitmq-process.js';
import { assertFailed, assertSucceeded, osprey, ospreyJson } from '../helpers/osprey-cli.js';
import type { OspreyResult } from '../helpers/osprey-cli.js';

let rabbitmq: RabbitmqProcess;
let inspector: AmqpConnection;

before(async () => {
  rabbitmq = await startRabbitmqProcess();
  inspector = await connectAmqp(rabbitmq.url);
});

after(async () => {
  await inspector?.close();
  await rabbitmq?.stop();
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

interface PublishReport {
  queue: string;
  recordsSent: number;
  recordsConfirmed: number | null;
  recordsNacked: number;
  recordBytes: number;
  elapsedMs: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  confirm: boolean;
  persistent: boolean;
  latencyMs: Latency | null;
}

interface ConsumeReport {
  queue: string;
  records: number;
  bytes: number;
  elapsedMs: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
}

/** The AMQP commands take --amqp-url, not --brokers. */
function perf(args: readonly string[]): Promise<OspreyResult> {
  return osprey('', ['perf', ...args, '--amqp-url', rabbitmq.url], { noBrokersFlag: true, timeoutMs: 120_000 });
}

function perfJson<T>(args: readonly string[]): Promise<T> {
  return ospreyJson<T>('', ['perf', ...args, '--amqp-url', rabbitmq.url], { noBrokersFlag: true, timeoutMs: 120_000 });
}

async function queueDepth(queue: string): Promise<number> {
  const channel = await inspector.createChannel();
  const { messageCount } = await channel.queueDeclare(queue, { passive: true });
  await channel.close();
  return messageCount;
}

function assertLatencyConsistent(latency: Latency | null, count: number): void {
  assert.ok(latency !== null);
  assert.equal(latency.count, count);
  const ordered = [latency.min, latency.p50, latency.p95, latency.p99, latency.p999, latency.max];
  assert.deepEqual([...ordered].sort((left, right) => left - right), ordered, `percentiles in order: ${JSON.stringify(latency)}`);
  assert.ok(latency.min > 0 && latency.mean >= latency.min && latency.mean <= latency.max, JSON.stringify(latency));
}

test('amqp-publish --confirm --persistent: published = confirmed = the queue depth; stored persistent; rates agree', async () => {
  const report = await perfJson<PublishReport>(['amqp-publish', '--queue', 'perf-a', '--records', '20000', '--record-size', '200', '--confirm', '--persistent']);
  assert.equal(report.recordsSent, 20000);
  assert.equal(report.recordsConfirmed, 20000);
  assert.equal(report.recordsNacked, 0);
  assert.equal(report.recordBytes, 200);
  assert.equal(await queueDepth('perf-a'), 20000);
  const seconds = report.elapsedMs / 1000;
  assert.ok(Math.abs(report.recordsPerSecond - 20000 / seconds) <= 20000 / seconds / 100 + 1, JSON.stringify(report));
  assert.ok(Math.abs(report.megabytesPerSecond - (20000 * 200) / 1048576 / seconds) < 0.1 + report.megabytesPerSecond / 50, JSON.stringify(report));
  assertLatencyConsistent(report.latencyMs, 20000);
  const channel = await inspector.createChannel();
  const stored = await channel.get('perf-a');
  assert.ok(stored !== null);
  assert.equal(stored.properties.deliveryMode, 2);
  assert.equal(stored.body.length, 200);
  await channel.close(); // unacknowledged: back in the queue
});

test('amqp-consume reads what the queue held, acknowledges it (the queue is empty after), counts bytes exactly', async () => {
  assert.equal(await queueDepth('perf-a'), 20000);
  const limited = await perfJson<ConsumeReport>(['amqp-consume', '-q', 'perf-a', '--records', '5000', '--prefetch', '500']);
  assert.equal(limited.records, 5000);
  assert.equal(limited.bytes, 5000 * 200);
  assert.equal(await queueDepth('perf-a'), 15000, 'prefetched messages past the limit went back to the queue');
  const rest = await perfJson<ConsumeReport>(['amqp-consume', '-q', 'perf-a', '--ack-every', '100']);
  assert.equal(rest.records, 15000);
  assert.equal(rest.bytes, 15000 * 200);
  assert.ok(rest.recordsPerSecond > 0);
  assert.equal(await queueDepth('perf-a'), 0);
});

test('quorum queues: declared of the type asked, published with confirms, consumed to empty', async () => {
  const published = await perfJson<PublishReport>(['amqp-publish', '-q', 'perf-quorum', '--queue-type', 'quorum', '-n', '10000', '--confirm', '--persistent', '--max-unconfirmed', '200']);
  assert.equal(published.recordsConfirmed, 10000);
  assert.equal(await queueDepth('perf-quorum'), 10000);
  const channel = await inspector.createChannel();
  await assert.rejects(channel.queueDeclare('perf-quorum', { durable: true }), /PRECONDITION_FAILED.*x-queue-type/, 'the queue is a quorum queue, not a classic one');
  const consumed = await perfJson<ConsumeReport>(['amqp-consume', '-q', 'perf-quorum']);
  assert.equal(consumed.records, 10000);
  assert.equal(await queueDepth('perf-quorum'), 0);
});

test('amqp-publish without --confirm, with a rate and a duration: no confirm figures, the rate held, every message arrives', async () => {
  const report = await perfJson<PublishReport>(['amqp-publish', '-q', 'perf-b', '--duration', '2s', '--rate', '2000']);
  assert.equal(report.recordsConfirmed, null);
  assert.equal(report.latencyMs, null);
  assert.ok(report.recordsSent >= 2000 && report.recordsSent <= 4400, `about 2 s at 2000/s, got ${report.recordsSent}`);
  assert.ok(report.recordsPerSecond <= 2200, `rate held: ${report.recordsPerSecond}`);
  assert.equal(await queueDepth('perf-b'), report.recordsSent);
});

test('amqp-e2e receives every message it published and reports end-to-end percentiles', async () => {
  const report = await perfJson<{ recordsSent: number; recordsConfirmed: number; recordsReceived: number; latencyMs: Latency | null }>(['amqp-e2e', '-q', 'perf-e', '-n', '3000', '--rate', '3000', '--confirm', '--persistent']);
  assert.equal(report.recordsSent, 3000);
  assert.equal(report.recordsConfirmed, 3000);
  assert.equal(report.recordsReceived, 3000);
  assertLatencyConsistent(report.latencyMs, 3000);
  assert.equal(await queueDepth('perf-e'), 0);
});

test('human summary; nacks, bad flags and unreachable brokers fail with a message', async () => {
  const human = await perf(['amqp-publish', '-q', 'perf-f', '-n', '2000', '--confirm']);
  assertSucceeded(human);
  assert.match(human.stdout, /^messages:\s+2,000 published, 2,000 confirmed, 0 nacked$/m);
  assert.match(human.stdout, /^throughput:\s+[\d,]+ messages\/s, [\d.]+ MiB\/s \(100 B messages\)$/m);
  assert.match(human.stdout, /^confirm latency: p50 [\d.]+ m?s {2}p95 [\d.]+ m?s {2}p99 [\d.]+ m?s {2}p99\.9 [\d.]+ m?s {2}max [\d.]+ m?s/m);
  assert.equal(human.stderr, '', 'no progress line when stderr is not a terminal');
  const consumed = await perf(['amqp-consume', '-q', 'perf-f']);
  assertSucceeded(consumed);
  assert.match(consumed.stdout, /^messages:\s+2,000 \(195 KiB\) consumed and acknowledged$/m);

  const bounded = await inspector.createChannel();
  await bounded.queueDeclare('perf-bounded', { durable: true, arguments: { 'x-max-length': 100, 'x-overflow': 'reject-publish' } });
  await bounded.close();
  const nacked = await perf(['amqp-publish', '-q', 'perf-bounded', '-n', '300', '--confirm', '--json']);
  assert.equal(nacked.code, 1);
  const nackedReport = JSON.parse(nacked.stdout) as PublishReport;
  assert.equal(nackedReport.recordsConfirmed, 100);
  assert.equal(nackedReport.recordsNacked, 200);
  assert.match(nacked.stderr, /200 messages nacked; the first: message 101 was nacked by the broker/);

  assertFailed(await perf(['amqp-publish', '-n', '10']), /--queue is required/, 2);
  assertFailed(await perf(['amqp-publish', '-q', 'x', '-n', '10', '--duration', '1s']), /give --records or --duration, not both/, 2);
  assertFailed(await perf(['amqp-publish', '-q', 'x', '--queue-type', 'lazy']), /--queue-type: lazy; one of classic, quorum, stream/, 2);
  assertFailed(await perf(['amqp-publish', '-q', 'x', '--max-unconfirmed', '5']), /--max-unconfirmed needs --confirm/, 2);
  assertFailed(await osprey('', ['perf', 'amqp-publish', '-q', 'x', '--amqp-url', 'amqps://h/'], { noBrokersFlag: true }), /--amqp-url: amqps:\/\/h\/: only amqp:\/\/ is supported/, 2);
  assertFailed(await osprey('', ['perf', 'amqp-publish', '-q', 'x', '-n', '10', '--amqp-url', 'amqp://127.0.0.1:1/'], { noBrokersFlag: true }), /127\.0\.0\.1:1: connect ECONNREFUSED/);
  assertFailed(await osprey('', ['perf', 'amqp-publish', '-q', 'x', '-n', '10', '--amqp-url', rabbitmq.url.replace('guest:guest', 'guest:nope')], { noBrokersFlag: true }), /connection closed by the broker: 403 ACCESS_REFUSED/);
  // Without --amqp-url, OSPREY_AMQP_URL says where to go.
  assertFailed(await osprey('', ['perf', 'amqp-consume', '-q', 'x'], { noBrokersFlag: true, env: { OSPREY_AMQP_URL: 'amqp://127.0.0.1:1/' } }), /127\.0\.0\.1:1: connect ECONNREFUSED/);
});
