/**
 * Replication (docs/cluster.md, "Replication"), on a real etcd and three real broker processes:
 * followers fetch from the leader, the ISR grows to every caught-up replica (in etcd), KafkaJS's
 * acks=all is answered once every in-sync replica holds the batch, consumers never get past the
 * smallest log end among the ISR (a paused follower holds the high watermark back until its
 * broker counts as gone), and records acknowledged with acks=all survive kill -9 of the leader.
 *
 * Oracles: etcd's partition keys read directly, ListOffsets and Fetch answers of the leaders, and
 * what every replica serves once it leads (the others stopped): each follower's own log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { readPartitionValues } from '../helpers/partition-reader.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel } = kafkajs;

const produceApi = rawApi(produceRequest, produceResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const zeroTopicId = Buffer.alloc(16);
describe('a three-broker cluster: replication', () => {
  let cluster: TestCluster;
  const broker = (nodeId: number): BrokerProcess => cluster.broker(nodeId);

  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  const waitForState = (topic: string, accept: (state: PartitionRecord) => boolean, what: string): Promise<PartitionRecord> => cluster.waitForPartition(topic, 0, accept, what);

  async function create(topic: string, replicas: number[]): Promise<void> {
    await cluster.createTopic(topic, [replicas], 1);
  }

  async function latestOffset(nodeId: number, topic: string): Promise<bigint> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(listOffsetsApi, 10, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }], timeoutMs: 5000 }),
    );
    const partition = answer.topics[0]?.partitions[0];
    assert.equal(partition?.errorCode, ErrorCode.none, `ListOffsets on broker ${nodeId}`);
    return partition.offset;
  }

  async function produceRaw(nodeId: number, topic: string, acks: number, value: string): Promise<{ errorCode: number; baseOffset: bigint }> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(produceApi, 9, { acks, timeoutMs: 5000, transactionalId: null, topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(value) }]) }] }] }),
    );
    const partition = answer.responses[0]?.partitionResponses[0];
    assert.ok(partition);
    return { errorCode: partition.errorCode, baseOffset: partition.baseOffset };
  }

  function readValues(bootstrapNodeId: number, topic: string): Promise<string[]> {
    return readPartitionValues(broker(bootstrapNodeId).bootstrap, topic, 0, 'osprey-replication-reader');
  }

  test('RF 3: the ISR grows to all three in etcd; a paused follower holds the high watermark back until its broker counts as gone', async () => {
    await create('held-back', [1, 2, 3]);
    const grown = await waitForState('held-back', (state) => state.isr.length === 3, 'the ISR to grow to every replica');
    assert.deepEqual([...grown.isr].sort(), [1, 2, 3]);
    assert.equal(grown.leader, 1);
    assert.equal(grown.leaderEpoch, 0, 'growing the ISR keeps the leader epoch');
    assert.equal(grown.partitionEpoch, 2, 'one write per follower added');

    assert.equal((await produceRaw(1, 'held-back', -1, 'everywhere')).errorCode, ErrorCode.none);
    assert.equal(await latestOffset(1, 'held-back'), 1n);

    // Broker 3 stops fetching (SIGSTOP) while etcd still counts it in sync: a record acknowledged
    // with acks=1 is on the leader, but the high watermark stays below it.
    process.kill(broker(3).pid, 'SIGSTOP');
    try {
      const produced = await produceRaw(1, 'held-back', 1, 'only on two');
      assert.equal(produced.errorCode, ErrorCode.none);
      assert.equal(produced.baseOffset, 1n);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await latestOffset(1, 'held-back'), 1n, 'the high watermark waits for the paused follower');
      // Its lease lapses: the controller drops it from the ISR and the high watermark moves on.
      const shrunk = await waitForState('held-back', (state) => !state.isr.includes(3), 'the paused follower to leave the ISR');
      assert.deepEqual([...shrunk.isr].sort(), [1, 2]);
      await waitUntil(async () => (await latestOffset(1, 'held-back')) === 2n, 'the high watermark to pass the record');
    } finally {
      process.kill(broker(3).pid, 'SIGCONT');
    }
    // Back: it registers again, catches up and joins the ISR again.
    await waitForState('held-back', (state) => state.isr.length === 3, 'the resumed follower to rejoin the ISR');
  });

  test('KafkaJS acks=all: every follower holds the records (each read once it leads), and kill -9 of the leader loses nothing acknowledged', async () => {
    await create('replicated', [1, 2, 3]);
    await waitForState('replicated', (state) => state.isr.length === 3, 'the ISR to grow to every replica');
    const kafka = new Kafka({ clientId: 'osprey-replication', brokers: [broker(1).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const expected: string[] = [];
    try {
      for (let round = 0; round < 10; round++) {
        const messages = Array.from({ length: 20 }, (_, index) => ({ key: `key-${index}`, value: `r${round}-m${index}` }));
        const answers = await producer.send({ topic: 'replicated', acks: -1, messages });
        assert.equal(answers[0]?.errorCode, 0);
        expected.push(...messages.map((message) => message.value));
      }
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(await readValues(2, 'replicated'), expected, 'read from the leader, broker 1');

    // kill -9 of the leader right after acks=all: the new leader (from the ISR) has every record.
    await broker(1).kill9();
    const moved = await waitForState('replicated', (state) => state.leader !== 1 && state.leader !== -1, 'a new leader');
    assert.ok([2, 3].includes(moved.leader));
    assert.deepEqual([...moved.isr].sort(), [2, 3]);
    const other = moved.leader === 2 ? 3 : 2;
    await waitUntil(async () => (await latestOffset(moved.leader, 'replicated')) === BigInt(expected.length), 'the new leader to serve every record', 20_000);
    assert.deepEqual(await readValues(other, 'replicated'), expected, `read from the new leader, broker ${moved.leader}`);

    // A follower's fetch naming another leader epoch is fenced: older FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
    const followerFetch = async (currentLeaderEpoch: number) => {
      const answer = await withConnection(broker(moved.leader), (connection) =>
        connection.call(fetchApi, 12, {
          replicaId: other,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1_000_000,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: 'replicated', topicId: zeroTopicId, partitions: [{ partition: 0, currentLeaderEpoch, fetchOffset: 0n, partitionMaxBytes: 1_000_000 }] }],
          forgottenTopicsData: [],
          rackId: '',
        }),
      );
      return answer.responses[0]?.partitions[0]?.errorCode;
    };
    assert.equal(moved.leaderEpoch, 1);
    assert.equal(await followerFetch(0), ErrorCode.fencedLeaderEpoch);
    assert.equal(await followerFetch(2), ErrorCode.unknownLeaderEpoch);
    assert.equal(await followerFetch(1), ErrorCode.none);

    // Stop the new leader too (SIGTERM): the last replica leads, and serves the same records from its own log.
    await broker(moved.leader).stop();
    await waitForState('replicated', (state) => state.leader === other, `broker ${other} to lead`);
    await waitUntil(async () => (await latestOffset(other, 'replicated')) === BigInt(expected.length), 'the last replica to serve every record', 20_000);
    assert.deepEqual(await readValues(other, 'replicated'), expected, `read from broker ${other}`);
  });
});
