/**
 * The AMQP side of a cluster broker writing into Kafka topics (docs/cluster.md, "AMQP in a
 * cluster"), on a real etcd and three real broker processes with their AMQP and HTTP listeners:
 * a stream queue adopts a topic created with CreateTopics, on its leader only (a follower and a
 * broker holding no replica refuse the declaration, and no broker creates a topic for one), and
 * its publisher confirms wait for every in-sync replica (a paused follower holds them back until
 * it leaves the ISR); an
 * exchange bound to a topic (osprey exchange bind-topic) appends only on the leader (the others
 * nack the publish; a topic feed is refused there too), so that after kill -9 of the leader the follower taking over holds exactly the
 * leader's records, and appends in its own leader epoch; the old leader, restarted, restores its
 * queue and binding without an error and nacks while it follows.
 *
 * Oracles: amqplib's publisher confirms and channel errors, the leader's raw Fetch answers (the
 * records and each stored batch's partitionLeaderEpoch) and etcd's partition records.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfirmChannel } from 'amqplib';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { readPartitionLeaderEpoch } from '../../src/protocol/kafka/batch-header.js';
import { decodeRecordBatches, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { connectAmqp, openChannel } from '../helpers/amqp-client.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { assertFailed, assertSucceeded, osprey, type OspreyResult } from '../helpers/osprey-cli.js';
import { recordBatchTotalBytes } from '../../src/protocol/kafka/records.js';
import { waitUntil } from '../helpers/waiting.js';

const fetchApi = rawApi(fetchRequest, fetchResponse);
const zeroTopicId = Buffer.alloc(16);
const streamArguments = { 'x-queue-type': 'stream' };

function admin(broker: BrokerProcess, args: readonly string[]): Promise<OspreyResult> {
  assert.ok(broker.httpPort !== null);
  return osprey(broker, [...args, '--http-address', `127.0.0.1:${broker.httpPort}`], { noBrokersFlag: true });
}

/** The promise's outcome, or a rejection once `timeoutMs` passed (a declaration must be answered, not left waiting). */
function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Publishes one message through a confirm channel: 'ack' or 'nack'. */
function publishConfirmed(channel: ConfirmChannel, exchange: string, routingKey: string, body: string): Promise<'ack' | 'nack'> {
  return new Promise((resolve) => {
    channel.publish(exchange, routingKey, Buffer.from(body), { persistent: true }, (error: unknown) => resolve(error === null || error === undefined ? 'ack' : 'nack'));
  });
}

/** Waits until the broker serves partition 0 of `topic` to consumers (it learnt it leads it). */
async function waitUntilServed(broker: BrokerProcess, topic: string): Promise<void> {
  await waitUntil(async () => (await fetchPartition(broker, topic)).errorCode === ErrorCode.none, `${topic}-0 served by the new leader`);
}

async function fetchPartition(broker: BrokerProcess, topic: string): Promise<{ errorCode: number; records: Buffer }> {
  const answer = await withConnection(broker, (connection) =>
    connection.call(fetchApi, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1024 * 1024,
      forgottenTopicsData: [],
      topics: [{ topic, topicId: zeroTopicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, partitionMaxBytes: 1024 * 1024 }] }],
    }),
  );
  const partition = answer.responses[0]?.partitions[0];
  assert.ok(partition !== undefined);
  return { errorCode: partition.errorCode, records: partition.records ?? Buffer.alloc(0) };
}

/** The leader's records of partition 0 (values) and the partitionLeaderEpoch of each stored batch. */
async function leaderRecords(leader: BrokerProcess, topic: string): Promise<{ values: string[]; batchEpochs: number[] }> {
  const { errorCode, records: bytes } = await fetchPartition(leader, topic);
  assert.equal(errorCode, ErrorCode.none);
  const batchEpochs: number[] = [];
  for (let position = 0, total = recordBatchTotalBytes(bytes, 0); total !== null; position += total, total = recordBatchTotalBytes(bytes, position)) {
    batchEpochs.push(readPartitionLeaderEpoch(bytes, position));
  }
  const values = decodeRecordBatches(bytes).flatMap((batch) => batch.records.map((record) => record.value?.toString() ?? ''));
  return { values, batchEpochs };
}

describe('a three-broker cluster with AMQP: only the leader of a partition appends what AMQP publishes', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ extraArgs: () => ['--amqp-port', '0', '--http-port', '0'] });
    // Partition 0 on brokers 2 (leader) and 3 (follower); broker 1 holds no replica.
    await cluster.createTopic('bridged', [[2, 3]]);
    await cluster.createTopic('streamed', [[2, 3]]);
    for (const topic of ['bridged', 'streamed']) await cluster.waitForPartition(topic, 0, (state) => state.leader === 2 && state.isr.length === 2, `both replicas of ${topic} in sync`);
  });
  after(async () => {
    await cluster?.stop();
  });

  test('a stream queue adopts a topic created with CreateTopics on its leader only; a cluster broker creates no topic for one', async () => {
    for (const nodeId of [1, 3]) {
      const connection = await connectAmqp(cluster.broker(nodeId));
      try {
        const channel = await openChannel(connection);
        await assert.rejects(within(channel.assertQueue('streamed', { durable: true, arguments: streamArguments }), 10_000), /not led by this broker/, `broker ${nodeId}`);
      } finally {
        await connection.close().catch(() => undefined);
      }
    }
    const connection = await connectAmqp(cluster.broker(2));
    try {
      const refused = await openChannel(connection);
      await assert.rejects(refused.assertQueue('not-created', { durable: true, arguments: streamArguments }), /topic 'not-created' does not exist; in a cluster, create it first/);
      const channel = await openChannel(connection);
      await channel.assertQueue('streamed', { durable: true, arguments: streamArguments });
      const confirms = await connection.createConfirmChannel();
      assert.equal(await publishConfirmed(confirms, '', 'streamed', 'stream record'), 'ack');
      // The confirm means every in-sync replica holds it (acks=all): consumers of the leader see it.
      assert.deepEqual((await leaderRecords(cluster.broker(2), 'streamed')).values, ['stream record']);

      // A paused follower in the ISR holds the confirm back until it leaves the ISR.
      const follower = cluster.broker(3);
      process.kill(follower.pid, 'SIGSTOP');
      try {
        let confirmed: 'ack' | 'nack' | null = null;
        const startedMs = Date.now();
        const pending = publishConfirmed(confirms, '', 'streamed', 'while the follower is paused').then((answer) => (confirmed = answer));
        await sleep(500);
        assert.equal(confirmed, null, 'not confirmed while an in-sync replica lacks it');
        assert.deepEqual((await leaderRecords(cluster.broker(2), 'streamed')).values, ['stream record'], 'not served to consumers either');
        await cluster.waitForPartition('streamed', 0, (state) => !state.isr.includes(3), 'the paused follower to leave the ISR');
        assert.equal(await pending, 'ack');
        assert.ok(Date.now() - startedMs >= 500);
      } finally {
        process.kill(follower.pid, 'SIGCONT');
      }
    } finally {
      await connection.close();
    }
    assert.deepEqual((await leaderRecords(cluster.broker(2), 'streamed')).values, ['stream record', 'while the follower is paused']);
    for (const topic of ['bridged', 'streamed']) await cluster.waitForPartition(topic, 0, (state) => state.isr.length === 2, `the resumed follower back in the ISR of ${topic}`, 30_000);
    // Nothing was created outside etcd: broker 1 still holds no log of a 'not-created' topic.
    assert.equal(await cluster.partition('not-created', 0), null);
  });

  test('an exchange bound to a topic appends on the leader only: a follower and a broker without a replica nack the publish; after kill -9 of the leader the follower holds exactly its records, leads and appends in the new epoch', async () => {
    const publishThrough = async (nodeId: number, body: string) => {
      const connection = await connectAmqp(cluster.broker(nodeId));
      try {
        return await publishConfirmed(await connection.createConfirmChannel(), 'orders', '', body);
      } finally {
        await connection.close();
      }
    };
    const answers = new Map<number, 'ack' | 'nack'>();
    for (const nodeId of [1, 2, 3]) {
      const broker = cluster.broker(nodeId);
      assertSucceeded(await admin(broker, ['exchange', 'declare', 'orders', '--type', 'fanout']));
      assertSucceeded(await admin(broker, ['exchange', 'bind-topic', 'orders', 'bridged']));
      answers.set(nodeId, await publishThrough(nodeId, `through broker ${nodeId}`));
    }
    assert.deepEqual(Object.fromEntries(answers), { 1: 'nack', 2: 'ack', 3: 'nack' });
    // A topic feeding a queue reads it where it is led, and is refused elsewhere.
    for (const nodeId of [1, 2, 3]) {
      const broker = cluster.broker(nodeId);
      assertSucceeded(await admin(broker, ['queue', 'declare', 'fed']));
      const fed = await admin(broker, ['queue', 'feed-from-topic', 'fed', 'bridged']);
      if (nodeId === 2) assertSucceeded(fed);
      else assertFailed(fed, /partition 0 of topic 'bridged' is not led by this broker/);
    }
    const before = await cluster.partition('bridged', 0);
    assert.ok(before !== null && before.leader === 2);
    assert.deepEqual(await leaderRecords(cluster.broker(2), 'bridged'), { values: ['through broker 2'], batchEpochs: [before.leaderEpoch] });

    // The follower's copy is the leader's (a local append would have put another record into it):
    // seen once it leads.
    await cluster.broker(2).kill9();
    const after = await cluster.waitForPartition('bridged', 0, (state) => state.leader === 3, 'broker 3 to lead bridged-0');
    await waitUntilServed(cluster.broker(3), 'bridged');
    assert.deepEqual(await leaderRecords(cluster.broker(3), 'bridged'), { values: ['through broker 2'], batchEpochs: [before.leaderEpoch] });
    assert.equal(await publishThrough(3, 'through broker 3, leading'), 'ack');
    assert.deepEqual(await leaderRecords(cluster.broker(3), 'bridged'), { values: ['through broker 2', 'through broker 3, leading'], batchEpochs: [before.leaderEpoch, after.leaderEpoch] });
    assert.ok(after.leaderEpoch > before.leaderEpoch);

    // Broker 2 restarts (a follower now): its stream queue and binding are restored without an
    // error, and what it is sent goes nowhere until it leads again.
    const restarted = await cluster.restart(2);
    await cluster.waitForPartition('bridged', 0, (state) => state.isr.includes(2), 'the restarted broker back in the ISR');
    assert.doesNotMatch(restarted.logs(), /could not be opened|ERROR/);
    assert.equal(await publishThrough(2, 'through broker 2, following'), 'nack');
    const connection = await connectAmqp(restarted);
    try {
      assert.equal(await publishConfirmed(await connection.createConfirmChannel(), '', 'streamed', 'to a follower'), 'nack');
    } finally {
      await connection.close();
    }
    assert.deepEqual((await leaderRecords(cluster.broker(3), 'bridged')).values, ['through broker 2', 'through broker 3, leading']);
    assert.deepEqual((await leaderRecords(cluster.broker(3), 'streamed')).values, ['stream record', 'while the follower is paused']);
  });
});
