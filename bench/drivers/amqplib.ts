/**
 * RabbitMQ through amqplib: durable queues of one type (classic, quorum or stream), persistent
 * messages (delivery mode 2) published on a confirm channel, each send resolved when the broker has
 * confirmed every message of it. Consumers use manual acknowledgements (prefetch 2000; one
 * `multiple` ack per 200 messages, the way high-throughput consumers are written).
 *
 * Partitions: `partitions` queues named <destination>-<n>; consumer i reads every count-th queue.
 * Stream queues are read from their first offset (x-stream-offset: first).
 *
 * The same driver runs against Osprey's AMQP listener (`osprey-amqp`): same client, same durable
 * queue, persistent messages, confirms and acks, so its rows compare with RabbitMQ's like for like.
 * Queues there are declared without x-queue-type (Osprey has one kind of queue).
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { RunningBroker } from '../brokers/broker.js';
import { packageVersion, partitionsOf, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer } from './driver.js';

export type QueueType = 'classic' | 'quorum' | 'stream';

const prefetch = 2000;
const ackEvery = 200;

function queueName(destination: Destination, partition: number): string {
  return `${destination.name}-${partition}`;
}

/** Which broker the driver talks to: RabbitMQ with a queue type, or Osprey's AMQP listener. */
/**
 * `osprey-cluster`: three brokers (osprey-cluster.ts), every queue declared through broker 1, which
 * serves it and whose AMQP listener the clients use. `osprey-cluster-any`: the same queues, but
 * producers publish through broker 2 and consumers consume through broker 3, which forward to and
 * take from broker 1 (docs/cluster.md, "AMQP queues").
 */
export type AmqpTarget = { readonly kind: 'rabbitmq'; readonly queueType: QueueType } | { readonly kind: 'osprey' } | { readonly kind: 'osprey-cluster' } | { readonly kind: 'osprey-cluster-any' };

const targetNames: Record<AmqpTarget['kind'], { readonly id: string; readonly label: string; readonly durability: string }> = {
  rabbitmq: { id: 'rabbitmq', label: 'RabbitMQ', durability: 'persistent, confirms' },
  osprey: { id: 'osprey-amqp', label: 'Osprey AMQP', durability: 'durable queue, persistent, confirms' },
  'osprey-cluster': { id: 'osprey-cluster-amqp', label: 'Osprey AMQP 3 brokers RF 3', durability: 'durable queue replicated ×3, persistent, confirms' },
  'osprey-cluster-any': { id: 'osprey-cluster-amqp-any', label: 'Osprey AMQP 3 brokers RF 3, via brokers 2 and 3', durability: 'durable queue replicated ×3 served by broker 1, published through broker 2, consumed through broker 3' },
};

export async function amqplibDriver(broker: RunningBroker, target: AmqpTarget): Promise<Driver> {
  const queueType: QueueType = target.kind === 'rabbitmq' ? target.queueType : 'classic';
  const queueArguments = target.kind === 'rabbitmq' ? { 'x-queue-type': queueType } : {};
  const clustered = target.kind === 'osprey-cluster' || target.kind === 'osprey-cluster-any';
  if (clustered && broker.amqpPort === undefined) throw new Error('the cluster launcher did not say where broker 1\'s AMQP listener is');
  const urlOf = (port: number) => `amqp://guest:guest@${broker.host}:${port}`;
  const url = urlOf(broker.amqpPort ?? broker.port);
  let publishUrl = url;
  let consumeUrl = url;
  if (target.kind === 'osprey-cluster-any') {
    const [second, third] = broker.otherAmqpPorts ?? [];
    if (second === undefined || third === undefined) throw new Error('the cluster launcher did not say where brokers 2 and 3 have their AMQP listeners');
    publishUrl = urlOf(second);
    consumeUrl = urlOf(third);
  }
  const connections = new Set<ChannelModel>();
  const connect = async (through = url) => {
    const connection = await amqp.connect(through);
    connections.add(connection);
    return connection;
  };
  const admin = await connect();
  const adminChannel = await admin.createChannel();
  return {
    id: target.kind === 'rabbitmq' ? `rabbitmq-${queueType}` : targetNames[target.kind].id,
    label: target.kind === 'rabbitmq' ? `RabbitMQ ${queueType}` : targetNames[target.kind].label,
    client: 'amqplib',
    clientVersion: packageVersion('amqplib'),
    durability: target.kind !== 'rabbitmq' ? targetNames[target.kind].durability : queueType === 'stream' ? 'durable stream, persistent, confirms' : `durable ${queueType} queue, persistent, confirms`,
    // Not many-partitions on the cluster: 64 queues there are 64 replicated topics to create and delete per round.
    workloads: new Set(clustered ? ['publish', 'consume', 'latency'] : ['publish', 'consume', 'latency', 'many-partitions']),
    settleMs: 0,
    async createDestination(destination: Destination) {
      for (let partition = 0; partition < destination.partitions; partition += 1) {
        await adminChannel.assertQueue(queueName(destination, partition), { durable: true, arguments: queueArguments });
      }
    },
    async deleteDestination(destination: Destination) {
      for (let partition = 0; partition < destination.partitions; partition += 1) await adminChannel.deleteQueue(queueName(destination, partition));
    },
    async openProducer(destination: Destination): Promise<Producer> {
      const connection = await connect(publishUrl);
      const channel = await connection.createConfirmChannel();
      const nextPartition = roundRobin(destination.partitions);
      return {
        send(payloads) {
          const queue = queueName(destination, nextPartition());
          let outstanding = payloads.length;
          return new Promise<void>((resolve, reject) => {
            const confirmed = (error: unknown) => {
              if (error !== null && error !== undefined) reject(error instanceof Error ? error : new Error('message nacked'));
              else if (--outstanding === 0) resolve();
            };
            for (const payload of payloads) channel.sendToQueue(queue, payload, { persistent: true }, confirmed);
          });
        },
        async close() {
          connections.delete(connection);
          await connection.close();
        },
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      const connection = await connect(consumeUrl);
      const channel: Channel = await connection.createChannel();
      await channel.prefetch(prefetch);
      for (const partition of partitionsOf(options.index, options.count, destination.partitions)) {
        let unacknowledged = 0;
        await channel.consume(
          queueName(destination, partition),
          (message: ConsumeMessage | null) => {
            if (message === null) return;
            options.onMessages([message.content]);
            if (++unacknowledged >= ackEvery) {
              channel.ack(message, true);
              unacknowledged = 0;
            }
          },
          { noAck: false, ...(queueType === 'stream' ? { arguments: { 'x-stream-offset': 'first' } } : {}) },
        );
      }
      return {
        async close() {
          connections.delete(connection);
          await connection.close();
        },
      };
    },
    async close() {
      await Promise.allSettled([...connections].map((connection) => connection.close()));
      connections.clear();
    },
  };
}
