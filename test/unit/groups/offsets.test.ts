/**
 * Committed offsets: commit checks and codes, durability across restarts (replay of the group
 * log), cleanup of the log, expiry, DeleteGroups, OffsetDelete and lag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { encodeRecordBatch } from '../../../src/protocol/kafka/records.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { ClassicGroup } from '../../../src/groups/classic-group.js';
import type { CommitRequest } from '../../../src/groups/coordinator.js';
import { computeGroupLag } from '../../../src/groups/lag.js';
import { committedPositionFromWire, type CommittedPosition } from '../../../src/broker/offset.js';
import { asOffset } from '../../../src/storage/offset.js';
import { formGroup, joinRequest, openHarness, settle, track } from './harness.js';

/** Offsets as on the wire, converted as the OffsetCommit handler does. */
function simpleCommit(groupId: string, entries: Array<[string, number, number | bigint, string?]>): CommitRequest {
  const topics = new Map<string, Array<{ partitionIndex: number; committedOffset: CommittedPosition | null; committedLeaderEpoch: number; committedMetadata: string | null }>>();
  for (const [topic, partitionIndex, committedOffset, metadata] of entries) {
    if (!topics.has(topic)) topics.set(topic, []);
    topics.get(topic)!.push({ partitionIndex, committedOffset: committedPositionFromWire(BigInt(committedOffset)), committedLeaderEpoch: 3, committedMetadata: metadata ?? null });
  }
  return { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
}

function codes(result: Array<{ partitions: Array<{ errorCode: number }> }>): number[] {
  return result.flatMap((topic) => topic.partitions.map((partition) => partition.errorCode));
}

test('simple commits (generation −1) create a group; OffsetFetch returns them, −1 where nothing is committed', async () => {
  const harness = await openHarness();
  try {
    const result = await harness.coordinator.commitOffsets(simpleCommit('simple', [['orders', 0, 10, 'note'], ['orders', 1, 0], ['payments', 1, 1000]]));
    assert.deepEqual(codes(result), [0, 0, 0]);
    const group = harness.coordinator.group('simple');
    assert.ok(group instanceof ClassicGroup);
    assert.equal(group.stateName, 'Empty');
    const fetched = harness.coordinator.fetchOffsets('simple', [{ name: 'orders', partitionIndexes: [0, 1, 2] }]);
    assert.deepEqual(fetched.topics[0]!.partitions, [
      { partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: 3, metadata: 'note', errorCode: 0 },
      { partitionIndex: 1, committedOffset: 0, committedLeaderEpoch: 3, metadata: '', errorCode: 0 },
      { partitionIndex: 2, committedOffset: null, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
    ]);
    const all = harness.coordinator.fetchOffsets('simple', null);
    assert.deepEqual(all.topics.map((topic) => [topic.name, topic.partitions.map((partition) => partition.partitionIndex)]), [['orders', [0, 1]], ['payments', [1]]]);
    assert.deepEqual(harness.coordinator.fetchOffsets('nobody', null), { errorCode: 0, topics: [] });
  } finally {
    await harness.close();
  }
});

test('commit checks per partition: unknown topic or partition, metadata too large, offsets beyond 2^53; offsets past the log end and negative ones are kept, as Kafka', async () => {
  let harness = await openHarness({ maxMetadataBytes: 8 });
  try {
    // The fake topics end at offset 1000.
    const result = await harness.coordinator.commitOffsets(
      simpleCommit('g', [['orders', 0, 1000], ['orders', 1, -1], ['orders', 2, 1001], ['orders', 3, -2], ['orders', 4, 2n ** 53n], ['orders', 6, 1], ['nope', 0, 1], ['payments', 0, 5, '123456789'], ['payments', 1, 5, '12345678']]),
    );
    assert.deepEqual(codes(result), [0, 0, 0, 0, ErrorCode.offsetOutOfRange, ErrorCode.unknownTopicOrPartition, ErrorCode.unknownTopicOrPartition, ErrorCode.offsetMetadataTooLarge, 0]);
    const longId = await harness.coordinator.commitOffsets(simpleCommit('x'.repeat(256), [['orders', 0, 1]]));
    assert.deepEqual(codes(longId), [ErrorCode.invalidGroupId]);
    // Negative commits come back as committed, also after a restart (through the group log's codec).
    const negatives = () => harness.coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [1, 3] }]).topics[0]!.partitions.map((partition) => partition.committedOffset);
    assert.deepEqual(negatives(), [-1, -2]);
    harness = await harness.reopen();
    assert.deepEqual(negatives(), [-1, -2]);
  } finally {
    await harness.close();
  }
});

test('group commits: generation and member checks with the codes Kafka uses', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const commit = (generation: number, memberId: string) =>
      harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(7), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.deepEqual(codes(await commit(1, 'someone')), [ErrorCode.illegalGeneration], 'unknown group with a generation');
    const { members, generationId } = await formGroup(harness, 'g', 2);
    assert.deepEqual(codes(await commit(generationId, members[0]!)), [0]);
    assert.deepEqual(codes(await commit(generationId + 1, members[0]!)), [ErrorCode.illegalGeneration]);
    assert.deepEqual(codes(await commit(generationId, 'stranger')), [ErrorCode.unknownMemberId]);
    assert.deepEqual(codes(await commit(-1, '')), [ErrorCode.unknownMemberId], 'no simple commits into a group with members');
    // During a rebalance: allowed while preparing (consumers commit before rejoining) …
    const rejoin = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: members[0]! })));
    assert.deepEqual(codes(await commit(generationId, members[1]!)), [0]);
    const other = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: members[1]! })));
    await settle();
    assert.equal(rejoin.value.generationId, generationId + 1);
    assert.equal(other.value.errorCode, 0);
    // … refused between JoinGroup and SyncGroup.
    assert.deepEqual(codes(await commit(generationId + 1, members[1]!)), [ErrorCode.rebalanceInProgress]);
  } finally {
    await harness.close();
  }
});

test('committed offsets and groups survive a restart: groups come back Empty with their generation; members must rejoin', async () => {
  let harness = await openHarness({ initialRebalanceDelayMs: 0 });
  const { members, generationId } = await formGroup(harness, 'g', 2);
  await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: generationId, memberId: members[0]!, groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(42), committedLeaderEpoch: 1, committedMetadata: 'm' }] }] });
  await harness.coordinator.commitOffsets(simpleCommit('simple', [['payments', 0, 9]]));
  await harness.coordinator.commitOffsets(simpleCommit('simple', [['payments', 0, 11]]));
  harness = await harness.reopen();
  try {
    const group = harness.coordinator.group('g');
    assert.ok(group instanceof ClassicGroup);
    assert.equal(group.stateName, 'Empty');
    assert.equal(group.generationId, generationId);
    assert.equal(group.protocolType, 'consumer');
    assert.deepEqual(harness.coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }]).topics[0]!.partitions[0], { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 1, metadata: 'm', errorCode: 0 });
    assert.equal(harness.coordinator.fetchOffsets('simple', [{ name: 'payments', partitionIndexes: [0] }]).topics[0]!.partitions[0]!.committedOffset, 11, 'the later commit wins');
    assert.equal(harness.coordinator.heartbeat('g', members[0]!, null, generationId), ErrorCode.unknownMemberId, 'old members must rejoin');
    const rejoined = await formGroup(harness, 'g', 1);
    assert.equal(rejoined.generationId, generationId + 1, 'generations keep counting up');
  } finally {
    await harness.close();
  }
});

test('concurrent commits to one partition: the last written wins, in memory and after a restart', async () => {
  let harness = await openHarness();
  const commits = Array.from({ length: 50 }, (_, index) => harness.coordinator.commitOffsets(simpleCommit('g', [['orders', 0, index]])));
  await Promise.all(commits);
  assert.equal(harness.coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }]).topics[0]!.partitions[0]!.committedOffset, 49);
  harness = await harness.reopen();
  try {
    assert.equal(harness.coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }]).topics[0]!.partitions[0]!.committedOffset, 49);
  } finally {
    await harness.close();
  }
});

function logFiles(directory: string): { count: number; bytes: number } {
  const folder = join(directory, 'group-offsets');
  const segments = readdirSync(folder).filter((name) => name.endsWith('.log'));
  return { count: segments.length, bytes: segments.reduce((sum, name) => sum + statSync(join(folder, name)).size, 0) };
}

test('the group log is cleaned up past its threshold: a snapshot of the live state, older segments dropped, same state after replay', async () => {
  let harness = await openHarness({ offsetsLogSegmentBytes: 4096, offsetsLogCleanupBytes: 32 * 1024 });
  for (let round = 0; round < 400; round++) {
    await harness.coordinator.commitOffsets(simpleCommit(`g${round % 4}`, [['orders', round % 6, round], ['payments', round % 2, round]]));
  }
  await settle(20);
  const status = harness.coordinator.logStatus;
  assert.ok(status.logStartOffset > 0, `the log start moved (${JSON.stringify(status)})`);
  assert.ok(status.sizeBytes < 64 * 1024, `the log stays small: ${status.sizeBytes} bytes`);
  assert.ok(harness.logLines.some((line) => line.includes('group log cleaned up')));
  const expected = ['g0', 'g1', 'g2', 'g3'].map((groupId) => harness.coordinator.fetchOffsets(groupId, null));
  harness = await harness.reopen();
  try {
    assert.deepEqual(['g0', 'g1', 'g2', 'g3'].map((groupId) => harness.coordinator.fetchOffsets(groupId, null)), expected);
    assert.ok(logFiles(harness.directory).bytes < 64 * 1024);
  } finally {
    await harness.close();
  }
});

test('offsets of a group empty for longer than the retention expire; the group goes too; groups with members keep theirs', async () => {
  let harness = await openHarness({ initialRebalanceDelayMs: 0, offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 100_000_000 }) // expiry run by hand here;
  await harness.coordinator.commitOffsets(simpleCommit('idle', [['orders', 0, 5]]));
  const active = await formGroup(harness, 'active', 1, { sessionTimeoutMs: 100_000 });
  await harness.coordinator.commitOffsets({ groupId: 'active', generationIdOrMemberEpoch: active.generationId, memberId: active.members[0]!, groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(1), committedLeaderEpoch: -1, committedMetadata: null }] }] });
  harness.scheduler.advance(30_000);
  assert.equal(harness.coordinator.heartbeat('active', active.members[0]!, null, active.generationId), 0);
  await harness.coordinator.commitOffsets(simpleCommit('idle', [['orders', 1, 6]])); // committed at 30 s
  harness.scheduler.advance(30_000); // 60 s: orders-0 of idle is due; orders-1 is 30 s old
  assert.equal(harness.coordinator.heartbeat('active', active.members[0]!, null, active.generationId), 0);
  assert.equal(await harness.coordinator.expireOffsets(), 1);
  assert.deepEqual(harness.coordinator.fetchOffsets('idle', null).topics.map((topic) => topic.partitions.map((partition) => partition.partitionIndex)), [[1]]);
  assert.equal(harness.coordinator.fetchOffsets('active', null).topics.length, 1, 'a group with members keeps its offsets');
  harness.scheduler.advance(30_000);
  assert.equal(await harness.coordinator.expireOffsets(), 1);
  assert.equal(harness.coordinator.group('idle'), undefined, 'an empty group without offsets is removed');
  harness = await harness.reopen();
  try {
    assert.equal(harness.coordinator.group('idle'), undefined, 'the removal is durable');
    assert.equal(harness.coordinator.fetchOffsets('active', null).topics.length, 1);
  } finally {
    await harness.close();
  }
});

test('the expiry timer runs by itself every check interval', async () => {
  const harness = await openHarness({ offsetsRetentionMs: 1000, offsetsRetentionCheckIntervalMs: 5000 });
  try {
    await harness.coordinator.commitOffsets(simpleCommit('idle', [['orders', 0, 5]]));
    harness.scheduler.advance(5000);
    for (let attempt = 0; attempt < 200 && harness.coordinator.group('idle') !== undefined; attempt++) await settle();
    assert.equal(harness.coordinator.group('idle'), undefined);
  } finally {
    await harness.close();
  }
});

test('DeleteGroups: NON_EMPTY_GROUP with members, GROUP_ID_NOT_FOUND when unknown; deleted groups stay deleted after a restart', async () => {
  let harness = await openHarness({ initialRebalanceDelayMs: 0 });
  await harness.coordinator.commitOffsets(simpleCommit('done', [['orders', 0, 5], ['orders', 1, 6]]));
  await formGroup(harness, 'busy', 1);
  const results = await harness.coordinator.deleteGroups(['done', 'busy', 'ghost']);
  assert.deepEqual(results, [
    { groupId: 'done', errorCode: 0 },
    { groupId: 'busy', errorCode: ErrorCode.nonEmptyGroup },
    { groupId: 'ghost', errorCode: ErrorCode.groupIdNotFound },
  ]);
  assert.equal(harness.coordinator.fetchOffsets('done', null).topics.length, 0);
  harness = await harness.reopen();
  try {
    assert.equal(harness.coordinator.group('done'), undefined);
    assert.ok(harness.coordinator.group('busy') !== undefined);
  } finally {
    await harness.close();
  }
});

test('OffsetDelete: refused for topics a member subscribes to, done for others; unknown groups and partitions answered', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const { members, generationId } = await formGroup(harness, 'g', 1); // subscribed to orders
    await harness.coordinator.commitOffsets({
      groupId: 'g',
      generationIdOrMemberEpoch: generationId,
      memberId: members[0]!,
      groupInstanceId: null,
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(1), committedLeaderEpoch: -1, committedMetadata: null }] },
        { name: 'payments', partitions: [{ partitionIndex: 0, committedOffset: asOffset(2), committedLeaderEpoch: -1, committedMetadata: null }] },
      ],
    });
    const result = await harness.coordinator.deleteOffsets('g', [
      { name: 'orders', partitions: [{ partitionIndex: 0 }] },
      { name: 'payments', partitions: [{ partitionIndex: 0 }, { partitionIndex: 9 }] },
    ]);
    assert.equal(result.errorCode, 0);
    assert.deepEqual(codes(result.topics), [ErrorCode.groupSubscribedToTopic, 0, ErrorCode.unknownTopicOrPartition]);
    assert.deepEqual(harness.coordinator.fetchOffsets('g', null).topics.map((topic) => topic.name), ['orders']);
    assert.equal((await harness.coordinator.deleteOffsets('ghost', [])).errorCode, ErrorCode.groupIdNotFound);
  } finally {
    await harness.close();
  }
});

test('lag per partition: committed offset, high watermark, lag; assigned partitions without commits; totals', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const { members, generationId } = await formGroup(harness, 'g', 2); // orders-0 and orders-1 assigned
    await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: generationId, memberId: members[0]!, groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(990), committedLeaderEpoch: -1, committedMetadata: null }, { partitionIndex: 5, committedOffset: asOffset(1000), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    harness.topics.partitions.get('orders/5')!.highWatermark = asOffset(1200);
    const lag = harness.coordinator.lag('g')!;
    assert.equal(lag.state, 'Stable');
    assert.deepEqual(
      lag.partitions.map((row) => [row.topic, row.partition, row.committedOffset, row.logEndOffset, row.lag, row.memberId !== null]),
      [
        ['orders', 0, 990, 1000, 10, true],
        ['orders', 1, null, 1000, null, true],
        ['orders', 5, 1000, 1200, 200, false],
      ],
    );
    assert.equal(lag.totalLag, 210);
    assert.equal(lag.partitionsWithUnknownLag, 1);
    assert.equal(harness.coordinator.lag('ghost'), null);
  } finally {
    await harness.close();
  }
});

test('computeGroupLag: never negative, null for partitions that no longer exist', () => {
  const lag = computeGroupLag({
    groupId: 'g',
    state: 'Empty',
    committed: [
      { topic: 'b', partition: 0, offset: 50 },
      { topic: 'a', partition: 1, offset: 120 },
      { topic: 'gone', partition: 0, offset: 3 },
    ],
    assigned: [],
    logEndOffset: (topic) => (topic === 'gone' ? null : 100),
  });
  assert.deepEqual(lag.partitions.map((row) => [row.topic, row.lag]), [['a', 0], ['b', 50], ['gone', null]]);
  assert.equal(lag.totalLag, 50);
});

test('replay skips a batch it cannot decode (a compressed one here) and keeps the rest', async () => {
  let harness = await openHarness();
  await harness.coordinator.commitOffsets(simpleCommit('g', [['orders', 0, 1]]));
  await harness.close();
  const log = await PartitionLog.open(join(harness.directory, 'group-offsets'), { segmentBytes: 1 << 20, segmentMs: 1 << 30, retentionMs: -1, retentionBytes: -1, indexIntervalBytes: 4096, flush: 'always', flushIntervalMs: 1000 });
  const strange = encodeRecordBatch({ baseTimestampMs: 1, records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
  strange.writeInt16BE(1, 21); // gzip, which the group log never writes
  strange.writeUInt32BE(crc32c(strange.subarray(21)), 17);
  await log.append(strange).durable;
  await log.close();
  harness = await harness.reopen();
  try {
    await harness.coordinator.commitOffsets(simpleCommit('g', [['orders', 1, 2]]));
    assert.deepEqual(harness.coordinator.fetchOffsets('g', null).topics[0]!.partitions.map((partition) => [partition.partitionIndex, partition.committedOffset]), [[0, 1], [1, 2]]);
    assert.ok(harness.logLines.some((line) => line.includes('skipping a batch that cannot be decoded')));
    harness = await harness.reopen();
    assert.equal(harness.coordinator.fetchOffsets('g', null).topics[0]!.partitions.length, 2);
  } finally {
    await harness.close();
  }
});
