/**
 * `osprey perf amqp-publish|amqp-consume|amqp-e2e`: the AMQP 0-9-1 counterparts of perf
 * produce|consume|e2e, through the project's AMQP client (src/client/amqp), against any AMQP 0-9-1
 * broker (RabbitMQ today, Osprey's AMQP listener when it lands). Same flags where they mean the
 * same thing (--records, --record-size, --duration, --rate; a record is one message) and the same
 * report, text or --json.
 *
 *   amqp-publish  latency = from basic.publish to the broker's confirm (with --confirm; none without)
 *   amqp-consume  throughput only; manual acks (one `multiple` ack per --ack-every messages)
 *   amqp-e2e      latency = from basic.publish to the delivery reaching a consumer in this process
 *
 * Messages go through the default exchange straight to --queue, which is declared (durable, of
 * --queue-type) when it does not exist yet.
 */
import { randomBytes } from 'node:crypto';
import { connectAmqp } from '../client/amqp/connection.js';
import type { AmqpConnection } from '../client/amqp/connection.js';
import type { AmqpChannel, AmqpDelivery } from '../client/amqp/channel.js';
import { AmqpClosedError } from '../client/amqp/errors.js';
import { parseAmqpUrl } from '../client/amqp/url.js';
import type { AmqpConnectionSettings } from '../client/amqp/url.js';
import type { BasicProperties } from '../protocol/amqp/content-header.js';
import { replyCodes } from '../protocol/amqp/reply-codes.js';
import { LatencyHistogram } from '../perf/latency-histogram.js';
import { ProgressLine } from '../perf/progress.js';
import { UsageError } from './command-kit.js';
import type { OptionSpec, RunContext, Subcommand } from './command-kit.js';
import { formatBytes, formatCount, formatMs, keyValues } from './output.js';
import { latencyJson, latencyLine } from './perf-report.js';

const defaultAmqpUrl = 'amqp://guest:guest@127.0.0.1:5672/';
const queueTypes = ['classic', 'quorum', 'stream'] as const;
type QueueType = (typeof queueTypes)[number];
/** A consumer that has seen nothing for this long gives up (the queue ran dry, or the broker stalled). */
const idleTimeoutMs = 10_000;

const commonOptions: Readonly<Record<string, OptionSpec>> = {
  'amqp-url': { type: 'string', short: 'u', value: 'URL', description: `broker to connect to (default ${defaultAmqpUrl}, or OSPREY_AMQP_URL)` },
  queue: { type: 'string', short: 'q', value: 'QUEUE', description: 'queue to use (required; declared durable if missing)' },
  'queue-type': { type: 'string', value: 'TYPE', description: 'classic (default), quorum or stream, for a queue that does not exist yet' },
  duration: { type: 'string', short: 'd', value: 'DURATION', description: 'run this long instead of a count, e.g. 30s' },
  json: { type: 'boolean', description: 'machine-readable JSON output' },
};

const publishOptions: Readonly<Record<string, OptionSpec>> = {
  ...commonOptions,
  records: { type: 'string', short: 'n', value: 'N', description: 'how many messages (default 100000 unless --duration)' },
  'record-size': { type: 'string', short: 's', value: 'BYTES', description: 'message body size (default 100)' },
  rate: { type: 'string', short: 'r', value: 'N', description: 'messages per second to aim for (default: as fast as possible)' },
  confirm: { type: 'boolean', description: 'publisher confirms: wait for the broker to confirm every message; latency is publish → confirm' },
  persistent: { type: 'boolean', description: 'delivery mode 2 (the broker writes messages to disk)' },
  'max-unconfirmed': { type: 'string', value: 'N', description: 'with --confirm: messages awaiting confirmation at most (default 1000)' },
};

const consumeOptions: Readonly<Record<string, OptionSpec>> = {
  prefetch: { type: 'string', value: 'N', description: 'basic.qos prefetch count (default 1000)' },
  'ack-every': { type: 'string', value: 'N', description: 'acknowledge with one multiple ack every N messages (default 1: each message)' },
};

interface PublishPlan {
  readonly settings: AmqpConnectionSettings;
  readonly queue: string;
  readonly queueType: QueueType;
  readonly records: number | null;
  readonly durationMs: number | null;
  readonly recordBytes: number;
  readonly rate: number | null;
  readonly confirm: boolean;
  readonly persistent: boolean;
  readonly maxUnconfirmed: number;
}

interface ConsumePlan {
  readonly prefetch: number;
  readonly ackEvery: number;
}

function connectionSettings(run: RunContext): AmqpConnectionSettings {
  const url = run.string('amqp-url') ?? run.context.env['OSPREY_AMQP_URL'] ?? defaultAmqpUrl;
  try {
    return parseAmqpUrl(url);
  } catch (error) {
    throw new UsageError(`--amqp-url: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function requiredQueue(run: RunContext): string {
  const queue = run.string('queue');
  if (queue === undefined || queue === '') throw new UsageError('--queue is required');
  return queue;
}

function queueType(run: RunContext): QueueType {
  const text = run.string('queue-type') ?? 'classic';
  const found = queueTypes.find((type) => type === text);
  if (found === undefined) throw new UsageError(`--queue-type: ${text}; one of ${queueTypes.join(', ')}`);
  return found;
}

function publishPlan(run: RunContext): PublishPlan {
  const records = run.integer('records', { min: 1 });
  const durationMs = run.duration('duration');
  if (records !== undefined && durationMs !== undefined) throw new UsageError('give --records or --duration, not both');
  const maxUnconfirmed = run.integer('max-unconfirmed', { min: 1, max: 1_000_000 });
  if (maxUnconfirmed !== undefined && !run.flag('confirm')) throw new UsageError('--max-unconfirmed needs --confirm');
  return {
    settings: connectionSettings(run),
    queue: requiredQueue(run),
    queueType: queueType(run),
    records: records ?? (durationMs === undefined ? 100_000 : null),
    durationMs: durationMs ?? null,
    recordBytes: run.size('record-size') ?? 100,
    rate: run.integer('rate', { min: 1 }) ?? null,
    confirm: run.flag('confirm'),
    persistent: run.flag('persistent'),
    maxUnconfirmed: maxUnconfirmed ?? 1000,
  };
}

function consumePlan(run: RunContext): ConsumePlan {
  return { prefetch: run.integer('prefetch', { min: 0, max: 65_535 }) ?? 1000, ackEvery: run.integer('ack-every', { min: 1, max: 65_535 }) ?? 1 };
}

/** Declares the queue unless it exists (a passive declare first, so an existing queue's arguments never clash); returns its depth. */
async function ensureQueue(connection: AmqpConnection, queue: string, type: QueueType): Promise<number> {
  const probe = await connection.createChannel();
  try {
    const { messageCount } = await probe.queueDeclare(queue, { passive: true });
    await probe.close();
    return messageCount;
  } catch (error) {
    if (!(error instanceof AmqpClosedError && error.scope === 'channel' && error.replyCode === replyCodes.notFound)) throw error;
  }
  const channel = await connection.createChannel();
  const { messageCount } = await channel.queueDeclare(queue, { durable: true, arguments: { 'x-queue-type': type } });
  await channel.close();
  return messageCount;
}

interface PublishResult {
  sent: number;
  confirmed: number;
  nacked: number;
  firstError: Error | null;
  elapsedMs: number;
}

/** Publishes per the plan on its own channel; `stamp` lets e2e write the send time into each body. */
async function publishLoad(run: RunContext, connection: AmqpConnection, plan: PublishPlan, histogram: LatencyHistogram | null, stamp: ((body: Buffer) => void) | null, note: () => string | undefined): Promise<PublishResult> {
  const channel = await connection.createChannel();
  if (plan.confirm) await channel.confirmSelect();
  const result: PublishResult = { sent: 0, confirmed: 0, nacked: 0, firstError: null, elapsedMs: 0 };
  const payload = randomBytes(plan.recordBytes);
  const properties: BasicProperties = plan.persistent ? { deliveryMode: 2 } : {};
  let windowOpened: (() => void) | null = null;
  const done = () => (plan.confirm ? result.confirmed + result.nacked : result.sent);
  const progress = new ProgressLine((text) => run.err(text), process.stderr.isTTY === true && !run.json, () => ({
    records: done(),
    bytes: done() * plan.recordBytes,
    fraction: plan.records !== null ? result.sent / plan.records : plan.durationMs !== null ? (performance.now() - started) / plan.durationMs : null,
    ...(note() === undefined ? {} : { note: note()! }),
  }));
  const started = performance.now();
  progress.start();
  const deadline = plan.durationMs === null ? Infinity : started + plan.durationMs;
  const quota = plan.records ?? Infinity;
  try {
    while (result.sent < quota) {
      if ((result.sent & 1023) === 0) {
        if (performance.now() >= deadline) break;
        await new Promise((resolve) => setImmediate(resolve)); // let confirms and timers in
      }
      if (plan.rate !== null) {
        const waitMs = started + (result.sent / plan.rate) * 1000 - performance.now();
        if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      if (plan.confirm && channel.unconfirmed >= plan.maxUnconfirmed) await new Promise<void>((resolve) => (windowOpened = resolve));
      const body = stamp === null ? payload : Buffer.from(payload);
      if (stamp !== null) stamp(body);
      const sentAt = performance.now();
      const onConfirm = (error: Error | null) => {
        if (error === null) {
          result.confirmed++;
          histogram?.recordMs(performance.now() - sentAt);
        } else {
          result.nacked++;
          result.firstError ??= error;
        }
        if (windowOpened !== null && channel.unconfirmed < plan.maxUnconfirmed) {
          const resolve = windowOpened;
          windowOpened = null;
          resolve();
        }
      };
      result.sent++;
      if (!channel.publish('', plan.queue, body, properties, plan.confirm ? { onConfirm } : {})) await connection.drained();
    }
    if (plan.confirm) await channel.waitForConfirms();
    // Without confirms, a synchronous method behind the publishes on the same channel returns once
    // the broker has taken them all.
    else await channel.queueDeclare(plan.queue, { passive: true });
    result.elapsedMs = performance.now() - started;
  } finally {
    progress.stop();
  }
  await channel.close();
  return result;
}

function rates(count: number, bytes: number, elapsedMs: number): { recordsPerSecond: number; megabytesPerSecond: number } {
  const seconds = Math.max(elapsedMs, 0.001) / 1000;
  return { recordsPerSecond: Math.round(count / seconds), megabytesPerSecond: Number((bytes / 1048576 / seconds).toFixed(2)) };
}

const perfAmqpPublish: Subcommand = {
  name: 'perf amqp-publish',
  summary: 'AMQP: publish messages to a queue and report throughput and confirm latency',
  options: publishOptions,
  usesBrokers: false,
  examples: [
    'osprey perf amqp-publish --queue bench --records 200000 --confirm --persistent',
    'osprey perf amqp-publish -u amqp://guest:guest@127.0.0.1:5672/ -q bench --queue-type quorum --duration 30s --rate 20000 --confirm --json',
  ],
  async run(run) {
    const plan = publishPlan(run);
    const histogram = new LatencyHistogram();
    const connection = await connectAmqp(plan.settings, { connectionName: 'osprey perf amqp-publish' });
    try {
      await ensureQueue(connection, plan.queue, plan.queueType);
      const result = await publishLoad(run, connection, plan, plan.confirm ? histogram : null, null, () => (histogram.count > 0 ? `p99 ${formatMs(histogram.percentileMs(99))}` : undefined));
      const latency = plan.confirm ? histogram.summary() : null;
      const report = {
        queue: plan.queue,
        recordsSent: result.sent,
        recordsConfirmed: plan.confirm ? result.confirmed : null,
        recordsNacked: result.nacked,
        recordBytes: plan.recordBytes,
        elapsedMs: Math.round(result.elapsedMs),
        ...rates(result.sent, result.sent * plan.recordBytes, result.elapsedMs),
        confirm: plan.confirm,
        persistent: plan.persistent,
        latencyMs: latencyJson(latency),
      };
      if (run.json) run.outJson(report);
      else {
        run.out(
          keyValues(
            [
              ['messages', `${formatCount(result.sent)} published, ${plan.confirm ? `${formatCount(result.confirmed)} confirmed, ${formatCount(result.nacked)} nacked` : 'not confirmed (no --confirm)'}`],
              ['time', formatMs(result.elapsedMs)],
              ['throughput', `${formatCount(report.recordsPerSecond)} messages/s, ${report.megabytesPerSecond.toFixed(2)} MiB/s (${formatBytes(plan.recordBytes)} messages${plan.persistent ? ', persistent' : ''})`],
              ...(latency === null ? [] : ([['confirm latency', latencyLine(latency)]] as [string, string][])),
            ],
            run.style,
          ),
        );
      }
      if (result.firstError !== null) {
        run.err(`osprey perf amqp-publish: ${result.nacked} messages nacked; the first: ${result.firstError.message}\n`);
        return 1;
      }
      return 0;
    } finally {
      await connection.close();
    }
  },
};

interface ConsumeResult {
  received: number;
  bytes: number;
  elapsedMs: number;
  /** Why it stopped early: the consumer sat idle, or the channel closed. */
  stoppedBy: Error | null;
}

/**
 * Consumes until `target()` messages (or the deadline), acking one multiple ack per `ackEvery`;
 * `onMessage` sees each delivery first and says whether it counts. Messages past the target are
 * left unacknowledged, and the broker requeues them when the channel closes.
 */
async function consumeLoad(channel: AmqpChannel, queue: string, plan: ConsumePlan, target: () => number, deadlineMs: number, counts: (delivery: AmqpDelivery) => boolean, onStart: () => void): Promise<ConsumeResult> {
  const result: ConsumeResult = { received: 0, bytes: 0, elapsedMs: 0, stoppedBy: null };
  let unacknowledged = 0;
  let lastDeliveryTag = 0n;
  let lastDeliveryAtMs = performance.now();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await channel.qos(plan.prefetch);
  const started = performance.now();
  onStart();
  if (target() === 0) return result;
  const consumerTag = await channel.consume(queue, (delivery) => {
    if (result.received >= target()) return;
    lastDeliveryAtMs = performance.now();
    lastDeliveryTag = delivery.deliveryTag;
    unacknowledged++;
    if (counts(delivery)) {
      result.received++;
      result.bytes += delivery.body.length;
    }
    if (unacknowledged >= plan.ackEvery || result.received >= target()) {
      channel.ack(delivery.deliveryTag, true);
      unacknowledged = 0;
    }
    if (result.received >= target()) finish();
  });
  const watchdog = setInterval(() => {
    const now = performance.now();
    if (now >= deadlineMs) finish();
    else if (now - lastDeliveryAtMs > idleTimeoutMs) {
      result.stoppedBy = new Error(`nothing arrived for ${idleTimeoutMs / 1000} s`);
      finish();
    }
  }, 50);
  void channel.closed.then((error) => {
    result.stoppedBy ??= error;
    finish();
  });
  await finished;
  clearInterval(watchdog);
  // Stopped by the clock or idleness between two multiple acks: what was counted is acknowledged too.
  if (unacknowledged > 0 && channel.isOpen) channel.ack(lastDeliveryTag, true);
  // basic.cancel, a round trip behind the acks, before the channel closes: RabbitMQ 3.10's quorum
  // queues may drop acks still queued towards the queue when the channel closes right behind them
  // (rabbitmq-server issue 10327), and those messages would go back to the queue.
  if (channel.isOpen) await channel.cancel(consumerTag);
  result.elapsedMs = (result.stoppedBy === null ? performance.now() : lastDeliveryAtMs) - started;
  return result;
}

const perfAmqpConsume: Subcommand = {
  name: 'perf amqp-consume',
  summary: 'AMQP: consume messages from a queue with acknowledgements and report throughput',
  options: {
    ...commonOptions,
    records: { type: 'string', short: 'n', value: 'N', description: 'stop after N messages (default: as many as the queue holds at the start)' },
    ...consumeOptions,
  },
  usesBrokers: false,
  examples: ['osprey perf amqp-consume --queue bench', 'osprey perf amqp-consume -q bench --records 200000 --prefetch 2000 --ack-every 200 --json'],
  async run(run) {
    const settings = connectionSettings(run);
    const queue = requiredQueue(run);
    const type = queueType(run);
    const limit = run.integer('records', { min: 1 });
    const durationMs = run.duration('duration');
    const plan = consumePlan(run);
    const connection = await connectAmqp(settings, { connectionName: 'osprey perf amqp-consume' });
    try {
      const depth = await ensureQueue(connection, queue, type);
      const target = limit ?? (durationMs === undefined ? depth : Infinity);
      const channel = await connection.createChannel();
      let result: ConsumeResult = { received: 0, bytes: 0, elapsedMs: 0, stoppedBy: null };
      const progress = new ProgressLine((text) => run.err(text), process.stderr.isTTY === true && !run.json, () => ({ records: result.received, bytes: result.bytes, fraction: Number.isFinite(target) ? result.received / target : null }));
      try {
        result = await consumeLoad(channel, queue, plan, () => target, durationMs === undefined ? Infinity : performance.now() + durationMs, () => true, () => progress.start());
      } finally {
        progress.stop();
      }
      if (channel.isOpen) await channel.close();
      const report = { queue, records: result.received, bytes: result.bytes, elapsedMs: Math.round(result.elapsedMs), ...rates(result.received, result.bytes, result.elapsedMs), prefetch: plan.prefetch, ackEvery: plan.ackEvery };
      if (run.json) run.outJson(report);
      else {
        run.out(
          keyValues(
            [
              ['messages', `${formatCount(result.received)} (${formatBytes(result.bytes)}) consumed and acknowledged`],
              ['time', formatMs(result.elapsedMs)],
              ['throughput', `${formatCount(report.recordsPerSecond)} messages/s, ${report.megabytesPerSecond.toFixed(2)} MiB/s`],
            ],
            run.style,
          ),
        );
      }
      if (result.stoppedBy !== null && limit !== undefined && result.received < limit) {
        run.err(`osprey perf amqp-consume: ${formatCount(result.received)} of ${formatCount(limit)} messages; stopped: ${result.stoppedBy.message}\n`);
        return 1;
      }
      return 0;
    } finally {
      await connection.close();
    }
  },
};

/** Body layout in e2e: send time (float64, performance.now() ms), then this run's 8-byte id. */
const stampBytes = 16;

const perfAmqpEndToEnd: Subcommand = {
  name: 'perf amqp-e2e',
  summary: 'AMQP: publish and consume at once and report end-to-end latency (publish → delivered)',
  description:
    'Each body carries its send time and this run\'s id; a consumer on a second connection in the same process acknowledges every message and times those of this run (others left in the queue are consumed and not counted).',
  options: { ...publishOptions, ...consumeOptions },
  usesBrokers: false,
  examples: ['osprey perf amqp-e2e --queue latency --records 100000 --rate 10000', 'osprey perf amqp-e2e -q latency --duration 20s --rate 5000 --confirm --persistent --json'],
  async run(run) {
    const plan = publishPlan(run);
    const consume = consumePlan(run);
    if (plan.recordBytes < stampBytes) throw new UsageError(`--record-size: e2e needs at least ${stampBytes} bytes to carry the send time and run id`);
    const runId = randomBytes(8);
    const consumerConnection = await connectAmqp(plan.settings, { connectionName: 'osprey perf amqp-e2e consumer' });
    const publisherConnection = await connectAmqp(plan.settings, { connectionName: 'osprey perf amqp-e2e publisher' }).catch(async (error: unknown) => {
      await consumerConnection.close();
      throw error;
    });
    try {
      await ensureQueue(consumerConnection, plan.queue, plan.queueType);
      const histogram = new LatencyHistogram();
      const consumerChannel = await consumerConnection.createChannel();
      let expected = Infinity;
      const counts = (delivery: AmqpDelivery) => {
        if (delivery.body.length < stampBytes || !delivery.body.subarray(8, stampBytes).equals(runId)) return false;
        histogram.recordMs(performance.now() - delivery.body.readDoubleBE(0));
        return true;
      };
      let consumerStarted!: () => void;
      const started = new Promise<void>((resolve) => (consumerStarted = resolve));
      // The target is unknown until publishing ends: Infinity until then.
      const consuming = consumeLoad(consumerChannel, plan.queue, consume, () => expected, Infinity, counts, consumerStarted);
      await started;
      const stamp = (body: Buffer) => {
        body.writeDoubleBE(performance.now(), 0);
        runId.copy(body, 8);
      };
      const result = await publishLoad(run, publisherConnection, plan, null, stamp, () => (histogram.count > 0 ? `e2e p99 ${formatMs(histogram.percentileMs(99))}` : undefined));
      expected = plan.confirm ? result.confirmed : result.sent;
      await Promise.race([consuming, waitUntil(() => histogram.count >= expected, idleTimeoutMs)]);
      const received = histogram.count;
      if (consumerChannel.isOpen) await consumerChannel.close();
      await consuming;
      const latency = histogram.summary();
      const report = {
        queue: plan.queue,
        recordsSent: result.sent,
        recordsConfirmed: plan.confirm ? result.confirmed : null,
        recordsReceived: received,
        recordsNacked: result.nacked,
        elapsedMs: Math.round(result.elapsedMs),
        recordsPerSecond: rates(result.sent, 0, result.elapsedMs).recordsPerSecond,
        latencyMs: latencyJson(latency),
      };
      if (run.json) run.outJson(report);
      else {
        run.out(
          keyValues(
            [
              ['messages', `${formatCount(result.sent)} published, ${formatCount(received)} received, ${formatCount(result.nacked)} nacked`],
              ['throughput', `${formatCount(report.recordsPerSecond)} messages/s`],
              ['end-to-end', latency.count > 0 ? latencyLine(latency) : 'no messages received'],
            ],
            run.style,
          ),
        );
      }
      if (result.firstError !== null) run.err(`osprey perf amqp-e2e: ${result.nacked} messages nacked; the first: ${result.firstError.message}\n`);
      return result.nacked > 0 || received < expected ? 1 : 0;
    } finally {
      await Promise.allSettled([publisherConnection.close(), consumerConnection.close()]);
    }
  },
};

/** Resolves when `condition` holds, or after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

export const amqpPerfCommands: readonly Subcommand[] = [perfAmqpPublish, perfAmqpConsume, perfAmqpEndToEnd];
