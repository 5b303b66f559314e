/**
 * One driver per broker × client: how the workloads reach a broker. The workloads (bench/workloads)
 * only talk to this interface, so the harness is the same for every broker.
 *
 * A destination is what a broker calls its unit of ordering, `partitions` times over: a Kafka topic
 * with that many partitions; that many RabbitMQ queues; a JetStream stream with that many subjects;
 * that many Redis streams.
 *
 * Adding a driver is a file here implementing `Driver` and one line in a plan in bench/main.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunningBroker } from '../brokers/broker.js';

export interface Destination {
  readonly name: string;
  readonly partitions: number;
}

export interface ProducerOptions {
  /**
   * Each message to the next partition in turn, rather than each send() call's messages to one
   * partition: what librdkafka's default partitioner does with unkeyed messages (a random partition
   * per message), so one produce request carries many partitions. The scaling workload uses it.
   */
  readonly spread?: boolean;
  /**
   * The producer of a latency round: a driver drops the client-side wait it adds for throughput
   * (kcat's linger.ms=1 becomes 0, as the own client's lingerMs already is), as a user after low
   * latency would configure the client.
   */
  readonly forLatency?: boolean;
}

export interface Producer {
  /**
   * Sends the payloads (to one partition, chosen round-robin per call; or, with `spread`, each to
   * the next partition) and resolves once the broker has acknowledged all of them with the driver's
   * durability setting. Calls may overlap.
   */
  send(payloads: readonly Buffer[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** This consumer's number among `count` consumers sharing the destination. */
  readonly index: number;
  readonly count: number;
  /**
   * Called with every payload received, in the order received; acknowledgement is the driver's job.
   * `consumedAtMs` (performance.now() time) is for a client that hands messages over later than it
   * consumed them and knows when it did (kcat's buffered output); otherwise the call's time counts.
   */
  readonly onMessages: (payloads: readonly Buffer[], consumedAtMs?: number) => void;
  /**
   * True when the consumer reads a backlog that is complete before it starts (the consume
   * workload), so it may stop at the end of it; kcat does, so that it can buffer its output.
   */
  readonly backlogOnly?: boolean;
}

export interface Consumer {
  close(): Promise<void>;
}

export interface Driver {
  /** Short, unique, used in file names and the JSON: "osprey-kafkajs". */
  readonly id: string;
  /** "Osprey", "RabbitMQ quorum", … */
  readonly label: string;
  readonly client: string;
  readonly clientVersion: string;
  /** The durability class in a few words, for the table. */
  readonly durability: string;
  /** Which workloads it can run; the others are left out (and said so). */
  readonly workloads: ReadonlySet<'publish' | 'consume' | 'latency' | 'many-partitions' | 'scaling'>;
  /** Wait after consumers have joined before producing (group rebalances settling), ms. */
  readonly settleMs: number;
  createDestination(destination: Destination): Promise<void>;
  /** Removes it and its data after a round (outside the clock), so rounds start alike and memory-resident brokers do not carry earlier rounds. */
  deleteDestination(destination: Destination): Promise<void>;
  /** `options.spread` is honoured by the drivers that run the scaling workload. */
  openProducer(destination: Destination, options?: ProducerOptions): Promise<Producer>;
  /** Resolves once the consumer is subscribed and will see messages from the beginning. */
  openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer>;
  close(): Promise<void>;
}

/**
 * How long the drivers' admin clients wait for CreateTopics and DeleteTopics: creating or deleting
 * a topic of 10,000 partitions took 16 s and over 30 s (the client's default) on 2026-12-05.
 */
export const adminRequestTimeoutMs = 300_000;

/** Makes a driver once its broker is running. */
export type DriverFactory = (broker: RunningBroker) => Promise<Driver>;

/** Partitions consumer `index` of `count` reads: every count-th, starting at index. */
export function partitionsOf(index: number, count: number, partitions: number): number[] {
  const mine: number[] = [];
  for (let partition = index; partition < partitions; partition += count) mine.push(partition);
  return mine;
}

/** Round-robin over the partitions, one step per call. */
export function roundRobin(partitions: number): () => number {
  let next = 0;
  return () => {
    const partition = next;
    next = (next + 1) % partitions;
    return partition;
  };
}

/** The version in a package's package.json under the checkout's node_modules. */
export function packageVersion(name: string): string {
  try {
    const path = fileURLToPath(new URL(`../../../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Sends waiting for their acknowledgements, per partition in the order sent, for clients that
 * report "COUNT more messages acknowledged on partition P" (kcat's debug log, the librdkafka
 * producer's report lines): each report resolves the oldest sends of that partition it covers.
 */
export class AcknowledgementQueues {
  private readonly queues = new Map<number, Array<{ remaining: number; resolve: () => void; reject: (error: Error) => void }>>();
  private failure: Error | undefined;

  /** Resolves once `count` messages sent now to `partition` have been acknowledged. */
  wait(partition: number, count: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (count === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues.get(partition) ?? [];
      this.queues.set(partition, queue);
      queue.push({ remaining: count, resolve, reject });
    });
  }

  /** Resolves once every partition's count of messages sent now has been acknowledged. */
  waitAll(counts: ReadonlyMap<number, number>): Promise<void> {
    return Promise.all([...counts].map(([partition, count]) => this.wait(partition, count))).then(() => undefined);
  }

  acknowledge(partition: number, count: number): void {
    const queue = this.queues.get(partition) ?? [];
    while (count > 0 && queue.length > 0) {
      const head = queue[0]!;
      const taken = Math.min(count, head.remaining);
      head.remaining -= taken;
      count -= taken;
      if (head.remaining === 0) {
        queue.shift();
        head.resolve();
      }
    }
  }

  /** Rejects every waiting send, and every later one. */
  failAll(error: Error): void {
    this.failure ??= error;
    for (const queue of this.queues.values()) for (const send of queue.splice(0)) send.reject(error);
  }

  get failed(): Error | undefined {
    return this.failure;
  }
}
