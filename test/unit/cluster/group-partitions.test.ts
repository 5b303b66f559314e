/**
 * The group log of a `__consumer_offsets` partition led here (cluster/group-partitions.ts,
 * replicatedGroupLog) under a GroupLog, on a real partition log in a temporary folder: its batches
 * carry the leader epoch of the term it was made for; the leader's cleanup drops what precedes the
 * snapshot; once the term ends (another leader, or this broker again in a later epoch) it neither
 * appends nor drops records, and a cleanup under way then leaves the log start where it was; with
 * segments larger than the group log's own it offers no cleanup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionHandle, type PartitionStorageSettings } from '../../../src/broker/partition-handle.js';
import { Partition } from '../../../src/broker/partition.js';
import type { Topic } from '../../../src/broker/broker.js';
import { effectiveTopicConfig } from '../../../src/broker/topic-config.js';
import { replicatedGroupLog } from '../../../src/cluster/group-partitions.js';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { GroupLog } from '../../../src/groups/group-log.js';
import type { GroupLogRecord } from '../../../src/groups/log-records.js';
import { offsetsTopicConfigs, offsetsTopicName } from '../../../src/groups/offsets-topic.js';
import { createLogger } from '../../../src/logging/logger.js';
import { readPartitionLeaderEpoch } from '../../../src/protocol/kafka/batch-header.js';
import { asOffset } from '../../../src/storage/offset.js';
import { ManualClock, logOptions, splitBatches, withTempDirectory } from '../storage/batch-fixtures.js';

const segmentBytes = 1024;
const logger = createLogger('error', () => undefined);

/** Partition 0 of __consumer_offsets as created with segment.bytes `topicSegmentBytes`, its log open, led here in `leaderEpoch`. */
async function ledPartition(directory: string, leaderEpoch: number, topicSegmentBytes = segmentBytes): Promise<Partition> {
  const overrides = new Map(offsetsTopicConfigs(topicSegmentBytes));
  const topic: Topic = { name: offsetsTopicName, id: Buffer.alloc(16), partitions: [], configOverrides: overrides, effective: effectiveTopicConfig(overrides, defaultBrokerConfig.topicDefaults) };
  const partition = new Partition(topic, 0);
  topic.partitions.push(partition);
  const settings: PartitionStorageSettings = {
    logOptions: logOptions({ segmentBytes: topicSegmentBytes, indexIntervalBytes: 256 }),
    logEnvironment: { logger },
    producerLimits: { maxProducerIds: 10, expirationMs: 60_000 },
    clock: new ManualClock(),
    logger,
  };
  partition.open(await PartitionHandle.create(directory, settings));
  partition.ledHere = true;
  partition.leaderEpoch = leaderEpoch;
  return partition;
}

function commit(groupId: string, offset: number): GroupLogRecord {
  return { kind: 'offset', groupId, topic: 'orders', partition: 0, value: { offset: asOffset(offset), leaderEpoch: -1, metadata: 'm'.repeat(100), commitTimestampMs: 0 } };
}

async function storedEpochs(partition: Partition): Promise<number[]> {
  const handle = partition.handle;
  const { chunks } = await handle.read(handle.logStartOffset, 10_000_000, undefined, handle.logEndOffset);
  return splitBatches(chunks).map((batch) => readPartitionLeaderEpoch(batch.bytes, 0));
}

const settings = { commitTimeoutMs: 1000, segmentBytes };

test('batches carry the term leader epoch; the leader cleanup drops what precedes the snapshot', async () => {
  await withTempDirectory(async (directory) => {
    const partition = await ledPartition(directory, 7);
    const log = GroupLog.on(replicatedGroupLog({ partition, leaderEpoch: 7 }, settings), 4 * segmentBytes, new ManualClock(), logger);
    for (let offset = 0; offset < 40; offset++) await log.append([commit('g', offset)]).durable;
    assert.deepEqual(new Set(await storedEpochs(partition)), new Set([7]));
    assert.equal(partition.handle.leaderEpochs.map((entry) => entry.epoch).join(','), '7');
    assert.ok(log.cleanupDue, `a cleanup is due at ${log.sizeBytes} bytes`);
    const snapshotStart = log.logEndOffset;
    await log.cleanUp([commit('g', 39)]);
    assert.equal(partition.handle.logStartOffset, snapshotStart);
    const replayed: number[] = [];
    await log.replay((record) => {
      if (record.kind === 'offset' && record.value !== null) replayed.push(Number(record.value.offset));
    });
    assert.deepEqual(replayed, [39]);
  });
});

test('once the term ends nothing is appended or dropped, a cleanup under way included', async () => {
  await withTempDirectory(async (directory) => {
    const partition = await ledPartition(directory, 3);
    const log = GroupLog.on(replicatedGroupLog({ partition, leaderEpoch: 3 }, settings), 4 * segmentBytes, new ManualClock(), logger);
    for (let offset = 0; offset < 40; offset++) await log.append([commit('g', offset)]).durable;
    const endBefore = partition.handle.logEndOffset;

    // Another broker now leads: appends are refused.
    partition.ledHere = false;
    assert.throws(() => log.append([commit('g', 40)]), /no longer leads __consumer_offsets-0 in leader epoch 3/);
    // This broker again, but in a later term: the shard of epoch 3 still may not write.
    partition.ledHere = true;
    partition.leaderEpoch = 4;
    assert.throws(() => log.append([commit('g', 40)]), /no longer leads/);
    assert.equal(partition.handle.logEndOffset, endBefore);
    await assert.rejects(log.cleanUp([commit('g', 39)]), /no longer leads/);
    assert.equal(partition.handle.logStartOffset, 0);

    // A cleanup whose term ends while its snapshot becomes durable drops nothing.
    partition.leaderEpoch = 3;
    const cleanup = log.cleanUp([commit('g', 39)]);
    partition.leaderEpoch = 5;
    await assert.rejects(cleanup, /a group log cleanup refused: this broker no longer leads/);
    assert.equal(partition.handle.logStartOffset, 0);
  });
});

test('a topic whose segments are larger than the group log segments offers no cleanup (it would free nothing)', async () => {
  await withTempDirectory(async (directory) => {
    const partition = await ledPartition(directory, 0, 64 * segmentBytes);
    const storage = replicatedGroupLog({ partition, leaderEpoch: 0 }, settings);
    assert.equal(storage.deleteRecordsBefore, undefined);
    const log = GroupLog.on(storage, 4 * segmentBytes, new ManualClock(), logger);
    for (let offset = 0; offset < 60; offset++) await log.append([commit('g', offset)]).durable;
    assert.ok(log.sizeBytes > 4 * segmentBytes);
    assert.equal(log.cleanupDue, false);
  });
});
