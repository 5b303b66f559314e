/**
 * Durable AMQP queues in a cluster (docs/cluster.md, "AMQP queues"): a queue's messages and its
 * state live in the one partition of its replicated internal topic, served by the broker leading
 * it; when that broker dies (kill -9), the controller makes a follower leader and the queue goes on
 * there, from the follower's copy: every confirmed message that was not acknowledged is delivered,
 * nothing that was never published appears. Any broker serves any queue: one that does not lead the
 * queue forwards publishes to the one that does, and takes the queue's messages from there for its
 * own consumers.
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
import { consumeUntil, publishConfirmed, storageIdOf, waitForQueue } from '../helpers/amqp-cluster.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { assertSucceeded, osprey } from '../helpers/osprey-cli.js';
import { waitUntil } from '../helpers/waiting.js';

/** GET (or POST `body`) on a broker's admin API; the reply's JSON. */
async function adminApi(cluster: TestCluster, nodeId: number, path: string, body?: unknown): Promise<unknown> {
  const port = cluster.broker(nodeId).httpPort;
  assert.ok(port !== null, `broker ${nodeId} has an HTTP listener`);
  const response = await fetch(`http://127.0.0.1:${port}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.status, 200, `${path} on broker ${nodeId}: ${await response.clone().text()}`);
  return response.json();
}

describe('durable AMQP queues replicated across the brokers of a cluster', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodeIds: [1, 2, 3], extraArgs: () => ['--amqp-port', '0', '--http-port', '0'] });
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

      // The new leader takes publishes, and so does the remaining follower, which forwards them to it.
      const channel = await after.createConfirmChannel();
      assert.equal(await publishConfirmed(channel, queue, 'after the failover'), 'ack');
      const follower = await connectAmqp(other);
      try {
        assert.equal(await publishConfirmed(await follower.createConfirmChannel(), queue, 'through the follower'), 'ack');
      } finally {
        await follower.close();
      }
      const { received: latest } = await consumeUntil(after, queue, (got) => got.length >= 2);
      assert.deepEqual(
        latest.map((message) => message.content.toString()),
        ['after the failover', 'through the follower'],
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

  test('deleting a queue through a broker that does not serve it: if-empty and the count are the serving broker\'s; its replicated log is deleted, and no broker logs an error or a warning for it', async () => {
    const connection = await connectAmqp(cluster.broker(2));
    try {
      const channel = await openChannel(connection);
      await channel.assertQueue('short-lived', { durable: true });
      const topic = queueTopicName(await storageIdOf(cluster, 'short-lived'));
      await cluster.waitForPartition(topic, 0, (state) => state.leader === 2 && state.isr.length === 3, 'the log of short-lived, led by broker 2, on three brokers');
      // Settles still being written when the log goes: acks of what was just consumed.
      for (let index = 0; index < 50; index++) channel.sendToQueue('short-lived', Buffer.from(`s${index}`), { persistent: true });
      const { received, ack } = await consumeUntil(connection, 'short-lived', (got) => got.length >= 50);
      for (const message of received) ack(message);
      // Two left: if-empty through broker 3 is judged where the queue is served, and delete-ok counts them.
      channel.sendToQueue('short-lived', Buffer.from('left 1'), { persistent: true });
      channel.sendToQueue('short-lived', Buffer.from('left 2'), { persistent: true });
      await waitUntil(async () => (await openChannel(connection).then((probe) => probe.checkQueue('short-lived'))).messageCount === 2, 'two messages ready on broker 2');
      const logged = [1, 2, 3].map((nodeId) => cluster.broker(nodeId).logs().length);
      const deleting = await connectAmqp(cluster.broker(3));
      try {
        await waitForQueue(deleting, 'short-lived', 'broker 3');
        const refusal = await (await openChannel(deleting)).deleteQueue('short-lived', { ifEmpty: true }).then(
          () => 'deleted',
          (error: { code?: unknown }) => error.code,
        );
        assert.equal(refusal, 406, 'if-empty: not empty where it is served');
        assert.equal((await (await openChannel(deleting)).deleteQueue('short-lived')).messageCount, 2);
      } finally {
        await deleting.close();
      }
      await waitUntil(async () => (await cluster.partition(topic, 0)) === null, 'the log of short-lived gone from etcd');
      await sleep(1000);
      for (const [index, nodeId] of [1, 2, 3].entries()) {
        const since = cluster.broker(nodeId).logs().slice(logged[index]);
        assert.deepEqual(
          since.split('\n').filter((line) => / (ERROR|WARN) /.test(line)),
          [],
          `broker ${nodeId}`,
        );
      }
    } finally {
      await connection.close();
    }
  });
  test('any broker serves any queue: publishes through one broker that does not serve it are forwarded, exchange, routing key and headers kept; consumers on another get its messages and their acks settle them where it is served; after kill -9 of the serving broker they carry on', { timeout: 180_000 }, async () => {
    const queue = 'payments';
    // Declared through broker 2, which serves it.
    const declaring = await connectAmqp(cluster.broker(2));
    let storageId: string;
    try {
      const channel = await openChannel(declaring);
      await channel.assertExchange('events', 'topic', { durable: true });
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, 'events', 'pay.#');
      storageId = await storageIdOf(cluster, queue);
      await cluster.waitForPartition(queueTopicName(storageId), 0, (state) => state.leader === 2 && state.isr.length === 3, 'the log of payments on three brokers, led by broker 2');
    } finally {
      await declaring.close();
    }
    const topic = queueTopicName(storageId);

    // Published through broker 1, to the topic exchange.
    const publisher = await connectAmqp(cluster.broker(1));
    publisher.on('error', () => undefined);
    const total = 200;
    try {
      const channel = await publisher.createConfirmChannel();
      await waitForQueue(publisher, queue, 'broker 1');
      const confirms = await Promise.all(Array.from({ length: total }, (_, index) => publishConfirmed(channel, queue, `p${index}`, { headers: { order: index } }, { exchange: 'events', routingKey: `pay.eu.${index}` })));
      assert.deepEqual(
        confirms.filter((answer) => answer !== 'ack'),
        [],
      );
    } finally {
      await publisher.close();
    }

    // Consumed through broker 3: every message, in order, as published.
    const consumerConnection = await connectAmqp(cluster.broker(3));
    consumerConnection.on('error', () => undefined);
    try {
      const { received, ack } = await consumeUntil(consumerConnection, queue, (got) => got.length >= total, 250);
      assert.deepEqual(
        received.map((message) => message.content.toString()),
        Array.from({ length: total }, (_, index) => `p${index}`),
      );
      for (const [index, message] of received.entries()) {
        assert.equal(message.fields.exchange, 'events');
        assert.equal(message.fields.routingKey, `pay.eu.${index}`);
        assert.deepEqual(message.properties.headers, { order: index });
        assert.equal(message.properties.deliveryMode, 2);
        assert.equal(message.fields.redelivered, false);
      }
      // 150 acknowledged through broker 3; the other 50 go back when its channel closes.
      for (const message of received.slice(0, 150)) ack(message);
      await openChannel(consumerConnection).then((probe) => probe.checkQueue(queue));
    } finally {
      await consumerConnection.close();
    }
    const serving = await connectAmqp(cluster.broker(2));
    try {
      const { received, ack } = await consumeUntil(serving, queue, (got) => got.length >= 50);
      await sleep(300); // nothing more may come: the first 150 were settled where the queue is served
      assert.deepEqual(
        received.map((message) => message.content.toString()),
        Array.from({ length: 50 }, (_, index) => `p${150 + index}`),
      );
      assert.ok(received.every((message) => message.fields.redelivered));
      for (const message of received) ack(message);
      await openChannel(serving).then((probe) => probe.checkQueue(queue));
    } finally {
      await serving.close();
    }

    // A consumer on broker 3 stays attached while the serving broker dies; publishes through broker 1 reach it from the new one.
    const steady = await connectAmqp(cluster.broker(3));
    steady.on('error', () => undefined);
    try {
      const channel = await openChannel(steady);
      await channel.prefetch(10);
      const bodies: string[] = [];
      await channel.consume(queue, (message) => {
        if (message === null) return;
        bodies.push(message.content.toString());
        channel.ack(message);
      });
      const sendThroughFirst = async (body: string): Promise<'ack' | 'nack'> => {
        const connection = await connectAmqp(cluster.broker(1));
        connection.on('error', () => undefined);
        try {
          return await publishConfirmed(await connection.createConfirmChannel(), queue, body);
        } finally {
          await connection.close().catch(() => undefined);
        }
      };
      assert.equal(await sendThroughFirst('before the failover'), 'ack');
      await waitUntil(() => Promise.resolve(bodies.includes('before the failover')), 'the message delivered to the consumer on broker 3');
      // Its ack goes to broker 2 over the link and into the queue's log as a state batch; given time to reach the followers, it must hold there.
      await sleep(2000);
      await cluster.broker(2).kill9();
      await cluster.waitForPartition(topic, 0, (state) => state.leader === 1 || state.leader === 3, 'a follower serving payments after broker 2 died', 30_000);
      // Until every broker's metadata has the new leader a forward may be refused: the publisher retries, as it would.
      let answer: 'ack' | 'nack' = 'nack';
      for (let attempt = 0; attempt < 40 && answer !== 'ack'; attempt++) {
        answer = await sendThroughFirst('after the failover');
        if (answer !== 'ack') await sleep(250);
      }
      assert.equal(answer, 'ack');
      await waitUntil(() => Promise.resolve(bodies.includes('after the failover')), 'the consumer on broker 3 carrying on after the failover', 30_000);
      assert.equal(bodies.filter((body) => body === 'before the failover').length, 1, 'an acknowledged message not delivered again');
    } finally {
      await steady.close().catch(() => undefined);
    }
    await cluster.restart(2);
    await cluster.waitForPartition(topic, 0, (state) => state.isr.includes(2), 'broker 2 back in the ISR of the log of payments', 30_000);
  });
  test('basic.get, queue.purge and the counts of a passive declare through a broker that does not serve the queue are answered by the one that does', async () => {
    const queue = 'tickets';
    const serving = await connectAmqp(cluster.broker(1));
    const other = await connectAmqp(cluster.broker(3));
    try {
      const channel = await serving.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      await cluster.waitForPartition(queueTopicName(await storageIdOf(cluster, queue)), 0, (state) => state.leader === 1, 'the log of tickets led by broker 1');
      // The first through broker 3, forwarded to broker 1, published (as amqplib does) with an empty headers table.
      await waitForQueue(other, queue, 'broker 3');
      assert.equal(await publishConfirmed(await other.createConfirmChannel(), queue, 't0'), 'ack');
      for (let index = 1; index < 5; index++) assert.equal(await publishConfirmed(channel, queue, `t${index}`), 'ack');

      const through = await openChannel(other);
      assert.deepEqual(await through.checkQueue(queue), { queue, messageCount: 5, consumerCount: 0 });
      const first = await through.get(queue);
      assert.ok(first !== false);
      assert.equal(first.content.toString(), 't0');
      assert.equal(first.fields.messageCount, 4, 'get-ok counts what is left where the queue is served');
      // Forwarded with the publisher's properties byte for byte: its empty headers table is still there.
      assert.deepEqual(first.properties.headers, {});
      through.ack(first);
      const second = await through.get(queue);
      assert.ok(second !== false);
      assert.equal(second.content.toString(), 't1');
      assert.equal(second.fields.redelivered, false);
      through.nack(second, false, true);
      const again = await through.get(queue);
      assert.ok(again !== false);
      assert.equal(again.content.toString(), 't1');
      assert.equal(again.fields.redelivered, true);
      through.ack(again);
      // The admin API of either broker shows the counts where the queue is served, and takes its messages from there.
      for (const nodeId of [3, 1]) {
        const shown = (await adminApi(cluster, nodeId, `/api/queues/%2F/${queue}`)) as { messages_ready: number; served_here: boolean; served_by: number | null };
        assert.deepEqual({ ready: shown.messages_ready, servedHere: shown.served_here, servedBy: shown.served_by }, { ready: 3, servedHere: nodeId === 1, servedBy: 1 }, `queue as broker ${nodeId} shows it`);
      }
      // osprey queue list through broker 3 says which broker serves it.
      const listed = await osprey(cluster.broker(3), ['queue', 'list', '--http-address', `127.0.0.1:${String(cluster.broker(3).httpPort)}`], { noBrokersFlag: true });
      assertSucceeded(listed);
      assert.match(listed.stdout, /SERVED BY/);
      assert.match(listed.stdout, new RegExp(`^${queue} .* broker 1 `, 'm'));
      const peeked = (await adminApi(cluster, 3, `/api/queues/%2F/${queue}/get`, { count: 1, ackmode: 'ack_requeue_true' })) as Array<{ payload: string }>;
      assert.deepEqual(
        peeked.map((message) => message.payload),
        ['t2'],
      );
      assert.equal((await through.purgeQueue(queue)).messageCount, 3);
      assert.deepEqual(await through.checkQueue(queue), { queue, messageCount: 0, consumerCount: 0 });
      // Where the queue is served, nothing is left either.
      assert.equal(await (await openChannel(serving)).get(queue), false);
    } finally {
      await other.close();
      await serving.close();
    }
  });
  test('messages a broker only buffered for its consumers go back uncounted when they leave: x-delivery-limit does not drop them', async () => {
    const queue = 'limited';
    const serving = await connectAmqp(cluster.broker(1));
    try {
      const channel = await serving.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-delivery-limit': 1 } });
      await cluster.waitForPartition(queueTopicName(await storageIdOf(cluster, queue)), 0, (state) => state.leader === 1, 'the log of limited led by broker 1');
      for (let index = 0; index < 50; index++) assert.equal(await publishConfirmed(channel, queue, `l${index}`), 'ack');
      // Three times: a consumer on broker 3 takes and acks 5 (broker 3 holds more than that from
      // broker 1, up to its link window), then leaves, and broker 3 gives back what it held.
      for (let round = 0; round < 3; round++) {
        const through = await connectAmqp(cluster.broker(3));
        try {
          const consumer = await openChannel(through);
          await consumer.prefetch(5);
          const got: string[] = [];
          let done: () => void = () => undefined;
          const five = new Promise<void>((resolve) => (done = resolve));
          const { consumerTag } = await consumer.consume(queue, (message) => {
            if (message === null || got.length >= 5) return;
            got.push(message.content.toString());
            consumer.ack(message);
            if (got.length === 5) done();
          });
          await five;
          assert.deepEqual(
            got,
            Array.from({ length: 5 }, (_, index) => `l${round * 5 + index}`),
          );
          await consumer.cancel(consumerTag);
        } finally {
          await through.close();
        }
        await waitUntil(async () => (await (await openChannel(serving)).checkQueue(queue)).messageCount === 50 - (round + 1) * 5, `broker 1 holding the ${50 - (round + 1) * 5} not acknowledged after round ${round + 1}`);
      }
      // With each give-back counted as a return, the held ones would have passed the limit of 1 in the second round and been dropped.
      const { received } = await consumeUntil(serving, queue, (got) => got.length >= 35);
      assert.deepEqual(
        received.map((message) => message.content.toString()),
        Array.from({ length: 35 }, (_, index) => `l${15 + index}`),
      );
    } finally {
      await serving.close();
    }
  });
  test('a priority queue is replicated too: published through a broker that does not serve it, consumed highest priority first; after kill -9 of the serving broker the new one goes on in priority order with every message not acknowledged', { timeout: 120_000 }, async () => {
    const queue = 'jobs';
    const maxPriority = 5;
    // Message i: no priority property (i % 7 = 0), priority 1 … 5, or 9 (above the maximum: counted as 5).
    const priorityOf = (index: number): number | undefined => (index % 7 === 0 ? undefined : index % 7 === 6 ? 9 : index % 7);
    const levelOf = (index: number): number => Math.min(priorityOf(index) ?? 0, maxPriority);
    const total = 70;
    // Highest level first, publish order within a level.
    const expected = Array.from({ length: total }, (_, index) => index)
      .sort((left, right) => levelOf(right) - levelOf(left) || left - right)
      .map((index) => `j${index}`);

    const declaring = await connectAmqp(cluster.broker(3));
    let topic: string;
    try {
      const channel = await openChannel(declaring);
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-max-priority': maxPriority } });
      topic = queueTopicName(await storageIdOf(cluster, queue));
      await cluster.waitForPartition(topic, 0, (state) => state.leader === 3 && state.isr.length === 3, 'the log of the priority queue on three brokers, led by broker 3');
    } finally {
      await declaring.close();
    }

    const publisher = await connectAmqp(cluster.broker(1));
    try {
      await waitForQueue(publisher, queue, 'broker 1');
      const channel = await publisher.createConfirmChannel();
      const confirms = await Promise.all(
        Array.from({ length: total }, (_, index) => {
          const priority = priorityOf(index);
          return publishConfirmed(channel, queue, `j${index}`, priority === undefined ? {} : { priority });
        }),
      );
      assert.deepEqual(
        confirms.filter((answer) => answer !== 'ack'),
        [],
      );
    } finally {
      await publisher.close();
    }

    // Ten taken one at a time (prefetch 1) and acknowledged where the queue is served.
    const serving = await connectAmqp(cluster.broker(3));
    serving.on('error', () => undefined);
    try {
      const consumer = await openChannel(serving);
      await consumer.prefetch(1);
      const got: string[] = [];
      let done: () => void = () => undefined;
      const ten = new Promise<void>((resolve) => (done = resolve));
      await consumer.consume(queue, (message) => {
        if (message === null || got.length >= 10) return;
        got.push(message.content.toString());
        consumer.ack(message);
        if (got.length === 10) done();
      });
      await ten;
      assert.deepEqual(got, expected.slice(0, 10));
      await openChannel(serving).then((probe) => probe.checkQueue(queue));
      // The acks go into the queue's log as state batches; given time to reach the followers, they must hold there.
      await sleep(2000);
    } finally {
      await cluster.broker(3).kill9();
    }

    const moved = await cluster.waitForPartition(topic, 0, (state) => state.leader === 1 || state.leader === 2, 'a follower serving the priority queue after broker 3 died', 30_000);
    const after = await connectAmqp(cluster.broker(moved.leader));
    try {
      const { received, ack } = await consumeUntil(after, queue, (got) => got.length >= total - 10);
      await sleep(300); // nothing more may come: the first ten were settled
      assert.deepEqual(
        received.map((message) => message.content.toString()),
        expected.slice(10),
      );
      for (const message of received) ack(message);
      await openChannel(after).then((probe) => probe.checkQueue(queue));
    } finally {
      await after.close();
    }
    await cluster.restart(3);
    await cluster.waitForPartition(topic, 0, (state) => state.isr.includes(3), 'broker 3 back in the ISR of the priority queue\'s log', 30_000);
  });
  test('exclusive consumers hold across brokers: one through a broker that does not serve the queue keeps consumers on every broker out, and none is admitted while the queue has consumers elsewhere', async () => {
    const queue = 'exclusive.work';
    const connections: Awaited<ReturnType<typeof connectAmqp>>[] = [];
    const connectTo = async (nodeId: number) => {
      const connection = await connectAmqp(cluster.broker(nodeId));
      connection.on('error', () => undefined);
      connections.push(connection);
      return connection;
    };
    /** basic.consume on `connection`: 'ok' (the consumer stays, with what it gets), or the code the channel was closed with. */
    const consumeOn = async (connection: Awaited<ReturnType<typeof connectAmqp>>, exclusive: boolean, got: string[] = []): Promise<'ok' | number> => {
      const channel = await openChannel(connection);
      channel.on('error', () => undefined);
      try {
        await channel.consume(queue, (message) => message !== null && got.push(message.content.toString()), { exclusive, noAck: true });
        return 'ok';
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'number') return code;
        throw error;
      }
    };
    const consumeThrough = async (nodeId: number, exclusive: boolean): Promise<'ok' | number> => consumeOn(await connectTo(nodeId), exclusive);
    try {
      const declaring = await connectTo(1);
      await (await openChannel(declaring)).assertQueue(queue, { durable: true });
      await cluster.waitForPartition(queueTopicName(await storageIdOf(cluster, queue)), 0, (state) => state.leader === 1, 'the log of exclusive.work led by broker 1');
      for (const nodeId of [2, 3]) {
        const probing = await connectTo(nodeId);
        await waitForQueue(probing, queue, `broker ${nodeId}`);
      }

      // Exclusive through broker 3: consumers through broker 1 (serving) and broker 2 are refused.
      const got: string[] = [];
      const holder = await connectTo(3);
      assert.equal(await consumeOn(holder, true, got), 'ok');
      assert.equal(await consumeThrough(1, false), 403, 'a consumer where the queue is served');
      assert.equal(await consumeThrough(2, false), 403, 'a consumer through a third broker');
      assert.equal(await consumeThrough(2, true), 403, 'an exclusive consumer through a third broker');
      assert.equal(await publishConfirmed(await (await connectTo(2)).createConfirmChannel(), queue, 'for the exclusive one'), 'ack');
      await waitUntil(() => Promise.resolve(got.includes('for the exclusive one')), 'the exclusive consumer on broker 3 getting the message');

      // Broker 3's consumer gone: a consumer through broker 1 is admitted, and then no exclusive one through broker 2.
      await holder.close();
      await waitUntil(async () => (await consumeThrough(1, false)) === 'ok', 'a consumer on broker 1 once the exclusive one left');
      assert.equal(await consumeThrough(2, true), 403, 'an exclusive consumer while broker 1 has one');
    } finally {
      for (const connection of connections) await connection.close().catch(() => undefined);
    }
  });
  test('a prefetch-1 consumer through a broker that does not serve the queue takes one message at a time, leaving the rest to consumers where it is served', async () => {
    const queue = 'work.fair';
    const serving = await connectAmqp(cluster.broker(1));
    const through = await connectAmqp(cluster.broker(2));
    try {
      const channel = await serving.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      await cluster.waitForPartition(queueTopicName(await storageIdOf(cluster, queue)), 0, (state) => state.leader === 1, 'the log of work.fair led by broker 1');
      for (let index = 0; index < 20; index++) assert.equal(await publishConfirmed(channel, queue, `w${index}`), 'ack');
      await waitForQueue(through, queue, 'broker 2');

      /** A worker with prefetch 1 that holds what it gets (no ack). */
      const worker = async (connection: Awaited<ReturnType<typeof connectAmqp>>): Promise<string[]> => {
        const workerChannel = await openChannel(connection);
        await workerChannel.prefetch(1);
        const got: string[] = [];
        await workerChannel.consume(queue, (message) => message !== null && got.push(message.content.toString()));
        return got;
      };
      const remote = await worker(through);
      await waitUntil(() => Promise.resolve(remote.length === 1), 'the worker on broker 2 getting a message');
      await sleep(500);
      assert.deepEqual(remote, ['w0']);
      // Broker 2 holds only what its worker holds: the other 19 are still ready where the queue is served.
      assert.equal((await (await openChannel(serving)).checkQueue(queue)).messageCount, 19);
      const local = await worker(serving);
      await waitUntil(() => Promise.resolve(local.length === 1), 'the worker on broker 1 getting a message');
      assert.deepEqual(local, ['w1']);
    } finally {
      await through.close();
      await serving.close();
    }
  });
  test('a priority queue consumed through a broker that does not serve it, by a prefetch-1 consumer attached before the publishes: higher priorities overtake what waits', async () => {
    const queue = 'jobs.live';
    const serving = await connectAmqp(cluster.broker(1));
    const consuming = await connectAmqp(cluster.broker(3));
    const publishing = await connectAmqp(cluster.broker(2));
    let closing = false;
    try {
      await (await openChannel(serving)).assertQueue(queue, { durable: true, arguments: { 'x-max-priority': 9 } });
      await cluster.waitForPartition(queueTopicName(await storageIdOf(cluster, queue)), 0, (state) => state.leader === 1, 'the log of jobs.live led by broker 1');
      for (const connection of [consuming, publishing]) await waitForQueue(connection, queue, 'brokers 2 and 3');

      // A slow worker on broker 3: prefetch 1, each message acked 30 ms after it came.
      const channel = await openChannel(consuming);
      await channel.prefetch(1);
      const got: string[] = [];
      await channel.consume(queue, (message) => {
        if (message === null) return;
        got.push(message.content.toString());
        setTimeout(() => {
          if (!closing) channel.ack(message);
        }, 30);
      });
      // 20 of priority 1 through broker 2; once they are confirmed and the worker is busy, 20 of priority 9.
      const confirm = await publishing.createConfirmChannel();
      const publish = async (prefix: string, priority: number): Promise<void> => {
        const confirms = await Promise.all(Array.from({ length: 20 }, (_, index) => publishConfirmed(confirm, queue, `${prefix}${index}`, { priority })));
        assert.deepEqual(
          confirms.filter((answer) => answer !== 'ack'),
          [],
          `every ${prefix} message confirmed`,
        );
      };
      await publish('low', 1);
      await sleep(200);
      await publish('high', 9);
      await waitUntil(() => Promise.resolve(got.length === 40), 'all 40 consumed through broker 3', 30_000, () => got.join(' '));
      // The worker holds one message at a time and broker 3 no more than that, so the high ones
      // overtake the low ones still waiting where the queue is served: only the few low ones taken
      // before the high ones came go first (one every 30 ms).
      const firstHigh = got.findIndex((body) => body.startsWith('high'));
      const lastHigh = got.length - 1 - [...got].reverse().findIndex((body) => body.startsWith('high'));
      assert.ok(firstHigh <= 15 && lastHigh - firstHigh === 19, `the high ones together, before the low ones left: ${got.join(' ')}`);
    } finally {
      closing = true;
      for (const connection of [publishing, consuming, serving]) await connection.close();
    }
  });
});
