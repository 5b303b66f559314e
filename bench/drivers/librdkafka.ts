/**
 * Osprey through a small C producer on librdkafka (bench/drivers/rdkafka-producer.c): the library
 * kcat uses, without kcat's stdin handling in between, to show whether kcat is what limits the
 * 100 B publish rate. Producer only (publish and scaling workloads); kcat covers consuming.
 *
 *   build     gcc -O2 rdkafka-producer.c -lrdkafka -lpthread into .build/bench-tools/, at bench
 *             time (Debian packages gcc and librdkafka-dev)
 *   producer  one process per producer for the whole round, the same settings as the kcat driver
 *             (acks=all, linger.ms=1); each send() writes "@P" and its messages, one per line, to
 *             the process's stdin, so it goes to partition P (round-robin per call, no key needed;
 *             with `spread`, an "@P" before each message that goes to the next partition);
 *             the process writes "P COUNT" lines as deliveries are reported, which resolve the
 *             sends of that partition in order.
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
import type { Consumer, Destination, Driver, Producer, ProducerOptions } from './driver.js';
import { KcatProcess } from './kcat.js';

/** The C source, in the checkout (the build copies only TypeScript output to dist/). */
const source = fileURLToPath(new URL('../../../bench/drivers/rdkafka-producer.c', import.meta.url));

/** librdkafka's version as the installed package reports it. */
export function librdkafkaVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'librdkafka-dev'], { encoding: 'utf8' }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Compiles the producer into `toolsDirectory`; returns the binary's path. */
export function buildProducer(toolsDirectory: string): string {
  mkdirSync(toolsDirectory, { recursive: true });
  const binary = join(toolsDirectory, 'rdkafka-producer');
  execFileSync('gcc', ['-O2', '-Wall', '-o', binary, source, '-lrdkafka', '-lpthread'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return binary;
}

const newline = Buffer.from('\n');

export async function librdkafkaDriver(broker: RunningBroker, toolsDirectory: string): Promise<Driver> {
  const binary = buildProducer(toolsDirectory);
  const bootstrap = `${broker.host}:${broker.port}`;
  const adminClient = new KafkaClient({ brokers: [bootstrap], clientId: 'osprey-bench-librdkafka-admin', requestTimeoutMs: adminRequestTimeoutMs });
  const admin = new Admin(adminClient);
  const open = new Set<KcatProcess>();
  return {
    id: 'osprey-librdkafka',
    label: 'Osprey',
    client: 'librdkafka (C producer)',
    clientVersion: librdkafkaVersion(),
    durability: 'acks=all, fsync before ack',
    workloads: new Set(['publish', 'scaling']),
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
    openConsumer(): Promise<Consumer> {
      return Promise.reject(new Error('the librdkafka driver only produces'));
    },
    async close() {
      await Promise.allSettled([...open].map((process) => process.stop('terminate')));
      adminClient.close();
    },
  };
}
