/**
 * Leader epochs and follower truncation (docs/cluster.md, "Replication"), on a real etcd and three
 * real broker processes: a leader stamps its leader epoch from etcd on every stored batch;
 * OffsetForLeaderEpoch answers where each epoch ends; and a former leader that comes back with
 * records acknowledged only with acks=1 (never replicated) cuts them away, then holds exactly the
 * new leader's log.
 *
 *   broker 1 (leader, epoch 0):  a0 a1 a2 a3 a4 | x0 x1 x2      x*: acks=1 while broker 2 was paused
 *   broker 2 (follower):         a0 a1 a2 a3 a4                  kill -9 of 1; 2 leads in epoch 1
 *   broker 2 (leader, epoch 1):  a0 a1 a2 a3 a4 | b0 b1
 *   broker 1 back:               asks where epoch 0 ends (5), cuts x0 x1 x2, fetches b0 b1
 *
 * A follower that fell out of the ISR while the leader deleted records past its whole log finds its
 * fetch offset out of range, and starts again, empty, at the leader's log start.
 *
 * Oracles: etcd's partition keys, the raw Fetch answers (each stored batch's partitionLeaderEpoch),
 * raw OffsetForLeaderEpoch answers, and what broker 1 serves once it leads again (broker 2 stopped).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import { batchTotalBytes, readBaseOffset, readPartitionLeaderEpoch } from '../../src/protocol/kafka/batch-header.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../src/protocol/kafka/messages/delete-records.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from '../../src/protocol/kafka/messages/offset-for-leader-epoch.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { readPartitionValues } from '../helpers/partition-reader.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const deleteRecordsApi = rawApi(deleteRecordsRequest, deleteRecordsResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const offsetForLeaderEpochApi = rawApi(offsetForLeaderEpochRequest, offsetForLeaderEpochResponse);
const zeroTopicId = Buffer.alloc(16);
const topic = 'diverged';

describe('a three-broker cluster: leader epochs and truncation', () => {
  let cluster: TestCluster;
  const broker = (nodeId: number): BrokerProcess => cluster.broker(nodeId);

  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  const waitForState = (accept: (state: PartitionRecord) => boolean, what: string): Promise<PartitionRecord> => cluster.waitForPartition(topic, 0, accept, what);

  async function produce(nodeId: number, acks: number, value: string, name = topic): Promise<bigint> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(produceApi, 9, { acks, timeoutMs: 5000, transactionalId: null, topicData: [{ name, topicId: zeroTopicId, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(value) }]) }] }] }),
    );
    const partition = answer.responses[0]?.partitionResponses[0];
    assert.equal(partition?.errorCode, ErrorCode.none, `produce ${value} to broker ${nodeId}`);
    return partition.baseOffset;
  }

  /** [baseOffset, partitionLeaderEpoch] of every batch the leader serves a consumer. */
  async function storedEpochs(nodeId: number, name = topic, fetchOffset = 0n): Promise<Array<[number, number]>> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(fetchApi, 12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1_000_000,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: name, topicId: zeroTopicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, partitionMaxBytes: 1_000_000 }] }],
        forgottenTopicsData: [],
        rackId: '',
      }),
    );
    const partition = answer.responses[0]?.partitions[0];
    assert.equal(partition?.errorCode, ErrorCode.none, `fetch from broker ${nodeId}`);
    const records = partition.records ?? Buffer.alloc(0);
    const batches: Array<[number, number]> = [];
    for (let at = 0; at < records.length; at += batchTotalBytes(records, at)) batches.push([readBaseOffset(records, at), readPartitionLeaderEpoch(records, at)]);
    return batches;
  }

  /** OffsetForLeaderEpoch for each requested epoch: [errorCode, leaderEpoch, endOffset]. */
  async function epochEnds(nodeId: number, currentLeaderEpoch: number, epochs: readonly number[]): Promise<Array<[number, number, bigint]>> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(offsetForLeaderEpochApi, 4, {
        replicaId: -1,
        topics: [{ topic, partitions: epochs.map((leaderEpoch) => ({ partition: 0, currentLeaderEpoch, leaderEpoch })) }],
      }),
    );
    return answer.topics.flatMap((answered) => answered.partitions.map((partition): [number, number, bigint] => [partition.errorCode, partition.leaderEpoch, partition.endOffset]));
  }

  function readValues(nodeId: number): Promise<string[]> {
    return readPartitionValues(broker(nodeId).bootstrap, topic, 0, 'osprey-truncation-reader');
  }

  test('a returning leader cuts its unreplicated acks=1 tail, holds exactly the new leader\'s log, and stored batches carry their leader epochs', async () => {
    const created = await withConnection(broker(1), (connection) =>
      connection.call(createTopicsApi, 7, { topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }], configs: [] }], timeoutMs: 10_000, validateOnly: false }),
    );
    assert.equal(created.topics[0]?.errorCode, ErrorCode.none);
    await waitForState((state) => state.isr.length === 2, 'broker 2 to join the ISR');
    const replicated = ['a0', 'a1', 'a2', 'a3', 'a4'];
    for (const value of replicated) await produce(1, -1, value);
    assert.deepEqual(await storedEpochs(1), [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]], 'epoch 0 on every batch');

    // Broker 2 stops fetching while etcd still counts it in sync; three acks=1 records reach broker 1 only, which dies at once.
    process.kill(broker(2).pid, 'SIGSTOP');
    try {
      for (const value of ['x0', 'x1', 'x2']) await produce(1, 1, value);
      await broker(1).kill9();
    } finally {
      process.kill(broker(2).pid, 'SIGCONT');
    }
    const moved = await waitForState((state) => state.leader === 2, 'broker 2 to lead');
    assert.equal(moved.leaderEpoch, 1);
    // The paused follower may have taken x0 (the answer to the fetch it had waiting at the leader,
    // read once it resumed); never x1 or x2. What it holds now is what every replica must end with.
    let seen: unknown = null;
    await waitUntil(
      async () => {
        seen = await storedEpochs(2).catch((error: unknown) => String(error));
        return Array.isArray(seen) && seen.length >= 5;
      },
      'broker 2 to serve as leader',
      20_000,
      () => `last answer: ${JSON.stringify(seen)}\n${broker(2).logs().slice(-4000)}`,
    );
    const kept = (await readValues(2)).slice(5);
    assert.ok(kept.length <= 1 && kept.every((value) => value === 'x0'), `broker 2 holds ${JSON.stringify(kept)} past the replicated records`);
    const epoch1Start = 5 + kept.length;
    assert.equal(await produce(2, 1, 'b0'), BigInt(epoch1Start));
    assert.equal(await produce(2, 1, 'b1'), BigInt(epoch1Start + 1));
    const expectedEpochs: Array<[number, number]> = [...Array.from({ length: epoch1Start }, (_, offset): [number, number] => [offset, 0]), [epoch1Start, 1], [epoch1Start + 1, 1]];
    const expectedValues = [...replicated, ...kept, 'b0', 'b1'];
    assert.deepEqual(await storedEpochs(2), expectedEpochs, 'the new leader stamps its epoch from etcd');
    assert.deepEqual(
      await epochEnds(2, 1, [0, 1, 2, -1]),
      [
        [ErrorCode.none, 0, BigInt(epoch1Start)],
        [ErrorCode.none, 1, BigInt(epoch1Start + 2)],
        [ErrorCode.none, -1, -1n],
        [ErrorCode.none, -1, -1n],
      ],
      'epoch 0 ends where epoch 1 starts; epoch 1 at the log end; later and negative epochs are undefined',
    );
    assert.deepEqual(
      (await epochEnds(2, 0, [1])).concat(await epochEnds(2, 2, [1])),
      [
        [ErrorCode.fencedLeaderEpoch, -1, -1n],
        [ErrorCode.unknownLeaderEpoch, -1, -1n],
      ],
    );

    // Broker 1 comes back with x0 x1 x2 at offsets 5-7 in epoch 0: it must cut them and fetch b0 b1.
    await cluster.restart(1);
    await waitForState((state) => state.leader === 2 && state.isr.includes(1), 'broker 1 to catch up and rejoin the ISR');
    assert.deepEqual((await epochEnds(1, -1, [0]))[0]?.[0], ErrorCode.notLeaderOrFollower, 'a follower does not answer');
    assert.match(broker(1).logs(), /replica log truncated/, 'broker 1 reports the truncation');

    // Broker 1 leads again (broker 2 stopped): its log is exactly broker 2's.
    await broker(2).stop();
    const back = await waitForState((state) => state.leader === 1, 'broker 1 to lead again');
    assert.equal(back.leaderEpoch, 2);
    await waitUntil(async () => (await storedEpochs(1).catch(() => [])).length === expectedEpochs.length, 'broker 1 to serve as leader', 20_000);
    assert.deepEqual(await storedEpochs(1), expectedEpochs);
    assert.deepEqual(await readValues(1), expectedValues);
    const end = epoch1Start + 2;
    assert.equal(await produce(1, 1, 'c0'), BigInt(end));
    assert.deepEqual((await storedEpochs(1)).at(-1), [end, 2]);
    assert.deepEqual(await epochEnds(1, 2, [0, 1, 2]), [
      [ErrorCode.none, 0, BigInt(epoch1Start)],
      [ErrorCode.none, 1, BigInt(end)],
      [ErrorCode.none, 2, BigInt(end + 1)],
    ]);
  });
  test('a follower whose whole log lies below the leader\'s log start restarts empty there and catches up', async () => {
    // Runs after the test above: broker 2 is stopped, broker 1 leads; brokers 1 and 3 hold this topic.
    const name = 'behind';
    const created = await withConnection(broker(1), (connection) =>
      connection.call(createTopicsApi, 7, { topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 3] }], configs: [] }], timeoutMs: 10_000, validateOnly: false }),
    );
    assert.equal(created.topics[0]?.errorCode, ErrorCode.none);
    await cluster.waitForPartition(name, 0, (state) => state.isr.length === 2, 'broker 3 to join the ISR');
    for (const value of ['a0', 'a1', 'a2']) await produce(1, -1, value, name);

    // Broker 3 pauses long enough to leave the ISR; meanwhile the leader moves on and deletes records past broker 3's log end.
    process.kill(broker(3).pid, 'SIGSTOP');
    try {
      await cluster.waitForPartition(name, 0, (state) => !state.isr.includes(3), 'the paused follower to leave the ISR');
      for (const value of ['b0', 'b1', 'b2', 'b3', 'b4']) await produce(1, 1, value, name);
      const deleted = await withConnection(broker(1), (connection) => connection.call(deleteRecordsApi, 2, { topics: [{ name, partitions: [{ partitionIndex: 0, offset: 6n }] }], timeoutMs: 5000 }));
      assert.deepEqual(deleted.topics[0]?.partitions.map((partition) => [partition.errorCode, partition.lowWatermark]), [[ErrorCode.none, 6n]]);
    } finally {
      process.kill(broker(3).pid, 'SIGCONT');
    }
    await cluster.waitForPartition(name, 0, (state) => state.isr.includes(3), 'broker 3 to catch up and rejoin the ISR', 30_000);
    assert.match(broker(3).logs(), /restarted empty there/, 'broker 3 reports the restart');

    // Broker 3 leads (broker 1 stopped): it serves the leader's log from offset 6.
    await broker(1).stop();
    await cluster.waitForPartition(name, 0, (state) => state.leader === 3, 'broker 3 to lead');
    await waitUntil(async () => (await storedEpochs(3, name, 6n).catch(() => [])).length === 2, 'broker 3 to serve as leader', 20_000);
    assert.deepEqual((await storedEpochs(3, name, 6n)).map(([offset]) => offset), [6, 7]);
    const fromStart = await withConnection(broker(3), (connection) =>
      connection.call(fetchApi, 12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1_000_000,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: name, topicId: zeroTopicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, partitionMaxBytes: 1_000_000 }] }],
        forgottenTopicsData: [],
        rackId: '',
      }),
    );
    const answered = fromStart.responses[0]?.partitions[0];
    assert.equal(answered?.errorCode, ErrorCode.offsetOutOfRange, 'nothing below the log start');
  });
});
