/**
 * Redis Streams through ioredis: XADD pipelined (one pipeline per send; replies come after the AOF
 * fsync under appendfsync always), consumer groups read with XREADGROUP (COUNT 1000, BLOCK 100 ms)
 * and acknowledged with one XACK per reply.
 *
 * Partitions: `partitions` streams named <destination>:<n>; consumer i reads every count-th stream.
 */
import { Redis } from 'ioredis';
import type { RunningBroker } from '../brokers/broker.js';
import type { AppendFsync } from '../brokers/redis.js';
import { packageVersion, partitionsOf, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer } from './driver.js';

const group = 'bench';
const readCount = 1000;
const blockMs = 100;

function streamKey(destination: Destination, partition: number): string {
  return `${destination.name}:${partition}`;
}

type StreamReply = Array<[Buffer, Array<[Buffer, Buffer[] | null]>]> | null;

export async function ioredisDriver(broker: RunningBroker, appendFsync: AppendFsync): Promise<Driver> {
  const clients = new Set<Redis>();
  const open = async () => {
    const client = new Redis({ host: broker.host, port: broker.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    clients.add(client);
    return client;
  };
  const admin = await open();
  return {
    id: `redis-${appendFsync}`,
    label: `Redis Streams ${appendFsync}`,
    client: 'ioredis',
    clientVersion: packageVersion('ioredis'),
    durability: appendFsync === 'always' ? 'AOF, fsync before reply' : 'AOF, fsync every second',
    workloads: new Set(['publish', 'consume', 'latency', 'many-partitions']),
    settleMs: 0,
    async createDestination(destination: Destination) {
      for (let partition = 0; partition < destination.partitions; partition += 1) {
        await admin.xgroup('CREATE', streamKey(destination, partition), group, '0', 'MKSTREAM');
      }
    },
    async deleteDestination(destination: Destination) {
      const keys = Array.from({ length: destination.partitions }, (_, partition) => streamKey(destination, partition));
      await admin.del(...keys);
    },
    async openProducer(destination: Destination): Promise<Producer> {
      const client = await open();
      const nextPartition = roundRobin(destination.partitions);
      return {
        async send(payloads) {
          const key = streamKey(destination, nextPartition());
          const pipeline = client.pipeline();
          for (const payload of payloads) pipeline.xadd(key, '*', 'v', payload);
          const replies = await pipeline.exec();
          for (const [error] of replies ?? []) if (error !== null) throw error;
        },
        async close() {
          clients.delete(client);
          client.disconnect();
        },
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      const client = await open();
      const keys = partitionsOf(options.index, options.count, destination.partitions).map((partition) => streamKey(destination, partition));
      const consumerName = `consumer-${options.index}`;
      let running = true;
      const loop = (async () => {
        while (running) {
          const reply = (await client.xreadgroupBuffer('GROUP', group, consumerName, 'COUNT', readCount, 'BLOCK', blockMs, 'STREAMS', ...keys, ...keys.map(() => '>'))) as unknown as StreamReply;
          if (reply === null) continue;
          const acknowledgements = client.pipeline();
          for (const [key, entries] of reply) {
            const payloads: Buffer[] = [];
            for (const [, fields] of entries) payloads.push(fields?.[1] ?? Buffer.alloc(0));
            options.onMessages(payloads);
            acknowledgements.xack(key, group, ...entries.map(([id]) => id));
          }
          await acknowledgements.exec();
        }
      })();
      return {
        async close() {
          running = false;
          await loop.catch(() => undefined);
          clients.delete(client);
          client.disconnect();
        },
      };
    },
    async close() {
      for (const client of clients) client.disconnect();
      clients.clear();
    },
  };
}
