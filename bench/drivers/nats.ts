/**
 * NATS JetStream through nats.js: a file-storage stream with one subject per partition
 * (<destination>.<n>), publishes awaited for their PubAck, one shared durable pull consumer with
 * explicit acknowledgements (every message acked: JetStream's usual work-queue consumer; several
 * clients pulling from it share the work).
 */
import { AckPolicy, connect, DeliverPolicy, StorageType } from 'nats';
import type { NatsConnection } from 'nats';
import type { RunningBroker } from '../brokers/broker.js';
import { syncIntervalSince, versionAtLeast } from '../lib/nats-server.js';
import { packageVersion, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer } from './driver.js';

const consumerName = 'bench';

const publishAckTimeoutMs = 30_000;

export async function natsDriver(broker: RunningBroker, syncAlways: boolean): Promise<Driver> {
  const servers = `${broker.host}:${broker.port}`;
  const connections = new Set<NatsConnection>();
  const open = async () => {
    const connection = await connect({ servers, maxReconnectAttempts: 0 });
    connections.add(connection);
    return connection;
  };
  const admin = await open();
  const manager = await admin.jetstreamManager();
  return {
    id: syncAlways ? 'nats-jetstream-sync-always' : 'nats-jetstream',
    label: syncAlways ? 'NATS JetStream sync:always' : 'NATS JetStream',
    client: 'nats.js',
    clientVersion: packageVersion('nats'),
    durability: syncAlways ? 'file store, sync_interval: always (fsync before ack)' : `file store, default sync${versionAtLeast(broker.version, syncIntervalSince) ? '_interval 2 min' : ''} (not fsync per ack)`,
    workloads: new Set(['publish', 'consume', 'latency', 'many-partitions']),
    settleMs: 0,
    async createDestination(destination: Destination) {
      await manager.streams.add({ name: destination.name, subjects: [`${destination.name}.>`], storage: StorageType.File, num_replicas: 1 });
      await manager.consumers.add(destination.name, { durable_name: consumerName, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 50_000 });
    },
    async deleteDestination(destination: Destination) {
      await manager.streams.delete(destination.name);
    },
    async openProducer(destination: Destination): Promise<Producer> {
      const connection = await open();
      // A PubAck may take long when the offered rate is above what the server sustains (the 50k/s
      // latency round): wait as long as the harness's stall guard does, so the row shows the
      // latency instead of failing at nats.js's 5 s default.
      const jetstream = connection.jetstream({ timeout: publishAckTimeoutMs });
      const nextPartition = roundRobin(destination.partitions);
      return {
        async send(payloads) {
          const subject = `${destination.name}.${nextPartition()}`;
          await Promise.all(payloads.map((payload) => jetstream.publish(subject, payload)));
        },
        async close() {
          connections.delete(connection);
          await connection.close();
        },
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      const connection = await open();
      const consumer = await connection.jetstream().consumers.get(destination.name, consumerName);
      const messages = await consumer.consume({ max_messages: 2000 });
      const done = (async () => {
        for await (const message of messages) {
          options.onMessages([Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)]);
          message.ack();
        }
      })();
      return {
        async close() {
          await messages.close();
          await done.catch(() => undefined);
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
