/**
 * amqplib against durable queues in a cluster (docs/cluster.md, "AMQP queues"): where etcd keeps a
 * queue's storage id (its log is the topic __amqp_queue-<storageId>), publishing with confirms, and
 * consuming with manual acks until a test has what it waits for.
 *
 *   const topic = queueTopicName(await storageIdOf(cluster, 'orders'));
 *   const leader = (await cluster.waitForPartition(topic, 0, (state) => state.isr.length === 3, '…')).leader;
 *   await publishConfirmed(channel, 'orders', 'm0')                    // 'ack' or 'nack'
 *   const { received, ack } = await consumeUntil(connection, 'orders', (got) => got.length >= 10);
 */
import assert from 'node:assert/strict';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { amqpPrefix } from '../../src/cluster/amqp-definition-keys.js';
import { openChannel } from './amqp-client.js';
import type { TestCluster } from './cluster.js';
import { waitUntil } from './waiting.js';

/**
 * Publishes one persistent message to `queue` through the default exchange (or with `routing`: to
 * that exchange with that routing key), with `options` besides, and resolves with the broker's confirm.
 */
export function publishConfirmed(channel: ConfirmChannel, queue: string, body: string, options: Options.Publish = {}, routing?: { exchange: string; routingKey: string }): Promise<'ack' | 'nack'> {
  return new Promise((resolve) => {
    channel.publish(routing?.exchange ?? '', routing?.routingKey ?? queue, Buffer.from(body), { persistent: true, ...options }, (error: unknown) => resolve(error === null || error === undefined ? 'ack' : 'nack'));
  });
}

/** Waits until the queue is known through `connection`'s broker (its shared definition reached it). */
export async function waitForQueue(connection: ChannelModel, queue: string, where: string): Promise<void> {
  await waitUntil(async () => openChannel(connection).then((probe) => probe.checkQueue(queue)).then(() => true, () => false), `queue ${queue} known on ${where}`);
}

/** The storage id etcd holds for the queue (its topic is __amqp_queue-<storageId>). */
export async function storageIdOf(cluster: TestCluster, queue: string): Promise<string> {
  const entry = await cluster.store.get(`${amqpPrefix}queues/%2F/${encodeURIComponent(queue)}`);
  assert.ok(entry !== null, `queue ${queue} in etcd`);
  const definition = JSON.parse(entry.value.toString()) as { storageId?: unknown };
  assert.equal(typeof definition.storageId, 'string');
  return definition.storageId as string;
}

/**
 * Consumes (manual acks, at most `prefetch` unacked; 0: no limit) until `until` says enough, or
 * fails after `timeoutMs`; the messages stay unacked until the caller acks them.
 */
export async function consumeUntil(connection: ChannelModel, queue: string, until: (received: readonly ConsumeMessage[]) => boolean, prefetch = 1000, timeoutMs = 30_000): Promise<{ received: ConsumeMessage[]; ack: (message: ConsumeMessage) => void }> {
  const channel = await openChannel(connection);
  await channel.prefetch(prefetch);
  const received: ConsumeMessage[] = [];
  let done: () => void = () => undefined;
  const complete = new Promise<void>((resolve) => (done = resolve));
  const { consumerTag } = await channel.consume(queue, (message) => {
    if (message === null) return;
    received.push(message);
    if (until(received)) done();
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([complete, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`received ${received.length} messages from ${queue}: ${received.map((message) => message.content.toString()).join(' ')}`)), timeoutMs)))]).finally(() => clearTimeout(timer));
  await channel.cancel(consumerTag);
  return { received, ack: (message) => channel.ack(message) };
}
