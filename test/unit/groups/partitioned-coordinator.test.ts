/**
 * A cluster broker's group coordination (src/groups/partitioned-coordinator.ts): only groups of the
 * offsets partitions it leads are served; COORDINATOR_LOAD_IN_PROGRESS while a partition is read
 * back, NOT_COORDINATOR for the others and after resigning; leading again reads back what was
 * written. The partition logs are real PartitionLogs in a temporary folder (closing a shard leaves
 * them open, as a replicated partition belongs to the broker).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import type { GroupSettings } from '../../../src/config/broker-config.js';
import type { GroupLogStorage } from '../../../src/groups/group-log.js';
import { groupPartition } from '../../../src/groups/offsets-topic.js';
import { PartitionedGroupCoordinator } from '../../../src/groups/partitioned-coordinator.js';
import { ManualScheduler } from '../../../src/groups/scheduler.js';
import { createLogger } from '../../../src/logging/logger.js';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { asOffset } from '../../../src/storage/offset.js';
import { FakeTopics } from './harness.js';

const partitionCount = 3;
const logOptions = { segmentBytes: 1 << 20, segmentMs: 3_600_000, retentionMs: -1, retentionBytes: -1, indexIntervalBytes: 4096, flush: 'always' as const, flushIntervalMs: 1000 };

/** A group id whose offsets partition (of 3) is `partition`. */
function groupIn(partition: number): string {
  for (let index = 0; ; index++) if (groupPartition(`group-${index}`, partitionCount) === partition) return `group-${index}`;
}

/** A PartitionLog as a shard's storage; closing the shard leaves it open (the broker's). */
function storageOf(log: PartitionLog): GroupLogStorage {
  return {
    get sizeBytes() {
      return log.sizeBytes;
    },
    get logStartOffset() {
      return log.logStartOffset;
    },
    get logEndOffset() {
      return log.logEndOffset;
    },
    read: (offset, maxBytes, maxOffset) => log.read(offset, maxBytes, maxOffset),
    append: (batch) => log.append(batch),
    flush: () => log.flush(),
    close: () => Promise.resolve(),
  };
}

function openCoordinators(settings: Partial<GroupSettings> = {}): PartitionedGroupCoordinator {
  return new PartitionedGroupCoordinator({
    settings: { ...defaultBrokerConfig.groups, ...settings },
    flush: 'always',
    flushIntervalMs: 1000,
    topics: new FakeTopics().add('orders', 2),
    logger: createLogger('error', () => undefined),
    scheduler: new ManualScheduler(),
  });
}

function commit(coordinators: PartitionedGroupCoordinator, groupId: string, offset: number) {
  return coordinators.commitOffsets({ groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(offset), committedLeaderEpoch: -1, committedMetadata: null }] }] });
}

test('groups of led partitions only: loading, NOT_COORDINATOR elsewhere and after resigning, offsets read back on leading again', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'osprey-partitioned-'));
  const log = await PartitionLog.create(join(directory, '__consumer_offsets-1'), logOptions);
  const coordinators = openCoordinators();
  try {
    const led = groupIn(1);
    const other = groupIn(2);
    assert.equal(coordinators.coordinatorError(led), ErrorCode.notCoordinator, 'nothing led yet');

    coordinators.lead(1, partitionCount, storageOf(log));
    assert.equal(coordinators.coordinatorError(led), ErrorCode.coordinatorLoadInProgress, 'while the partition is read back');
    assert.equal(coordinators.fetchOffsets(led, null).errorCode, ErrorCode.coordinatorLoadInProgress);
    assert.equal(coordinators.listGroupsError(), ErrorCode.coordinatorLoadInProgress);
    await waitFor(() => coordinators.coordinatedPartitions.includes(1));
    assert.equal(coordinators.coordinatorError(led), ErrorCode.none);
    assert.equal(coordinators.coordinatorError(other), ErrorCode.notCoordinator, 'a group of a partition led elsewhere');

    assert.equal((await commit(coordinators, led, 42))[0]?.partitions[0]?.errorCode, ErrorCode.none);
    assert.equal((await commit(coordinators, other, 7))[0]?.partitions[0]?.errorCode, ErrorCode.notCoordinator);
    assert.equal(coordinators.listGroupsError(), ErrorCode.none);
    assert.deepEqual(coordinators.listGroups([], []).map((group) => group.groupId), [led]);
    assert.equal(log.logEndOffset, 1, 'the commit went to the partition of its group');

    coordinators.resign(1);
    assert.equal(coordinators.coordinatorError(led), ErrorCode.notCoordinator, 'after resigning');
    assert.equal((await commit(coordinators, led, 43))[0]?.partitions[0]?.errorCode, ErrorCode.notCoordinator);
    assert.deepEqual(coordinators.listGroups([], []), []);

    coordinators.lead(1, partitionCount, storageOf(log));
    await waitFor(() => coordinators.coordinatedPartitions.includes(1));
    const fetched = coordinators.fetchOffsets(led, [{ name: 'orders', partitionIndexes: [0] }]);
    assert.equal(fetched.errorCode, ErrorCode.none);
    assert.equal(fetched.topics[0]?.partitions[0]?.committedOffset, 42, 'read back from the partition');
  } finally {
    await coordinators.close();
    await log.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a partition named led here but not taken up yet answers its groups COORDINATOR_LOAD_IN_PROGRESS until it is led, NOT_COORDINATOR once resigned', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'osprey-partitioned-'));
  const log = await PartitionLog.create(join(directory, '__consumer_offsets-0'), logOptions);
  const coordinators = openCoordinators();
  try {
    const waiting = groupIn(0);
    coordinators.loading(0, partitionCount);
    assert.equal(coordinators.coordinatorError(waiting), ErrorCode.coordinatorLoadInProgress);
    assert.equal((await commit(coordinators, waiting, 5))[0]?.partitions[0]?.errorCode, ErrorCode.coordinatorLoadInProgress);
    assert.equal(coordinators.coordinatorError(groupIn(1)), ErrorCode.notCoordinator, 'other partitions are not affected');
    coordinators.lead(0, partitionCount, storageOf(log));
    await waitFor(() => coordinators.coordinatedPartitions.includes(0));
    assert.equal(coordinators.coordinatorError(waiting), ErrorCode.none);
    coordinators.loading(0, partitionCount);
    assert.equal(coordinators.coordinatorError(waiting), ErrorCode.coordinatorLoadInProgress, 'a new term not taken up yet');
    coordinators.resign(0);
    assert.equal(coordinators.coordinatorError(waiting), ErrorCode.notCoordinator);
  } finally {
    await coordinators.close();
    await log.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test('groups.maxGroups bounds the groups of the whole broker, every led partition together', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'osprey-partitioned-'));
  const logs = [await PartitionLog.create(join(directory, 'p1'), logOptions), await PartitionLog.create(join(directory, 'p2'), logOptions)];
  const coordinators = openCoordinators({ maxGroups: 1 });
  try {
    coordinators.lead(1, partitionCount, storageOf(logs[0]!));
    coordinators.lead(2, partitionCount, storageOf(logs[1]!));
    await waitFor(() => coordinators.coordinatedPartitions.length === 2);
    assert.equal((await commit(coordinators, groupIn(1), 1))[0]?.partitions[0]?.errorCode, ErrorCode.none);
    assert.equal((await commit(coordinators, groupIn(2), 1))[0]?.partitions[0]?.errorCode, ErrorCode.coordinatorNotAvailable, 'a second group, in another partition');
  } finally {
    await coordinators.close();
    for (const log of logs) await log.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'condition not met within 2 s');
}
