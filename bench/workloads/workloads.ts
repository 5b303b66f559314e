/**
 * The workloads, written once against the Driver interface (modelled on the OpenMessaging
 * Benchmark's):
 *
 *   publish          one producer for a fixed time, as fast as acknowledgements come back: batches of
 *                    `batchMessages`, `batchesInFlight` batches outstanding. Clock: first send → last ack.
 *   consume          the backlog of N from one consumer, acknowledging/committing as the system
 *                    requires. Clock: consumer subscribed (or first message, if sooner) → Nth message.
 *   latency          one producer, one consumer, a fixed rate for a fixed time; each message carries
 *                    its *intended* send time (so a producer that falls behind shows as latency, not
 *                    as a lower rate: no coordinated omission); receipt − intended send → HDR histogram.
 *   many-partitions  P partitions, K producers and C consumers at once; consumers subscribed first.
 *                    Clock: first send → Nth message received, end to end.
 *   scaling          publish only, into 1…10,000 partitions from one producer, or into one partition
 *                    from 1…100 producers: what a partition or a producer more costs the broker.
 *
 * Publish phases send for a fixed time (SendBudget), not a fixed count.
 */
import type { Destination, Driver, Producer } from '../drivers/driver.js';
import type { Progress } from '../lib/progress.js';
import { Pacer } from '../lib/pacer.js';
import { LatencyRecorder } from '../lib/stats.js';
import type { LatencySummary } from '../lib/stats.js';
import { readStamp, stampedPayload, templateBody } from './payloads.js';

export interface FlowSettings {
  readonly batchMessages: number;
  readonly batchesInFlight: number;
  /** A run that stalls this long without progress fails. */
  readonly stallTimeoutMs: number;
}

/**
 * How much a publish phase may send: until `seconds` after its first send or `maxMessages`,
 * whichever comes first, shared by every producer of the phase. Rounds sized by time rather than
 * by a message count last about as long for a fast broker as for a slow one, so start-up and the
 * last round trip weigh the same in every row, in quick and full runs alike.
 */
export class SendBudget {
  private deadlineMs = Number.POSITIVE_INFINITY;
  private issued = 0;

  constructor(private readonly seconds: number, private readonly maxMessages: number, private readonly signal?: AbortSignal) {}

  /** How many of `wanted` messages may still be sent (0 once the time or the count is spent, or the signal aborted). */
  take(wanted: number): number {
    if (this.signal?.aborted === true) return 0;
    if (this.issued === 0 && this.deadlineMs === Number.POSITIVE_INFINITY) this.deadlineMs = performance.now() + this.seconds * 1000;
    if (performance.now() >= this.deadlineMs) return 0;
    const granted = Math.max(0, Math.min(wanted, this.maxMessages - this.issued));
    this.issued += granted;
    return granted;
  }

  /** Messages handed out so far. */
  get sent(): number {
    return this.issued;
  }
}

/**
 * Sends batches of `batch` (the same payloads again and again: clients copy them anyway) while the
 * budget allows, `batchesInFlight` batches outstanding at a time; resolves when every batch sent has
 * been acknowledged, with the number of messages sent.
 */
async function sendAll(producer: Producer, batch: readonly Buffer[], budget: SendBudget, batchesInFlight: number, onSent: (count: number) => void): Promise<number> {
  let sent = 0;
  const worker = async () => {
    for (let granted = budget.take(batch.length); granted > 0; granted = budget.take(batch.length)) {
      await producer.send(granted === batch.length ? batch : batch.slice(0, granted));
      sent += granted;
      onSent(granted);
    }
  };
  await Promise.all(Array.from({ length: batchesInFlight }, worker));
  return sent;
}

/** What one publish phase sends: a batch of payloads repeated for `seconds` or up to `maxMessages`. */
export interface PublishPlan {
  readonly batch: readonly Buffer[];
  readonly seconds: number;
  readonly maxMessages: number;
}

/** A measured publish phase: how long from the first send to the last acknowledgement, and how many. */
export interface Published {
  readonly seconds: number;
  readonly messages: number;
}

export async function publishRound(driver: Driver, destination: Destination, plan: PublishPlan, flow: FlowSettings, progress: Progress): Promise<Published> {
  const producer = await driver.openProducer(destination);
  try {
    const budget = new SendBudget(plan.seconds, plan.maxMessages);
    const started = performance.now();
    const messages = await withStallGuard(sendAll(producer, plan.batch, budget, flow.batchesInFlight, (count) => progress.advance(count)), progress, flow.stallTimeoutMs, 'publish');
    return { seconds: (performance.now() - started) / 1000, messages };
  } finally {
    await producer.close();
  }
}

/** Counts received messages; resolves when `expected` have arrived (which may be set later). */
class Arrivals {
  count = 0;
  firstMs = Number.NaN;
  lastMs = Number.NaN;
  private resolveDone: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(private expected: number, private readonly progress: Progress) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  add(count: number, now = performance.now()): void {
    if (this.count === 0) this.firstMs = now;
    this.count += count;
    this.progress.advance(count);
    if (this.count >= this.expected && Number.isNaN(this.lastMs)) {
      this.lastMs = now;
      this.resolveDone?.();
    }
  }

  /** Sets how many to wait for, once known (the producers have finished). */
  expect(count: number): void {
    this.expected = count;
    if (this.count >= count && Number.isNaN(this.lastMs)) {
      this.lastMs = performance.now();
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
 * each tick sends what the schedule owes, in send calls of at most `batchMessages`.
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
  const producer = await driver.openProducer(destination, { forLatency: true });
  const pacer = await Pacer.open();
  try {
    // The first tick a few ms ahead: the pacer's thread is waiting for its schedule by then.
    startMs = performance.now() + 5;
    let sent = 0;
    const sends = new Set<Promise<void>>();
    let failure: unknown;
    // A broker that falls behind the rate would have the harness hold every message it has not
    // acknowledged (a run of NATS at 10k/s once took the harness past its 4 GB heap): the round
    // stops there, reported as failed. One second of the rate (it was five): on 2026-12-06 the
    // harness ran out of its 4 GB heap again at NATS's latency rounds, after the third at 10k msg/s
    // (each JetStream publish in flight holds a reply subscription and a timer in nats.js), and a
    // round a whole second behind gives no latency figure anyway.
    const maxUnacknowledged = Math.max(10_000, ratePerSecond);
    let unacknowledged = 0;
    await new Promise<void>((resolve) => {
      // Message k is due at k / rate (its stamp below): floor(elapsed × rate) + 1 messages are due.
      const owed = () => Math.min(total, Math.floor(((performance.now() - startMs) / 1000) * ratePerSecond) + 1) - sent;
      const tick = () => {
        // What is owed goes out in send calls of at most batchMessages: after a stall of the event
        // loop, one call of everything owed could exceed the broker's largest batch (1 KiB × 1,000+).
        // The cap is checked before each send call, not once per tick: a client whose send calls
        // are slower than the rate never leaves this loop (more becomes owed while it sends), and
        // without acknowledgements processed meanwhile it once held 1.4 GB within two seconds (NATS
        // at 50k msg/s).
        for (let chunk = Math.min(owed(), flow.batchMessages); chunk > 0 && unacknowledged < maxUnacknowledged; chunk = Math.min(owed(), flow.batchMessages)) {
          const batch: Buffer[] = [];
          for (let index = 0; index < chunk; index += 1) batch.push(stampedPayload(sizeBytes, startMs + ((sent + index) * 1000) / ratePerSecond, body));
          sent += chunk;
          unacknowledged += chunk;
          const sending = producer.send(batch).catch((error: unknown) => {
            failure = error;
          });
          sends.add(sending);
          void sending.finally(() => {
            sends.delete(sending);
            unacknowledged -= chunk;
          });
        }
        if (unacknowledged >= maxUnacknowledged) failure ??= new Error(`fell behind: ${maxUnacknowledged.toLocaleString('en-US')} messages sent and not acknowledged`);
        if (sent >= total || failure !== undefined) resolve();
      };
      pacer.start(startMs, Pacer.tickMsFor(ratePerSecond), tick);
    });
    await pacer.close();
    const sendEndMs = performance.now();
    // After a failure the sends still pending are not waited for (a stalled broker may never answer them).
    if (failure === undefined) await Promise.all([...sends]);
    if (failure !== undefined) throw failure;
    await withStallGuard(arrivals.done, progress, flow.stallTimeoutMs, 'latency');
    const achievedRatePerSecond = total / ((sendEndMs - startMs) / 1000);
    if (received < total) throw new Error(`received ${received} of ${total}`);
    return { summary: recorder.summary(), achievedRatePerSecond };
  } finally {
    await pacer.close();
    await producer.close();
    await consumer.close();
  }
}

export interface ManySettings {
  readonly producers: number;
  readonly consumers: number;
}

export async function manyPartitionsRound(driver: Driver, destination: Destination, plan: PublishPlan, many: ManySettings, flow: FlowSettings, progress: Progress): Promise<Published> {
  const arrivals = new Arrivals(Number.POSITIVE_INFINITY, progress);
  const consumers = [];
  for (let index = 0; index < many.consumers; index += 1) {
    consumers.push(await driver.openConsumer(destination, { index, count: many.consumers, onMessages: (received) => arrivals.add(received.length) }));
  }
  if (driver.settleMs > 0) await sleep(driver.settleMs * 2);
  const producers = await Promise.all(Array.from({ length: many.producers }, () => driver.openProducer(destination)));
  try {
    const budget = new SendBudget(plan.seconds, plan.maxMessages);
    const started = performance.now();
    const sending = Promise.all(producers.map((producer) => sendAll(producer, plan.batch, budget, Math.max(1, Math.ceil(flow.batchesInFlight / 2)), () => undefined))).then((counts) => {
      const messages = counts.reduce((sum, count) => sum + count, 0);
      arrivals.expect(messages);
      return messages;
    });
    const [messages] = await withStallGuard(Promise.all([sending, arrivals.done]), progress, flow.stallTimeoutMs, 'many-partitions');
    return { seconds: (arrivals.lastMs - started) / 1000, messages };
  } finally {
    await Promise.allSettled(producers.map((producer) => producer.close()));
    await Promise.allSettled(consumers.map((consumer) => consumer.close()));
  }
}

/**
 * One scaling point: `producers` producers publishing into one destination of `destination.partitions`
 * partitions, each message to the next partition in turn (`spread`: as librdkafka's default
 * partitioner spreads unkeyed messages, so a produce request carries up to a batch's worth of
 * partitions and every partition is written in every group-commit cycle), publish only. Each producer keeps
 * max(1, ⌈batchesInFlight / producers⌉) batches outstanding, so every point has at least the
 * one-producer window. Clock: first send → last acknowledgement.
 */
export async function scalingRound(driver: Driver, destination: Destination, plan: PublishPlan, producerCount: number, flow: FlowSettings, progress: Progress, signal: AbortSignal, onPublishing: () => void): Promise<Published> {
  const producers: Producer[] = [];
  try {
    // Opened one after another: a hundred kcat processes starting at once on two cores time out.
    for (let index = 0; index < producerCount && !signal.aborted; index += 1) producers.push(await driver.openProducer(destination, { spread: true }));
    onPublishing();
    const budget = new SendBudget(plan.seconds, plan.maxMessages, signal);
    const inFlight = Math.max(1, Math.ceil(flow.batchesInFlight / producerCount));
    const started = performance.now();
    const counts = await withStallGuard(Promise.all(producers.map((producer) => sendAll(producer, plan.batch, budget, inFlight, (count) => progress.advance(count)))), progress, flow.stallTimeoutMs, 'scaling');
    return { seconds: (performance.now() - started) / 1000, messages: counts.reduce((sum, count) => sum + count, 0) };
  } finally {
    await Promise.allSettled(producers.map((producer) => producer.close()));
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
