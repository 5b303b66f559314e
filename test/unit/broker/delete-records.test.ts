/**
 * DeleteRecords for one partition (broker/delete-records.ts) against a fake partition: without
 * followers it answers the leader's new log start at once; with them it waits for the low
 * watermark, and answers REQUEST_TIMED_OUT, or NOT_LEADER_OR_FOLLOWER when leadership moved
 * while it waited. The leader's own log start moves first in every case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteRecordsBefore } from '../../../src/broker/delete-records.js';
import type { Partition, PartitionReplication } from '../../../src/broker/partition.js';
import { asOffset, type Offset } from '../../../src/broker/offset.js';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { createLogger } from '../../../src/logging/logger.js';

const logger = createLogger('error', () => undefined);

/** An open, led partition with a high watermark of 20; `waitAnswer` is what the followers' wait resolves with. */
function fakePartition(replicated: boolean, waitAnswer: (partition: { replication: PartitionReplication | null }) => Offset | null) {
  const moves: Offset[] = [];
  const waits: { offset: Offset; timeoutMs: number }[] = [];
  const handle = {
    highWatermark: asOffset(20),
    logStartOffset: asOffset(0),
    deleteRecordsBefore: async (offset: Offset): Promise<Offset> => {
      moves.push(offset);
      return offset;
    },
  };
  const partition: { unavailableError: number; handle: typeof handle; replication: PartitionReplication | null; topic: { name: string }; index: number } = {
    unavailableError: ErrorCode.none,
    handle,
    replication: null,
    topic: { name: 'events' },
    index: 0,
  };
  if (replicated) {
    partition.replication = {
      waitForLowWatermark: async (offset: Offset, timeoutMs: number) => {
        waits.push({ offset, timeoutMs });
        return waitAnswer(partition);
      },
    } as unknown as PartitionReplication;
  }
  return { partition: partition as unknown as Partition, moves, waits };
}

test('without followers: the new log start at once, timeoutMs not waited on', async () => {
  const { partition, moves } = fakePartition(false, () => null);
  assert.deepEqual(await deleteRecordsBefore(partition, asOffset(7), 30_000, logger), { lowWatermark: 7, errorCode: ErrorCode.none });
  assert.deepEqual(moves, [7]);
});

test('with followers: the low watermark once it reached the offset (-1: the high watermark)', async () => {
  const { partition, moves, waits } = fakePartition(true, () => asOffset(20));
  assert.deepEqual(await deleteRecordsBefore(partition, 'highWatermark', 5_000, logger), { lowWatermark: 20, errorCode: ErrorCode.none });
  assert.deepEqual(moves, [20]);
  assert.deepEqual(waits, [{ offset: 20, timeoutMs: 5_000 }]);
});

test('with followers: REQUEST_TIMED_OUT when the low watermark did not get there; a negative timeoutMs waits 0 ms', async () => {
  const { partition, moves, waits } = fakePartition(true, () => null);
  assert.deepEqual(await deleteRecordsBefore(partition, asOffset(5), -3, logger), { lowWatermark: null, errorCode: ErrorCode.requestTimedOut });
  assert.deepEqual(moves, [5], "the leader's log start moved anyway");
  assert.deepEqual(waits, [{ offset: 5, timeoutMs: 0 }]);
});

test('with followers: NOT_LEADER_OR_FOLLOWER when leadership moved while it waited', async () => {
  const { partition } = fakePartition(true, (led) => {
    led.replication = null;
    return null;
  });
  assert.deepEqual(await deleteRecordsBefore(partition, asOffset(5), 1_000, logger), { lowWatermark: null, errorCode: ErrorCode.notLeaderOrFollower });
});

test('past the high watermark: OFFSET_OUT_OF_RANGE, nothing moved nor waited for', async () => {
  const { partition, moves, waits } = fakePartition(true, () => asOffset(21));
  assert.deepEqual(await deleteRecordsBefore(partition, asOffset(21), 1_000, logger), { lowWatermark: null, errorCode: ErrorCode.offsetOutOfRange });
  assert.deepEqual([moves, waits], [[], []]);
});
