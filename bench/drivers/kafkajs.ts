/**
 * Osprey through KafkaJS, the most used pure-JavaScript Kafka client: acks=all (-1) producers, a
 * consumer group that commits its offsets (eachBatch, auto-resolve and auto-commit).
 */
import kafkajs from 'kafkajs';
import type { Consumer as KafkaConsumer, Producer as KafkaProducer } from 'kafkajs';
import type { RunningBroker } from '../brokers/broker.js';
import { packageVersion, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer } from './driver.js';

const { Kafka, logLevel } = kafkajs;

export async function kafkajsDriver(broker: RunningBroker): Promise<Driver> {
  const kafka = new Kafka({ clientId: 'osprey-bench', brokers: [`${broker.host}:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const admin = kafka.admin();
  await admin.connect();
  const open = new Set<{ disconnect(): Promise<void> }>();
  return {
    id: 'osprey-kafkajs',
    label: 'Osprey',
    client: 'kafkajs',
    clientVersion: packageVersion('kafkajs'),
    durability: 'acks=all, fsync before ack',
    workloads: new Set(['publish', 'consume', 'latency', 'many-partitions']),
    settleMs: 1500,
    async createDestination(destination: Destination) {
      await admin.createTopics({ topics: [{ topic: destination.name, numPartitions: destination.partitions }], waitForLeaders: true });
    },
    async deleteDestination(destination: Destination) {
      await admin.deleteTopics({ topics: [destination.name], timeout: 30_000 });
    },
    async openProducer(destination: Destination): Promise<Producer> {
      const producer: KafkaProducer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      open.add(producer);
      const nextPartition = roundRobin(destination.partitions);
      return {
        async send(payloads) {
          const partition = nextPartition();
          await producer.send({ topic: destination.name, acks: -1, messages: payloads.map((value) => ({ value, partition })) });
        },
        async close() {
          open.delete(producer);
          await producer.disconnect();
        },
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      const consumer: KafkaConsumer = kafka.consumer({ groupId: `${destination.name}-group`, heartbeatInterval: 500, sessionTimeout: 10_000, maxWaitTimeInMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 });
      await consumer.connect();
      open.add(consumer);
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.subscribe({ topic: destination.name, fromBeginning: true });
      await consumer.run({
        autoCommit: true,
        partitionsConsumedConcurrently: Math.min(destination.partitions, 8),
        eachBatch: async ({ batch }) => {
          options.onMessages(batch.messages.map((message) => message.value ?? Buffer.alloc(0)));
        },
      });
      await joined;
      return {
        async close() {
          open.delete(consumer);
          await consumer.disconnect();
        },
      };
    },
    async close() {
      await Promise.allSettled([...open].map((client) => client.disconnect()));
      await admin.disconnect();
    },
  };
}
