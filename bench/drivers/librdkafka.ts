/**
 * Osprey through a small C producer and consumer on librdkafka (bench/drivers/rdkafka-producer.c,
 * rdkafka-consumer.c): the library kcat uses, without kcat's stdin handling and per-message output
 * in between, to show whether kcat is what limits the 100 B publish and consume rates. Publish,
 * consume and scaling workloads.
 *
 *   build     gcc -O2 rdkafka-producer.c (and rdkafka-consumer.c) -lrdkafka -lpthread into
 *             .build/bench-tools/, at bench time (Debian packages gcc and librdkafka-dev)
 *   producer  one process per producer for the whole round, the same settings as the kcat driver
 *             (acks=all, linger.ms=1); each send() writes "@P" and its messages, one per line, to
 *             the process's stdin, so it goes to partition P (round-robin per call, no key needed;
 *             with `spread`, an "@P" before each message that goes to the next partition);
 *             the process writes "P COUNT" lines as deliveries are reported, which resolve the
 *             sends of that partition in order.
 *   consumer  one process per consumer, a member of the group "<topic>-group" (as kcat -G), from the
 *             earliest offset, auto-commit once a second, the same fetch settings as the kcat
 *             driver's consumer; it counts messages without printing them and writes "count N"
 *             after each batch it takes from librdkafka, "assigned P …" and "end P" (a partition's
 *             end for now). Ready once it has been assigned its partitions and has fetched from
 *             each (a message, or its end), as the kcat consumer; the harness gets N empty
 *             payloads per "count N" line, so the consumer serves the consume workload only (the
 *             latency workload needs the payloads).
 *
 * Topics are created and deleted with the project's admin client (src/client).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningBroker } from '../brokers/broker.js';
import { Admin } from '../../src/client/admin.js';
import { KafkaClient } from '../../src/client/client.js';
import { adminRequestTimeoutMs, AcknowledgementQueues, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer, ProducerOptions } from './driver.js';
import { KcatProcess } from './kcat.js';

/** The C sources' folder, in the checkout (the build copies only TypeScript output to dist/). */
const sourceDirectory = fileURLToPath(new URL('../../../bench/drivers/', import.meta.url));

/** librdkafka's version as the installed package reports it. */
export function librdkafkaVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'librdkafka-dev'], { encoding: 'utf8' }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Compiles bench/drivers/<name>.c into `toolsDirectory`; returns the binary's path. */
export function buildTool(toolsDirectory: string, name: 'rdkafka-producer' | 'rdkafka-consumer'): string {
  mkdirSync(toolsDirectory, { recursive: true });
  const binary = join(toolsDirectory, name);
  execFileSync('gcc', ['-O2', '-Wall', '-o', binary, join(sourceDirectory, `${name}.c`), '-lrdkafka', '-lpthread'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return binary;
}

const newline = Buffer.from('\n');
const nothing = Buffer.alloc(0);

export async function librdkafkaDriver(broker: RunningBroker, toolsDirectory: string): Promise<Driver> {
  const binary = buildTool(toolsDirectory, 'rdkafka-producer');
  const consumerBinary = buildTool(toolsDirectory, 'rdkafka-consumer');
  const bootstrap = `${broker.host}:${broker.port}`;
  const adminClient = new KafkaClient({ brokers: [bootstrap], clientId: 'osprey-bench-librdkafka-admin', requestTimeoutMs: adminRequestTimeoutMs });
  const admin = new Admin(adminClient);
  const open = new Set<KcatProcess>();
  return {
    id: 'osprey-librdkafka',
    label: 'Osprey',
    client: 'librdkafka (C producer, consumer)',
    clientVersion: librdkafkaVersion(),
    durability: 'acks=all, fsync before ack',
    workloads: new Set(['publish', 'consume', 'scaling']),
    settleMs: 0,
    async createDestination(destination: Destination) {
      await admin.createTopic(destination.name, { partitions: destination.partitions });
    },
    async deleteDestination(destination: Destination) {
      await admin.deleteTopic(destination.name);
    },
    async openProducer(destination: Destination, options: ProducerOptions = {}): Promise<Producer> {
      const pending = new AcknowledgementQueues();
      const nextPartition = roundRobin(destination.partitions);
      let markReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      let partialLine = '';
      const onLine = (line: string) => {
        const delivered = /^(\d+) (\d+)$/.exec(line);
        if (delivered !== null) pending.acknowledge(Number(delivered[1]), Number(delivered[2]));
        else if (line.startsWith('ready ')) markReady();
        else if (line.startsWith('failed ')) pending.failAll(new Error(`librdkafka producer: ${line}`));
      };
      const producer = new KcatProcess(binary, [bootstrap, destination.name, 'acks=all', 'linger.ms=1'], () => undefined, (chunk) => {
        const lines = (partialLine + chunk.toString('latin1')).split('\n');
        partialLine = lines.pop()!;
        for (const line of lines) onLine(line);
      }, 'rdkafka-producer');
      open.add(producer);
      void producer.exited.then(() => pending.failAll(new Error(producer.describeExit())));
      await producer.until(ready, 'librdkafka producer did not start');
      return {
        send(payloads) {
          if (pending.failed !== undefined) return Promise.reject(pending.failed);
          const counts = new Map<number, number>();
          const parts: Buffer[] = [];
          const sendPartition = options.spread === true ? -1 : nextPartition();
          let current = -1;
          for (const payload of payloads) {
            const partition = options.spread === true ? nextPartition() : sendPartition;
            if (partition !== current) parts.push(Buffer.from(`@${partition}\n`));
            current = partition;
            counts.set(partition, (counts.get(partition) ?? 0) + 1);
            parts.push(payload, newline);
          }
          const acknowledged = pending.waitAll(counts);
          producer.write(Buffer.concat(parts));
          return acknowledged;
        },
        async close() {
          open.delete(producer);
          await producer.stop('end-input');
        },
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      let markReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      /** Assigned partitions not yet fetched from (no message, no end reported). */
      let notFetched: Set<number> | undefined;
      let partialLine = '';
      const onLine = (line: string) => {
        const [word, ...rest] = line.split(' ');
        if (word === 'count') {
          options.onMessages(new Array<Buffer>(Number(rest[0])).fill(nothing));
          markReady();
        } else if (word === 'assigned') {
          notFetched = new Set(rest.map(Number));
        } else if (word === 'end') {
          notFetched?.delete(Number(rest[0]));
        }
        if (notFetched?.size === 0) markReady();
      };
      const consumer = new KcatProcess(consumerBinary, [
        bootstrap, destination.name, `${destination.name}-group`,
        // The kcat driver's consumer settings (see kcat.ts for why each).
        'heartbeat.interval.ms=500', 'session.timeout.ms=10000', 'auto.commit.interval.ms=1000',
        `fetch.wait.max.ms=${options.backlogOnly === true ? 1 : 100}`, 'fetch.message.max.bytes=4194304', 'queued.min.messages=10000000',
      ], () => undefined, (chunk) => {
        const lines = (partialLine + chunk.toString('latin1')).split('\n');
        partialLine = lines.pop()!;
        for (const line of lines) onLine(line);
      }, 'rdkafka-consumer');
      open.add(consumer);
      await consumer.until(ready, 'librdkafka consumer did not join');
      return {
        async close() {
          open.delete(consumer);
          await consumer.stop('terminate');
        },
      };
    },
    async close() {
      await Promise.allSettled([...open].map((process) => process.stop('terminate')));
      adminClient.close();
    },
  };
}
