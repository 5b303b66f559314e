/**
 * The group log of a `__consumer_offsets` partition in a cluster (docs/cluster.md, "Consumer
 * groups"), on a real etcd and three real broker processes with a small group log
 * (`--groups.offsets-log-segment-bytes 4096`, `--groups.offsets-log-cleanup-bytes 16384`): the
 * topic is created with the group log's segment size; the coordinator's writes are stamped with its
 * leader epoch; its cleanup (the live state written again, what precedes it dropped) runs on the
 * leader and the followers follow its log start, deleting their first segments too; after kill -9 of
 * the coordinator the new one (a follower that followed the cleanup) serves the last commit and
 * writes in its own epoch.
 *
 * Oracles: etcd's topic and partition records, raw FindCoordinator / OffsetCommit / OffsetFetch /
 * ListOffsets / Fetch answers (each stored batch's partitionLeaderEpoch), and the segment files in
 * each replica's data directory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTopic, topicKey } from '../../src/cluster/keys.js';
import { groupPartition } from '../../src/groups/offsets-topic.js';
import { readPartitionLeaderEpoch } from '../../src/protocol/kafka/batch-header.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { findCoordinatorRequest, findCoordinatorResponse } from '../../src/protocol/kafka/messages/find-coordinator.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../src/protocol/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../src/protocol/kafka/messages/offset-fetch.js';
import { recordBatchTotalBytes } from '../../src/protocol/kafka/records.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const findCoordinatorApi = rawApi(findCoordinatorRequest, findCoordinatorResponse);
const offsetCommitApi = rawApi(offsetCommitRequest, offsetCommitResponse);
const offsetFetchApi = rawApi(offsetFetchRequest, offsetFetchResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);

const offsetsTopic = '__consumer_offsets';
const segmentBytes = 4096;
const cleanupBytes = 16_384;
const groupId = 'cleaned-up';
const topic = 'tracked';
const metadata = 'm'.repeat(500);

describe('a three-broker cluster: the group log in __consumer_offsets is cleaned up by its leader', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ extraArgs: () => ['--groups.offsets-log-segment-bytes', String(segmentBytes), '--groups.offsets-log-cleanup-bytes', String(cleanupBytes)] });
  });
  after(async () => {
    await cluster?.stop();
  });

  async function findCoordinator(via: number): Promise<number> {
    let nodeId = -1;
    await waitUntil(async () => {
      const answer = await withConnection(cluster.broker(via), (connection) => connection.call(findCoordinatorApi, 3, { key: groupId, keyType: 0, coordinatorKeys: [] }));
      nodeId = answer.nodeId;
      return answer.errorCode === ErrorCode.none;
    }, `a coordinator for ${groupId}`);
    return nodeId;
  }

  /** OffsetCommit of `offset` for partition 0 of the topic, retried while the coordinator loads; the error code. */
  async function commit(coordinator: number, offset: bigint): Promise<number> {
    let errorCode = -1;
    await waitUntil(async () => {
      const answer = await withConnection(cluster.broker(coordinator), (connection) =>
        connection.call(offsetCommitApi, 8, { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: metadata }] }] }),
      );
      errorCode = answer.topics[0]?.partitions[0]?.errorCode ?? -1;
      return errorCode !== ErrorCode.coordinatorLoadInProgress;
    }, `the commit of ${offset}`);
    return errorCode;
  }

  async function committed(coordinator: number): Promise<{ offset: bigint; metadata: string | null }> {
    let found = { offset: -2n, metadata: null as string | null };
    await waitUntil(async () => {
      const answer = await withConnection(cluster.broker(coordinator), (connection) => connection.call(offsetFetchApi, 5, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], groups: [], requireStable: false }));
      const partition = answer.topics[0]?.partitions[0];
      if (answer.errorCode === ErrorCode.coordinatorLoadInProgress || partition === undefined) return false;
      found = { offset: partition.committedOffset, metadata: partition.metadata };
      return true;
    }, `the offsets of ${groupId} on broker ${coordinator}`);
    return found;
  }

  /** The leader's log start of the offsets partition (ListOffsets, earliest). */
  async function logStart(leader: number, partition: number): Promise<bigint> {
    const answer = await withConnection(cluster.broker(leader), (connection) =>
      connection.call(listOffsetsApi, 10, { replicaId: -1, isolationLevel: 0, topics: [{ name: offsetsTopic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -2n }] }], timeoutMs: 5000 }),
    );
    const entry = answer.topics[0]?.partitions[0];
    assert.equal(entry?.errorCode, ErrorCode.none, `ListOffsets of ${offsetsTopic}-${partition} on broker ${leader}`);
    return entry.offset;
  }

  /** partitionLeaderEpoch of every batch the leader serves a consumer from `fetchOffset`. */
  async function batchEpochs(leader: number, partition: number, fetchOffset: bigint): Promise<number[]> {
    const answer = await withConnection(cluster.broker(leader), (connection) =>
      connection.call(fetchApi, 12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 10 * 1024 * 1024,
        forgottenTopicsData: [],
        topics: [{ topic: offsetsTopic, topicId: Buffer.alloc(16), partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, partitionMaxBytes: 10 * 1024 * 1024 }] }],
      }),
    );
    const entry = answer.responses[0]?.partitions[0];
    assert.equal(entry?.errorCode, ErrorCode.none, `Fetch of ${offsetsTopic}-${partition} on broker ${leader}`);
    const bytes = entry.records ?? Buffer.alloc(0);
    const epochs: number[] = [];
    for (let position = 0, total = recordBatchTotalBytes(bytes, 0); total !== null; position += total, total = recordBatchTotalBytes(bytes, position)) epochs.push(readPartitionLeaderEpoch(bytes, position));
    return epochs;
  }

  /** The base offsets of a replica's segment files of the partition. */
  function segmentBases(broker: BrokerProcess, partition: number): number[] {
    return readdirSync(join(broker.dataDir, `${offsetsTopic}-${partition}`))
      .filter((name) => name.endsWith('.log'))
      .map((name) => Number(name.slice(0, -'.log'.length)))
      .sort((left, right) => left - right);
  }

  test('the leader cleans its group log, stamped with its epoch; followers follow its log start; the next coordinator serves the last commit', async () => {
    await cluster.createTopic(topic, [[1, 2, 3]]);
    const coordinator = await findCoordinator(1);
    const stored = await cluster.store.get(topicKey(offsetsTopic));
    assert.ok(stored !== null);
    const record = decodeTopic(stored.value);
    assert.ok(!(record instanceof Error), String(record));
    assert.deepEqual(Object.fromEntries(record.configs), { 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.bytes': String(segmentBytes) }, 'segments of the group log size');

    const partition = groupPartition(groupId, 50);
    const before = await cluster.waitForPartition(offsetsTopic, partition, (state) => state.isr.length === 3 && state.leader === coordinator, `${offsetsTopic}-${partition} fully in sync`);
    // About 600 bytes a commit: 80 of them pass the cleanup threshold three times.
    for (let offset = 1n; offset <= 80n; offset++) assert.equal(await commit(coordinator, offset), ErrorCode.none, `commit ${offset}`);
    assert.deepEqual(await committed(coordinator), { offset: 80n, metadata });

    let start = 0n;
    await waitUntil(async () => (start = await logStart(coordinator, partition)) > 0n, 'the leader to clean up its group log', 20_000);
    const leaderEpochs = await batchEpochs(coordinator, partition, start);
    assert.ok(leaderEpochs.length > 0);
    assert.deepEqual(new Set(leaderEpochs), new Set([before.leaderEpoch]), 'every group write carries the leader epoch of its coordinator');
    // Each follower follows: its segments before the leader's log start are deleted too.
    const followers = before.replicas.filter((nodeId) => nodeId !== coordinator);
    await waitUntil(() => followers.every((nodeId) => (segmentBases(cluster.broker(nodeId), partition)[0] ?? 0) > 0), 'the followers to drop their first segments', 20_000, () => followers.map((nodeId) => `${nodeId}: ${segmentBases(cluster.broker(nodeId), partition).join(',')}`).join('; '));
    assert.ok((segmentBases(cluster.broker(coordinator), partition)[0] ?? 0) > 0, 'the leader dropped its first segment');

    // The next coordinator reads the cleaned log back, and writes in its own epoch.
    await cluster.broker(coordinator).kill9();
    const after = await cluster.waitForPartition(offsetsTopic, partition, (state) => state.leader !== coordinator && state.leader !== -1, `${offsetsTopic}-${partition} to move`);
    assert.equal(await findCoordinator(followers[0]!), after.leader);
    assert.deepEqual(await committed(after.leader), { offset: 80n, metadata }, 'the last commit, from the cleaned-up log');
    assert.ok((await logStart(after.leader, partition)) > 0n, 'the new leader had followed the log start');
    assert.equal(await commit(after.leader, 81n), ErrorCode.none);
    const afterEpochs = await batchEpochs(after.leader, partition, await logStart(after.leader, partition));
    assert.equal(afterEpochs.at(-1), after.leaderEpoch, 'the new coordinator stamps its own epoch');
    assert.ok(after.leaderEpoch > before.leaderEpoch);
  });
});
