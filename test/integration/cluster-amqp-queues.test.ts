/**
 * Durable AMQP queues in a cluster (docs/cluster.md, "AMQP queues"): a queue's messages and its
 * state live in the one partition of its replicated internal topic, served by the broker leading
 * it; when that broker dies (kill -9), the controller makes a follower leader and the queue goes on
 * there, from the follower's copy: every confirmed message that was not acknowledged is delivered,
 * nothing that was never published appears, and a broker that does not lead the queue refuses
 * publishes to it (nack) instead of keeping them where nobody reads them.
 *
 * Real processes: etcd and three brokers with their AMQP listeners, amqplib as the client.
 * Oracles: publisher confirms, the deliveries and their redelivered flags, the partition's state
 * in etcd (leader, ISR).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { queueTopicName } from '../../src/cluster/queue-partitions.js';
import { connectAmqp, openChannel } from '../helpers/amqp-client.js';
import { consumeUntil, publishConfirmed, storageIdOf } from '../helpers/amqp-cluster.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/waiting.js';

describe('durable AMQP queues replicated across the brokers of a cluster', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodeIds: [1, 2, 3], extraArgs: () => ['--amqp-port', '0'] });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('kill -9 of the broker serving a queue: a follower takes over, with every confirmed message not acknowledged', async () => {
    const first = cluster.broker(1);
    const queue = 'orders';
    const connection = await connectAmqp(first);
    // Its broker is killed under it: the connection's end is expected.
    connection.on('error', () => undefined);
    let storageId: string;
    const unacked = new Set<string>();
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      storageId = await storageIdOf(cluster, queue);
      const topic = queueTopicName(storageId);
      const initial = await cluster.waitForPartition(topic, 0, (state) => state.leader === 1 && state.isr.length === 3, 'the queue\'s log on three brokers, led by the declaring one');
      assert.deepEqual([...initial.replicas].sort(), [1, 2, 3]);

      // A publish routed to the queue through a broker that does not serve it is refused.
      for (const nodeId of [2, 3]) {
        const other = await connectAmqp(cluster.broker(nodeId));
        try {
          await waitUntil(async () => (await openChannel(other).then((probe) => probe.checkQueue(queue)).then(() => true, () => false)), `the queue known on broker ${nodeId}`);
          assert.equal(await publishConfirmed(await other.createConfirmChannel(), queue, 'through a follower'), 'nack');
        } finally {
          await other.close();
        }
      }

      const total = 300;
      const confirms = await Promise.all(Array.from({ length: total }, (_, index) => publishConfirmed(channel, queue, `m${index}`)));
      assert.ok(confirms.every((answer) => answer === 'ack'), 'every publish confirmed');

      // 100 consumed and acknowledged, 20 consumed and left unacknowledged, the rest never delivered.
      // A prefetch of 120: exactly these are delivered, none beyond.
      const { received, ack } = await consumeUntil(connection, queue, (got) => got.length >= 120, 120);
      assert.deepEqual(
        received.slice(0, 120).map((message) => message.content.toString()),
        Array.from({ length: 120 }, (_, index) => `m${index}`),
      );
      for (const message of received.slice(0, 100)) ack(message);
      for (let index = 100; index < total; index++) unacked.add(`m${index}`);
      // Acks have no answer in AMQP: a round trip on the channel makes sure the broker read them.
      await channel.checkQueue(queue);
      // The acks and the delivered mark go into the queue's log as state batches (within 100 ms);
      // the followers fetch continuously. Given time to reach them, the new leader must know them.
      await sleep(2000);
    } finally {
      await first.kill9();
    }

    const topic = queueTopicName(storageId);
    const moved = await cluster.waitForPartition(topic, 0, (state) => state.leader === 2 || state.leader === 3, 'a follower leading the queue\'s log after broker 1 died', 30_000);
    const leader = cluster.broker(moved.leader);
    const other = cluster.broker(moved.leader === 2 ? 3 : 2);
    const after = await connectAmqp(leader);
    try {
      // Exactly the messages not acknowledged, in order; those delivered before the crash flagged redelivered.
      const { received, ack } = await consumeUntil(after, queue, (got) => got.length >= unacked.size);
      assert.deepEqual(
        received.map((message) => message.content.toString()),
        [...unacked],
      );
      assert.deepEqual(
        received.filter((message) => message.fields.redelivered).map((message) => message.content.toString()),
        Array.from({ length: 20 }, (_, index) => `m${100 + index}`),
      );
      for (const message of received) ack(message);

      // The new leader takes publishes; the remaining follower still refuses them.
      const channel = await after.createConfirmChannel();
      assert.equal(await publishConfirmed(channel, queue, 'after the failover'), 'ack');
      const follower = await connectAmqp(other);
      try {
        assert.equal(await publishConfirmed(await follower.createConfirmChannel(), queue, 'through the follower'), 'nack');
      } finally {
        await follower.close();
      }
      const { received: latest } = await consumeUntil(after, queue, (got) => got.some((message) => message.content.toString() === 'after the failover'));
      assert.deepEqual(
        latest.map((message) => message.content.toString()),
        ['after the failover'],
      );
    } finally {
      await after.close();
    }

    // Broker 1 comes back as a follower of the queue's log and catches up.
    await cluster.restart(1);
    await cluster.waitForPartition(topic, 0, (state) => state.isr.includes(1) && state.leader === moved.leader, 'broker 1 back in the ISR of the queue\'s log', 30_000);
  });

  test('publishes right after declare-ok are confirmed: the declare waits for the new log\'s followers to be in sync', async () => {
    const connection = await connectAmqp(cluster.broker(3));
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('at-once', { durable: true });
      const confirms = await Promise.all(Array.from({ length: 500 }, (_, index) => publishConfirmed(channel, 'at-once', `n${index}`)));
      assert.deepEqual(
        confirms.filter((answer) => answer !== 'ack'),
        [],
      );
      const state = await cluster.partition(queueTopicName(await storageIdOf(cluster, 'at-once')), 0);
      assert.equal(state?.leader, 3);
    } finally {
      await connection.close();
    }
  });

  test('deleting a queue deletes its replicated log', async () => {
    const connection = await connectAmqp(cluster.broker(2));
    try {
      const channel = await openChannel(connection);
      await channel.assertQueue('short-lived', { durable: true });
      const topic = queueTopicName(await storageIdOf(cluster, 'short-lived'));
      await cluster.waitForPartition(topic, 0, (state) => state.leader === 2, 'the log of short-lived, led by broker 2');
      await channel.deleteQueue('short-lived');
      await waitUntil(async () => (await cluster.partition(topic, 0)) === null, 'the log of short-lived gone from etcd');
    } finally {
      await connection.close();
    }
  });
});
