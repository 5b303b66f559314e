/**
 * `osprey perf produce|consume|e2e`: load generation and measurement through the project's client,
 * like kafka-producer-perf-test / kafka-consumer-perf-test (the AMQP counterparts, amqp-publish,
 * amqp-consume and amqp-e2e, are in perf-amqp-command.ts). A live progress line on a terminal;
 * at the end throughput and latency percentiles from an HDR histogram; --json for machines.
 *
 *   produce  latency = from produce() to the broker's acknowledgement, per record
 *   consume  throughput only (records and bytes per second, fetch count)
 *   e2e      latency = from produce() to the record arriving at a consumer in the same process,
 *            beside the acknowledgement latency of the same records (what of the end-to-end time
 *            the produce path takes; the rest is the Fetch's wake-up and the way back)
 */
import { randomBytes } from 'node:crypto';
import { Consumer } from '../client/consumer.js';
import { KafkaClient } from '../client/client.js';
import { Producer } from '../client/producer.js';
import type { DeliveryCallback } from '../client/producer.js';
import { LatencyHistogram } from '../perf/latency-histogram.js';
import { ProgressLine } from '../perf/progress.js';
import { UsageError } from './command-kit.js';
import type { OptionSpec, RunContext, Subcommand } from './command-kit.js';
import { parseStartPosition, resolveStart } from './consume-command.js';
import { formatBytes, formatCount, formatMs, keyValues } from './output.js';
import { parseAcks, parseCompression } from './produce-command.js';
import { amqpPerfCommands } from './perf-amqp-command.js';
import { latencyJson, latencyLine } from './perf-report.js';

export const perfSummary = 'measure produce, consume and end-to-end throughput and latency (Kafka, and AMQP with amqp-*)';

const loadOptions: Readonly<Record<string, OptionSpec>> = {
  topic: { type: 'string', short: 't', value: 'TOPIC', description: 'topic to use (required; auto-created if the broker allows)' },
  records: { type: 'string', short: 'n', value: 'N', description: 'how many records (default 100000 unless --duration)' },
  duration: { type: 'string', short: 'd', value: 'DURATION', description: 'run this long instead, e.g. 30s' },
  'record-size': { type: 'string', short: 's', value: 'BYTES', description: 'value size (default 100)' },
  rate: { type: 'string', short: 'r', value: 'N', description: 'records per second to aim for (default: as fast as possible)' },
  acks: { type: 'string', short: 'a', value: 'all|1|0', description: 'acknowledgement level (default all)' },
  compression: { type: 'string', short: 'z', value: 'CODEC', description: 'none (default), gzip, snappy, lz4 or zstd' },
  'batch-size': { type: 'string', value: 'BYTES', description: 'producer batch size (default 64KiB)' },
  linger: { type: 'string', value: 'DURATION', description: 'producer linger (default 5ms)' },
  'max-in-flight': { type: 'string', value: 'N', description: 'Produce requests in flight per connection (default 5)' },
  concurrency: { type: 'string', short: 'c', value: 'N', description: 'producers, each with its own connections (default 1)' },
};

interface LoadPlan {
  readonly topic: string;
  readonly records: number | null;
  readonly durationMs: number | null;
  readonly recordBytes: number;
  readonly rate: number | null;
  readonly acks: -1 | 0 | 1;
  readonly concurrency: number;
  readonly producerOptions: ConstructorParameters<typeof Producer>[1];
}

function loadPlan(run: RunContext): LoadPlan {
  const topic = run.string('topic');
  if (topic === undefined) throw new UsageError('--topic is required');
  const records = run.integer('records', { min: 1 });
  const durationMs = run.duration('duration');
  if (records !== undefined && durationMs !== undefined) throw new UsageError('give --records or --duration, not both');
  const acks = parseAcks(run.string('acks'));
  const linger = run.duration('linger');
  const batchBytes = run.size('batch-size');
  const maxInFlight = run.integer('max-in-flight', { min: 1, max: 1000 });
  return {
    topic,
    records: records ?? (durationMs === undefined ? 100_000 : null),
    durationMs: durationMs ?? null,
    recordBytes: run.size('record-size') ?? 100,
    rate: run.integer('rate', { min: 1 }) ?? null,
    acks,
    concurrency: run.integer('concurrency', { min: 1, max: 64 }) ?? 1,
    producerOptions: {
      acks,
      compression: parseCompression(run.string('compression')),
      ...(linger === undefined ? {} : { lingerMs: linger }),
      ...(batchBytes === undefined ? {} : { batchBytes }),
      ...(maxInFlight === undefined ? {} : { maxInFlightPerBroker: maxInFlight }),
    },
  };
}

function newClient(run: RunContext): KafkaClient {
  const timeout = run.duration('timeout');
  return new KafkaClient({ brokers: run.brokers, clientId: 'osprey-perf', ...(timeout === undefined ? {} : { requestTimeoutMs: timeout }) });
}

interface ProduceResult {
  sent: number;
  acknowledged: number;
  failed: number;
  firstError: Error | null;
  bytes: number;
  elapsedMs: number;
}

/**
 * Runs the producers. `stamp` lets e2e write the send time into each value; `onAck` sees each
 * acknowledgement's latency.
 */
async function runProducers(run: RunContext, plan: LoadPlan, histogram: LatencyHistogram | null, progressNote: () => string | undefined, stamp: ((value: Buffer) => void) | null, shouldStop: () => boolean): Promise<ProduceResult> {
  const clients = Array.from({ length: plan.concurrency }, () => newClient(run));
  const producers = clients.map((client) => new Producer(client, plan.producerOptions));
  try {
    await Promise.all(producers.map((producer) => producer.prepare(plan.topic)));
    const result: ProduceResult = { sent: 0, acknowledged: 0, failed: 0, firstError: null, bytes: 0, elapsedMs: 0 };
    const payload = randomBytes(plan.recordBytes);
    const progress = new ProgressLine((text) => run.err(text), process.stderr.isTTY === true && !run.json, () => ({
      records: result.acknowledged + (plan.acks === 0 ? result.sent : 0),
      bytes: (result.acknowledged + (plan.acks === 0 ? result.sent : 0)) * plan.recordBytes,
      fraction: plan.records !== null ? result.sent / plan.records : plan.durationMs !== null ? (performance.now() - started) / plan.durationMs : null,
      ...(progressNote() === undefined ? {} : { note: progressNote()! }),
    }));
    const started = performance.now();
    progress.start();
    const deadline = plan.durationMs === null ? Infinity : started + plan.durationMs;
    const perProducer = plan.records === null ? null : Math.ceil(plan.records / plan.concurrency);
    await Promise.all(
      producers.map(async (producer, index) => {
        const quota = perProducer === null ? Infinity : Math.min(perProducer, plan.records! - perProducer * index);
        const ratePerProducer = plan.rate === null ? null : plan.rate / plan.concurrency;
        let mine = 0;
        while (mine < quota && !shouldStop()) {
          if ((mine & 1023) === 0) {
            if (performance.now() >= deadline) break;
            await new Promise((resolve) => setImmediate(resolve)); // let answers and timers in
          }
          if (ratePerProducer !== null) {
            const dueAt = started + (mine / ratePerProducer) * 1000;
            const wait = dueAt - performance.now();
            if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
          }
          const value = stamp === null ? payload : Buffer.from(payload);
          if (stamp !== null) stamp(value);
          const sentAt = performance.now();
          const callback: DeliveryCallback = (error) => {
            if (error !== null) {
              result.failed++;
              result.firstError ??= error;
              return;
            }
            if (plan.acks === 0) return; // delivered means written to the socket: nothing to count as acknowledged
            result.acknowledged++;
            if (histogram !== null) histogram.recordMs(performance.now() - sentAt);
          };
          mine++;
          result.sent++;
          if (!producer.produce(plan.topic, { value }, callback)) await producer.waitForCapacity();
        }
        await producer.flush();
      }),
    );
    result.elapsedMs = performance.now() - started;
    result.bytes = result.sent * plan.recordBytes;
    progress.stop();
    return result;
  } finally {
    for (const client of clients) client.close();
  }
}

const perfProduce: Subcommand = {
  name: 'perf produce',
  summary: 'send records as fast as asked and report throughput and acknowledgement latency',
  options: loadOptions,
  examples: ['osprey perf produce --topic bench --records 1000000 --record-size 100', 'osprey perf produce -t bench --duration 30s --rate 50000 --acks 1 --compression lz4', 'osprey perf produce -t bench -n 500000 --concurrency 4 --json'],
  async run(run) {
    const plan = loadPlan(run);
    const histogram = new LatencyHistogram();
    const result = await runProducers(run, plan, histogram, () => (histogram.count > 0 ? `p99 ${formatMs(histogram.percentileMs(99))}` : undefined), null, () => false);
    const seconds = result.elapsedMs / 1000;
    const latency = plan.acks === 0 ? null : histogram.summary();
    const report = {
      topic: plan.topic,
      recordsSent: result.sent,
      recordsAcknowledged: plan.acks === 0 ? null : result.acknowledged,
      recordsFailed: result.failed,
      recordBytes: plan.recordBytes,
      elapsedMs: Math.round(result.elapsedMs),
      recordsPerSecond: Math.round(result.sent / seconds),
      megabytesPerSecond: Number((result.bytes / 1048576 / seconds).toFixed(2)),
      acks: plan.acks === -1 ? 'all' : plan.acks,
      compression: plan.producerOptions?.compression ?? 'none',
      concurrency: plan.concurrency,
      latencyMs: latencyJson(latency),
    };
    if (run.json) run.outJson(report);
    else {
      run.out(
        keyValues(
          [
            ['records', `${formatCount(result.sent)} sent, ${plan.acks === 0 ? 'not acknowledged (acks=0)' : `${formatCount(result.acknowledged)} acknowledged`}, ${formatCount(result.failed)} failed`],
            ['time', formatMs(result.elapsedMs)],
            ['throughput', `${formatCount(report.recordsPerSecond)} records/s, ${report.megabytesPerSecond.toFixed(2)} MiB/s (${formatBytes(plan.recordBytes)} records)`],
            ...(latency === null ? [] : ([['latency', latencyLine(latency)]] as [string, string][])),
          ],
          run.style,
        ),
      );
    }
    if (result.firstError !== null) {
      run.err(`osprey perf produce: ${result.failed} records failed; the first: ${result.firstError.message}\n`);
      return 1;
    }
    return 0;
  },
};

const perfConsume: Subcommand = {
  name: 'perf consume',
  summary: 'read records as fast as possible and report throughput',
  options: {
    topic: loadOptions['topic']!,
    records: { type: 'string', short: 'n', value: 'N', description: 'stop after N records (default: everything up to the end)' },
    duration: loadOptions['duration']!,
    from: { type: 'string', short: 'o', value: 'POSITION', description: 'beginning (default), end, OFFSET, @MS or an ISO date' },
    'fetch-max-bytes': { type: 'string', value: 'BYTES', description: 'per partition and fetch (default 1MiB)' },
  },
  examples: ['osprey perf consume --topic bench', 'osprey perf consume -t bench --records 1000000 --json'],
  async run(run) {
    const topic = run.string('topic');
    if (topic === undefined) throw new UsageError('--topic is required');
    const limit = run.integer('records', { min: 1 });
    const durationMs = run.duration('duration');
    const partitionMaxBytes = run.size('fetch-max-bytes');
    const client = run.client();
    const metadata = await client.topicMetadata(topic, { refresh: true });
    const partitions = metadata.partitions.map((partition) => partition.partition);
    const starts = await resolveStart(run.admin(), topic, partitions, parseStartPosition('--from', run.string('from') ?? 'beginning'));
    const consumer = new Consumer(client, { maxWaitMs: 100, ...(partitionMaxBytes === undefined ? {} : { partitionMaxBytes }) });
    consumer.assign(partitions.map((partition) => ({ topic, partition, offset: starts.get(partition)! })));
    let records = 0;
    let bytes = 0;
    let fetches = 0;
    const progress = new ProgressLine((text) => run.err(text), process.stderr.isTTY === true && !run.json, () => ({ records, bytes, fraction: limit === undefined ? null : records / limit }));
    const started = performance.now();
    progress.start();
    for (;;) {
      if (limit !== undefined && records >= limit) break;
      if (durationMs !== undefined && performance.now() - started >= durationMs) break;
      if (limit === undefined && durationMs === undefined && consumer.caughtUp) break;
      const batch = await consumer.poll();
      fetches++;
      for (const record of batch) {
        records++;
        bytes += (record.value?.length ?? 0) + (record.key?.length ?? 0);
      }
    }
    progress.stop();
    const elapsedMs = performance.now() - started;
    const report = { topic, records, bytes, fetches, elapsedMs: Math.round(elapsedMs), recordsPerSecond: Math.round(records / (elapsedMs / 1000)), megabytesPerSecond: Number((bytes / 1048576 / (elapsedMs / 1000)).toFixed(2)) };
    if (run.json) run.outJson(report);
    else {
      run.out(
        keyValues(
          [
            ['records', `${formatCount(records)} (${formatBytes(bytes)}) in ${formatCount(fetches)} fetches`],
            ['time', formatMs(elapsedMs)],
            ['throughput', `${formatCount(report.recordsPerSecond)} records/s, ${report.megabytesPerSecond.toFixed(2)} MiB/s`],
          ],
          run.style,
        ),
      );
    }
    return 0;
  },
};

const perfEndToEnd: Subcommand = {
  name: 'perf e2e',
  summary: 'produce and consume at once and report end-to-end latency (send → received)',
  description: 'Each value carries its send time; a consumer in the same process reads from the end of the topic and records how long each record took to arrive. The acknowledgement latency of the same records (send → broker answer) is reported beside it.',
  options: loadOptions,
  examples: ['osprey perf e2e --topic latency --records 100000 --rate 10000', 'osprey perf e2e -t latency --duration 20s --rate 5000 --acks 1 --json'],
  async run(run) {
    const plan = loadPlan(run);
    if (plan.recordBytes < 8) throw new UsageError('--record-size: e2e needs at least 8 bytes to carry the send time');
    const consumerClient = newClient(run);
    try {
      const metadata = await consumerClient.topicMetadata(plan.topic, { refresh: true, allowAutoTopicCreation: true });
      const partitions = metadata.partitions.map((partition) => partition.partition);
      const starts = await resolveStart(run.admin(), plan.topic, partitions, { kind: 'latest' });
      const consumer = new Consumer(consumerClient, { maxWaitMs: 100 });
      consumer.assign(partitions.map((partition) => ({ topic: plan.topic, partition, offset: starts.get(partition)! })));
      const histogram = new LatencyHistogram();
      const acknowledgedHistogram = new LatencyHistogram();
      let received = 0;
      let producing = true;
      let sentTotal = 0;
      const consuming = (async () => {
        let idleSince = performance.now();
        while (producing || (received < sentTotal && performance.now() - idleSince < 10_000)) {
          const records = await consumer.poll();
          if (records.length > 0) idleSince = performance.now();
          const now = performance.now();
          for (const record of records) {
            if (record.value === null || record.value.length < 8) continue;
            histogram.recordMs(now - record.value.readDoubleBE(0));
            received++;
          }
        }
      })();
      const stamp = (value: Buffer) => value.writeDoubleBE(performance.now(), 0);
      const result = await runProducers(run, plan, acknowledgedHistogram, () => (histogram.count > 0 ? `e2e p99 ${formatMs(histogram.percentileMs(99))}` : undefined), stamp, () => false);
      sentTotal = result.acknowledged + (plan.acks === 0 ? result.sent : 0);
      producing = false;
      await consuming;
      const latency = histogram.summary();
      const acknowledgedLatency = plan.acks === 0 ? null : acknowledgedHistogram.summary();
      const report = {
        topic: plan.topic,
        recordsSent: result.sent,
        recordsAcknowledged: plan.acks === 0 ? null : result.acknowledged,
        recordsReceived: received,
        recordsFailed: result.failed,
        elapsedMs: Math.round(result.elapsedMs),
        recordsPerSecond: Math.round(result.sent / (result.elapsedMs / 1000)),
        latencyMs: latencyJson(latency),
        acknowledgedLatencyMs: latencyJson(acknowledgedLatency),
      };
      if (run.json) run.outJson(report);
      else {
        run.out(
          keyValues(
            [
              ['records', `${formatCount(result.sent)} sent, ${formatCount(received)} received, ${formatCount(result.failed)} failed`],
              ['throughput', `${formatCount(report.recordsPerSecond)} records/s`],
              ['end-to-end', latency.count > 0 ? latencyLine(latency) : 'no records received'],
              ...(acknowledgedLatency === null || acknowledgedLatency.count === 0 ? [] : ([['acknowledged', latencyLine(acknowledgedLatency)]] as [string, string][])),
            ],
            run.style,
          ),
        );
      }
      if (result.firstError !== null) run.err(`osprey perf e2e: ${result.failed} records failed; the first: ${result.firstError.message}\n`);
      return result.failed > 0 || received < sentTotal ? 1 : 0;
    } finally {
      consumerClient.close();
    }
  },
};

export const perfCommands: readonly Subcommand[] = [perfProduce, perfConsume, perfEndToEnd, ...amqpPerfCommands];
