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

export interface Producer {
  /**
   * Sends the payloads (to one partition, chosen round-robin per call) and resolves once the broker
   * has acknowledged all of them with the driver's durability setting. Calls may overlap.
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
  openProducer(destination: Destination): Promise<Producer>;
  /** Resolves once the consumer is subscribed and will see messages from the beginning. */
  openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer>;
  close(): Promise<void>;
}

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
