/**
 * Deleted records reach the followers (docs/cluster.md, "Replication"), on a real etcd and three
 * real broker processes: DeleteRecords on the leader of an RF-3 partition moves the leader's log
 * start; every follower learns it from the leader's Fetch answers and moves its own log start there,
 * deleting its segment files wholly below it.
 *
 *   leader   [0..3][4..7][8..11][12..15][16..19]    DeleteRecords before 10
 *   follower [0..3][4..7][8..11][12..15][16..19]    learns log start 10 from its Fetch answers
 *   both           ─ deleted ─  [8..11][12..15][16..19], log start 10
 *
 * Oracles: the segment files in each follower's partition folder, and ListOffsets earliest asked of
 * each follower once it leads (the brokers before it stopped).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../src/protocol/kafka/messages/delete-records.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const deleteRecordsApi = rawApi(deleteRecordsRequest, deleteRecordsResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const zeroTopicId = Buffer.alloc(16);
const topic = 'trimmed';
const recordCount = 20;
const deleteBefore = 10;
/** ListOffsets' timestamp asking for the log start offset. */
const earliestTimestamp = -2n;

describe('a three-broker cluster: deleted records reach the followers', () => {
  let cluster: TestCluster;
  const broker = (nodeId: number): BrokerProcess => cluster.broker(nodeId);

  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  /** Base offsets of the segment files in broker `nodeId`'s folder of the partition, ascending. */
  async function segmentBaseOffsets(nodeId: number): Promise<number[]> {
    const files = await readdir(join(broker(nodeId).dataDir, `${topic}-0`));
    return files
      .filter((file) => /^\d{20}\.log$/.test(file))
      .map((file) => Number(file.slice(0, 20)))
      .sort((a, b) => a - b);
  }

  async function earliestOffset(nodeId: number): Promise<[number, bigint]> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(listOffsetsApi, 10, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: earliestTimestamp }] }], timeoutMs: 5000 }),
    );
    const partition = answer.topics[0]?.partitions[0];
    assert.ok(partition !== undefined, `ListOffsets answer from broker ${nodeId}`);
    return [partition.errorCode, partition.offset];
  }

  async function waitForLeading(nodeId: number): Promise<void> {
    let seen: unknown = null;
    await waitUntil(
      async () => {
        seen = await earliestOffset(nodeId).catch((error: unknown) => String(error));
        return Array.isArray(seen) && seen[0] === ErrorCode.none;
      },
      `broker ${nodeId} to serve as leader`,
      20_000,
      () => `last answer: ${String(seen)}`,
    );
  }

  test('DeleteRecords on the leader moves every follower\'s log start and deletes its segments below it', async () => {
    // Small segments (the smallest segment.bytes allowed is 14 bytes): each ~100-byte record batch rolls a new segment.
    const created = await withConnection(broker(1), (connection) =>
      connection.call(createTopicsApi, 7, {
        topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2, 3] }], configs: [{ name: 'segment.bytes', value: '300' }] }],
        timeoutMs: 10_000,
        validateOnly: false,
      }),
    );
    assert.equal(created.topics[0]?.errorCode, ErrorCode.none);
    await cluster.waitForPartition(topic, 0, (state) => state.leader === 1 && state.isr.length === 3, 'every replica in the ISR');
    for (let index = 0; index < recordCount; index++) {
      const answer = await withConnection(broker(1), (connection) =>
        connection.call(produceApi, 9, {
          acks: -1,
          timeoutMs: 5000,
          transactionalId: null,
          topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.alloc(100, index) }]) }] }],
        }),
      );
      assert.equal(answer.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.none, `produce ${index}`);
    }
    for (const nodeId of [2, 3]) {
      const bases = await segmentBaseOffsets(nodeId);
      assert.ok(bases.filter((base) => base < deleteBefore).length >= 2, `broker ${nodeId} holds several segments below ${deleteBefore}: ${bases.join(',')}`);
    }

    const deleted = await withConnection(broker(1), (connection) =>
      connection.call(deleteRecordsApi, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: BigInt(deleteBefore) }] }], timeoutMs: 5000 }),
    );
    assert.deepEqual(deleted.topics[0]?.partitions.map((partition) => [partition.errorCode, partition.lowWatermark]), [[ErrorCode.none, BigInt(deleteBefore)]]);

    // Every follower's files below the log start go: only the segment holding offset 10 starts below it.
    for (const nodeId of [2, 3]) {
      let bases: number[] = [];
      await waitUntil(
        async () => {
          bases = await segmentBaseOffsets(nodeId);
          return bases.filter((base) => base <= deleteBefore).length === 1;
        },
        `broker ${nodeId} to delete its segments below ${deleteBefore}`,
        10_000,
        () => `segments: ${bases.join(',')}`,
      );
      assert.ok(bases[0]! <= deleteBefore, `broker ${nodeId} keeps the segment holding ${deleteBefore}`);
    }

    // Each follower, once it leads, starts its log at 10 and still holds everything from there.
    await broker(1).stop();
    const second = await cluster.waitForPartition(topic, 0, (state) => state.leader === 2 || state.leader === 3, 'a follower to lead');
    const third = second.leader === 2 ? 3 : 2;
    await waitForLeading(second.leader);
    assert.deepEqual(await earliestOffset(second.leader), [ErrorCode.none, BigInt(deleteBefore)], `broker ${second.leader}'s log start`);

    await broker(second.leader).stop();
    await cluster.waitForPartition(topic, 0, (state) => state.leader === third, `broker ${third} to lead`);
    await waitForLeading(third);
    assert.deepEqual(await earliestOffset(third), [ErrorCode.none, BigInt(deleteBefore)], `broker ${third}'s log start`);
  });
});
