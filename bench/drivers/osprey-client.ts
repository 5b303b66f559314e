/**
 * Osprey through the project's own client (src/client/): an idempotent acks=all producer, and a
 * classic consumer group member that fetches its partitions and commits its positions once a
 * second and when it closes.
 */
import type { RunningBroker } from '../brokers/broker.js';
import { Admin } from '../../src/client/admin.js';
import { KafkaClient } from '../../src/client/client.js';
import { KafkaProtocolError } from '../../src/client/errors.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { Consumer as FetchConsumer } from '../../src/client/consumer.js';
import type { TopicPartitionOffset } from '../../src/client/consumer.js';
import { GroupMember } from '../../src/client/group.js';
import { Producer as ClientProducer } from '../../src/client/producer.js';
import { adminRequestTimeoutMs, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer, ProducerOptions } from './driver.js';

const commitIntervalMs = 1000;
/** How long a new topic of a cluster may take until every replica of every partition is in sync. */
const inSyncWaitMs = 60_000;

export interface OspreyClientDriverOptions {
  readonly id: string;
  readonly label: string;
  /** Replicas of each partition (a cluster); the topic is used once every replica is in sync. */
  readonly replicationFactor: number;
  readonly workloads: Driver['workloads'];
}

const singleBroker: OspreyClientDriverOptions = { id: 'osprey-own-client', label: 'Osprey', replicationFactor: 1, workloads: new Set(['publish', 'consume', 'latency', 'many-partitions', 'scaling']) };

export async function ospreyClientDriver(broker: RunningBroker, options: OspreyClientDriverOptions = singleBroker): Promise<Driver> {
  const bootstrap = `${broker.host}:${broker.port}`;
  const adminClient = new KafkaClient({ brokers: [bootstrap], clientId: 'osprey-bench-admin', requestTimeoutMs: adminRequestTimeoutMs });
  const admin = new Admin(adminClient);
  const closers = new Set<() => Promise<void>>();
  return {
    id: options.id,
    label: options.label,
    client: 'own client',
    clientVersion: '-',
    durability: 'acks=all, fsync before ack',
    workloads: options.workloads,
    settleMs: 1500,
    async createDestination(destination: Destination) {
      await admin.createTopic(destination.name, { partitions: destination.partitions, replicationFactor: options.replicationFactor });
      // A new partition's ISR is its leader alone until the followers catch up; acks=all would be
      // answered without them meanwhile, so the rounds start once every replica is in sync.
      if (options.replicationFactor > 1) await waitUntilInSync(adminClient, destination.name, options.replicationFactor);
    },
    async deleteDestination(destination: Destination) {
      await admin.deleteTopic(destination.name);
    },
    async openProducer(destination: Destination, options: ProducerOptions = {}): Promise<Producer> {
      const client = new KafkaClient({ brokers: [bootstrap], clientId: 'osprey-bench-producer' });
      // lingerMs 0: a batch closes at the end of the event-loop turn (setImmediate). Records sent in one
      // turn, or while earlier requests are in flight, still share batches, so throughput matches
      // lingerMs 1 (measured side by side), while a lone message is not held back by a timer.
      const producer = new ClientProducer(client, { acks: -1, lingerMs: 0, allowAutoTopicCreation: false });
      await producer.prepare(destination.name);
      const nextPartition = roundRobin(destination.partitions);
      const close = async () => {
        closers.delete(close);
        await producer.flush();
        client.close();
      };
      closers.add(close);
      return {
        send(payloads) {
          const spread = options.spread === true;
          const partition = spread ? -1 : nextPartition();
          return new Promise<void>((resolve, reject) => {
            let pending = payloads.length;
            let failed = false;
            if (pending === 0) return resolve();
            const delivered = (error: Error | null) => {
              if (failed) return;
              if (error !== null) {
                failed = true;
                return reject(error);
              }
              if (--pending === 0) resolve();
            };
            // produce() answers false when the client's buffer is full; the record is queued anyway.
            for (const value of payloads) producer.produce(destination.name, { value, partition: spread ? nextPartition() : partition }, delivered);
          });
        },
        close,
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      const topic = destination.name;
      const client = new KafkaClient({ brokers: [bootstrap], clientId: `osprey-bench-consumer-${options.index}` });
      const member = new GroupMember(client, { groupId: `${topic}-group`, topics: [topic], heartbeatIntervalMs: 500 });
      const fetcher = new FetchConsumer(client, { maxWaitMs: 100 });
      const positions = new Map<number, number>();
      const assign = async () => {
        const assigned = (await member.join()).filter((entry) => entry.topic === topic).flatMap((entry) => entry.partitions);
        const committed = assigned.length === 0 ? [] : await admin.fetchCommittedOffsets(member.groupId, [{ topic, partitions: assigned }]);
        const offsets: TopicPartitionOffset[] = assigned.map((partition) => ({ topic, partition, offset: committed.find((entry) => entry.partition === partition)?.offset ?? 0 }));
        positions.clear();
        for (const entry of offsets) positions.set(entry.partition, entry.offset);
        fetcher.assign(offsets);
      };
      const commit = async () => {
        if (positions.size > 0) await member.commit([...positions].map(([partition, offset]) => ({ topic, partition, offset })));
      };
      await assign();
      let stopped = false;
      let committing: Promise<void> | null = null;
      const loop = (async () => {
        let lastCommitMs = Date.now();
        while (!stopped) {
          if (member.rebalanceNeeded) {
            await committing;
            await commit();
            await assign();
          }
          const records = await fetcher.poll();
          if (records.length > 0) {
            options.onMessages(records.map((record) => record.value ?? Buffer.alloc(0)));
            for (const record of records) positions.set(record.partition, record.offset + 1);
          }
          // Committed in the background, one commit at a time, as Kafka clients' auto-commit does: the
          // fetch loop goes on while the broker makes the offsets durable.
          if (committing === null && Date.now() - lastCommitMs >= commitIntervalMs) {
            lastCommitMs = Date.now();
            committing = commit()
              .catch(() => undefined)
              .finally(() => {
                committing = null;
              });
          }
        }
        await committing;
      })();
      const close = async () => {
        closers.delete(close);
        stopped = true;
        await loop.catch(() => undefined);
        await commit().catch(() => undefined);
        await member.leave().catch(() => undefined);
        member.stopHeartbeats();
        client.close();
      };
      closers.add(close);
      return { close };
    },
    async close() {
      await Promise.allSettled([...closers].map((close) => close()));
      adminClient.close();
    },
  };
}

async function waitUntilInSync(client: KafkaClient, topic: string, replicationFactor: number): Promise<void> {
  const deadline = Date.now() + inSyncWaitMs;
  for (;;) {
    // The broker asked may not have followed the creation yet (each applies it from its etcd watch).
    const metadata = await client.topicMetadata(topic, { refresh: true }).catch((error: unknown) => {
      if (error instanceof KafkaProtocolError && error.code === ErrorCode.unknownTopicOrPartition) return null;
      throw error;
    });
    if (metadata !== null && metadata.partitions.length > 0 && metadata.partitions.every((partition) => partition.isr.length >= replicationFactor)) return;
    if (Date.now() > deadline) throw new Error(`topic ${topic}: not every replica in sync within ${inSyncWaitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
