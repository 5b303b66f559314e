/**
 * The four workloads, written once against the Driver interface (modelled on the OpenMessaging
 * Benchmark's):
 *
 *   publish          N messages from one producer as fast as acknowledgements come back: batches of
 *                    `batchMessages`, `batchesInFlight` batches outstanding. Clock: first send → last ack.
 *   consume          the backlog of N from one consumer, acknowledging/committing as the system
 *                    requires. Clock: consumer subscribed (or first message, if sooner) → Nth message.
 *   latency          one producer, one consumer, a fixed rate for a fixed time; each message carries
 *                    its *intended* send time (so a producer that falls behind shows as latency, not
 *                    as a lower rate: no coordinated omission); receipt − intended send → HDR histogram.
 *   many-partitions  P partitions, K producers and C consumers at once; consumers subscribed first.
 *                    Clock: first send → Nth message received, end to end.
 */
import type { Destination, Driver, Producer } from '../drivers/driver.js';
import type { Progress } from '../lib/progress.js';
import { LatencyRecorder } from '../lib/stats.js';
import type { LatencySummary } from '../lib/stats.js';
import { readStamp, stampedPayload, templateBody } from './payloads.js';

export interface FlowSettings {
  readonly batchMessages: number;
  readonly batchesInFlight: number;
  /** A run that stalls this long without progress fails. */
  readonly stallTimeoutMs: number;
}

/** Sends every payload through the producer, `batchesInFlight` batches outstanding at a time. */
async function sendAll(producer: Producer, payloads: readonly Buffer[], flow: FlowSettings, onSent: (count: number) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < payloads.length) {
      const batch = payloads.slice(next, next + flow.batchMessages);
      next += batch.length;
      await producer.send(batch);
      onSent(batch.length);
    }
  };
  await Promise.all(Array.from({ length: flow.batchesInFlight }, worker));
}

export async function publishRound(driver: Driver, destination: Destination, payloads: readonly Buffer[], flow: FlowSettings, progress: Progress): Promise<number> {
  const producer = await driver.openProducer(destination);
  try {
    const started = performance.now();
    await withStallGuard(sendAll(producer, payloads, flow, (count) => progress.advance(count)), progress, flow.stallTimeoutMs, 'publish');
    return (performance.now() - started) / 1000;
  } finally {
    await producer.close();
  }
}

/** Counts received messages; resolves when `expected` have arrived. */
class Arrivals {
  count = 0;
  firstMs = Number.NaN;
  lastMs = Number.NaN;
  private resolveDone: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(private readonly expected: number, private readonly progress: Progress) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  add(count: number, now = performance.now()): void {
    if (this.count === 0) this.firstMs = now;
    this.count += count;
    this.progress.advance(count);
    if (this.count >= this.expected) {
      this.lastMs = now;
      this.resolveDone?.();
    }
  }
}

export async function consumeRound(driver: Driver, destination: Destination, count: number, flow: FlowSettings, progress: Progress): Promise<number> {
  const arrivals = new Arrivals(count, progress);
  const consumer = await driver.openConsumer(destination, { index: 0, count: 1, backlogOnly: true, onMessages: (payloads, consumedAtMs) => arrivals.add(payloads.length, consumedAtMs) });
  const subscribedMs = performance.now();
  try {
    await withStallGuard(arrivals.done, progress, flow.stallTimeoutMs, 'consume');
    return (arrivals.lastMs - Math.min(subscribedMs, arrivals.firstMs)) / 1000;
  } finally {
    await consumer.close();
  }
}

export interface LatencyRun {
  readonly summary: LatencySummary;
  readonly achievedRatePerSecond: number;
}

/**
 * Messages sent during the first `warmupSeconds` are not recorded. Sends are paced by a 1 ms timer:
 * each tick sends what the schedule owes, in one send call.
 */
export async function latencyRun(driver: Driver, destination: Destination, ratePerSecond: number, seconds: number, warmupSeconds: number, sizeBytes: number, flow: FlowSettings, progress: Progress): Promise<LatencyRun> {
  const recorder = new LatencyRecorder();
  const total = Math.round(ratePerSecond * (seconds + warmupSeconds));
  const body = templateBody(sizeBytes);
  let received = 0;
  let startMs = 0;
  const recordFromMs = () => startMs + warmupSeconds * 1000;
  const arrivals = new Arrivals(total, progress);
  const consumer = await driver.openConsumer(destination, {
    index: 0,
    count: 1,
    onMessages: (payloads) => {
      const now = performance.now();
      for (const payload of payloads) {
        const intended = readStamp(payload);
        if (intended >= recordFromMs()) recorder.record((now - intended) * 1000);
      }
      received += payloads.length;
      arrivals.add(payloads.length);
    },
  });
  if (driver.settleMs > 0) await sleep(driver.settleMs);
  const producer = await driver.openProducer(destination);
  try {
    startMs = performance.now();
    let sent = 0;
    const sends = new Set<Promise<void>>();
    let failure: unknown;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const elapsedMs = performance.now() - startMs;
        const owed = Math.min(total, Math.floor((elapsedMs / 1000) * ratePerSecond)) - sent;
        if (owed > 0) {
          const batch: Buffer[] = [];
          for (let index = 0; index < owed; index += 1) batch.push(stampedPayload(sizeBytes, startMs + ((sent + index) * 1000) / ratePerSecond, body));
          sent += owed;
          const sending = producer.send(batch).catch((error: unknown) => {
            failure = error;
          });
          sends.add(sending);
          void sending.finally(() => sends.delete(sending));
        }
        if (sent >= total || failure !== undefined) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 1);
    });
    const sendEndMs = performance.now();
    await Promise.all([...sends]);
    if (failure !== undefined) throw failure;
    await withStallGuard(arrivals.done, progress, flow.stallTimeoutMs, 'latency');
    const achievedRatePerSecond = total / ((sendEndMs - startMs) / 1000);
    if (received < total) throw new Error(`received ${received} of ${total}`);
    return { summary: recorder.summary(), achievedRatePerSecond };
  } finally {
    await producer.close();
    await consumer.close();
  }
}

export interface ManySettings {
  readonly producers: number;
  readonly consumers: number;
}

export async function manyPartitionsRound(driver: Driver, destination: Destination, payloads: readonly Buffer[], many: ManySettings, flow: FlowSettings, progress: Progress): Promise<number> {
  const arrivals = new Arrivals(payloads.length, progress);
  const consumers = [];
  for (let index = 0; index < many.consumers; index += 1) {
    consumers.push(await driver.openConsumer(destination, { index, count: many.consumers, onMessages: (received) => arrivals.add(received.length) }));
  }
  if (driver.settleMs > 0) await sleep(driver.settleMs * 2);
  const producers = await Promise.all(Array.from({ length: many.producers }, () => driver.openProducer(destination)));
  try {
    const share = Math.ceil(payloads.length / many.producers);
    const started = performance.now();
    const sending = Promise.all(producers.map((producer, index) => sendAll(producer, payloads.slice(index * share, (index + 1) * share), { ...flow, batchesInFlight: Math.max(1, Math.ceil(flow.batchesInFlight / 2)) }, () => undefined)));
    await withStallGuard(Promise.all([sending, arrivals.done]), progress, flow.stallTimeoutMs, 'many-partitions');
    return (arrivals.lastMs - started) / 1000;
  } finally {
    await Promise.allSettled(producers.map((producer) => producer.close()));
    await Promise.allSettled(consumers.map((consumer) => consumer.close()));
  }
}

/** Rejects when the progress counter has not moved for `stallMs`. */
async function withStallGuard<T>(work: Promise<T>, progress: Progress, stallMs: number, what: string): Promise<T> {
  let last = -1;
  let lastChangeMs = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const current = progress.count;
      if (current !== last) {
        last = current;
        lastChangeMs = performance.now();
      } else if (performance.now() - lastChangeMs > stallMs) {
        reject(new Error(`${what}: no progress for ${stallMs / 1000} s (at ${current} messages)`));
      }
    }, 250);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearInterval(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
