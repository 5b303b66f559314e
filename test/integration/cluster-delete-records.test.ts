/**
 * DeleteRecords waits for the followers (docs/cluster.md, "Replication"; KIP-107), on a real etcd
 * and three real broker processes: the leader moves its log start at once, each follower moves its
 * own when its Fetch answer names the leader's and names its new one in its next Fetch, and the
 * leader answers once the low watermark (the smallest log start among the in-sync replicas) reached
 * the offset.
 *
 *   DeleteRecords(offset 10) ─► leader: log start 10 ─┐
 *   follower 2: Fetch … logStartOffset 0 ◄── answer: leader's log start 10 → moves to 10
 *   follower 2: Fetch … logStartOffset 10 ─► leader: low watermark min(10, 10, 3's) …
 *   follower 3: likewise ─► low watermark 10 ─► DeleteRecords answered: lowWatermark 10
 *
 * Oracle: each broker's `log-start-offset` checkpoint (docs/storage-format.md), which a follower
 * writes before its next Fetch names the new log start; read the moment DeleteRecords is answered.
 * A follower paused with SIGSTOP stays in the ISR (the lease and replica.lag.time.max.ms outlast the
 * pause), so the answer times out until it resumes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../src/protocol/kafka/messages/delete-records.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';

const deleteRecordsApi = rawApi(deleteRecordsRequest, deleteRecordsResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const zeroTopicId = Buffer.alloc(16);
const topic = 'pruned';
const recordCount = 20;
/** ListOffsets' timestamp asking for the log start offset. */
const earliestTimestamp = -2n;

describe('a three-broker cluster: DeleteRecords waits for every in-sync replica', () => {
  let cluster: TestCluster;

  before(async () => {
    // A lease far longer than the pause below, so the paused broker stays registered and in the ISR.
    cluster = await startTestCluster({ leaseTtlSeconds: 30, extraArgs: () => ['--replica-lag-time-max-ms', '60000'] });
    await cluster.createTopic(topic, [[1, 2, 3]]);
    await cluster.waitForPartition(topic, 0, (state) => state.leader === 1 && state.isr.length === 3, 'every replica in the ISR');
    for (let index = 0; index < recordCount; index++) {
      const answer = await withConnection(cluster.broker(1), (connection) =>
        connection.call(produceApi, 9, {
          acks: -1,
          timeoutMs: 5000,
          transactionalId: null,
          topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(`record ${index}`) }]) }] }],
        }),
      );
      assert.equal(answer.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.none, `produce ${index}`);
    }
  });
  after(async () => {
    await cluster.stop();
  });

  /** Broker `nodeId`'s persisted log start of the partition (0 while it has never moved). */
  async function persistedLogStart(nodeId: number): Promise<number> {
    const path = join(cluster.broker(nodeId).dataDir, `${topic}-0`, 'log-start-offset');
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (text === null) return 0;
    const [version, offset] = text.split('\n');
    assert.equal(version, '1', `format version of ${path}`);
    return Number(offset);
  }

  async function deleteRecords(nodeId: number, offset: number, timeoutMs: number): Promise<[number, bigint]> {
    const answer = await withConnection(cluster.broker(nodeId), (connection) =>
      connection.call(deleteRecordsApi, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: BigInt(offset) }] }], timeoutMs }),
    );
    const partition = answer.topics[0]?.partitions[0];
    assert.ok(partition !== undefined, `DeleteRecords answer from broker ${nodeId}`);
    return [partition.errorCode, partition.lowWatermark];
  }

  async function leaderLogStart(): Promise<bigint> {
    const answer = await withConnection(cluster.broker(1), (connection) =>
      connection.call(listOffsetsApi, 10, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: earliestTimestamp }] }], timeoutMs: 5000 }),
    );
    const partition = answer.topics[0]?.partitions[0];
    assert.equal(partition?.errorCode, ErrorCode.none);
    return partition!.offset;
  }

  test('the answer comes once every follower has moved its log start to the offset', async () => {
    assert.deepEqual(await deleteRecords(2, 10, 5000), [ErrorCode.notLeaderOrFollower, -1n], 'a follower does not answer for the leader');
    assert.deepEqual(await deleteRecords(1, 10, 10_000), [ErrorCode.none, 10n]);
    // Read at once: no follower may still start below 10 when the leader answered.
    assert.deepEqual(await Promise.all([1, 2, 3].map((nodeId) => persistedLogStart(nodeId))), [10, 10, 10]);
  });

  test('a paused in-sync follower holds the answer back: REQUEST_TIMED_OUT, then success once it resumes', async () => {
    const paused = cluster.broker(3);
    process.kill(paused.pid, 'SIGSTOP');
    try {
      const startedAtMs = Date.now();
      assert.deepEqual(await deleteRecords(1, 15, 1500), [ErrorCode.requestTimedOut, -1n]);
      assert.ok(Date.now() - startedAtMs >= 1400, 'answered after the request\'s timeoutMs');
      // The leader's own log start moved at once; the live follower followed it, the paused one could not.
      assert.equal(await leaderLogStart(), 15n);
      assert.equal(await persistedLogStart(2), 15);
      assert.equal(await persistedLogStart(3), 10);
      const state = await cluster.partition(topic, 0);
      assert.deepEqual([...(state?.isr ?? [])].sort(), [1, 2, 3], 'the paused follower is still in the ISR');
    } finally {
      process.kill(paused.pid, 'SIGCONT');
    }
    assert.deepEqual(await deleteRecords(1, 15, 15_000), [ErrorCode.none, 15n]);
    assert.equal(await persistedLogStart(3), 15);
  });
});
