import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchTotalBytes, hasValidCrc, isControl, readRecordsCount, recordsAt } from '../../../../src/protocol/kafka/batch-header.js';
import { RecordIterator } from '../../../../src/protocol/kafka/records.js';
import { encodeStateBatch, replayStateBatch, stateControlType, stateRecordsOf } from '../../../../src/queues/queue-store/log-state.js';
import { encodeMessage } from '../../../../src/queues/queue-store/message-codec.js';
import { deliveredRecord, returnedRecord, settledRecord, snapshotRecords, StateReplay } from '../../../../src/queues/queue-store/state-records.js';
import { testMessage } from './queue-store-fixtures.js';

test('a state batch is a whole v2 control batch with one record, keyed as queue state, that a record reader can walk', () => {
  const batch = encodeStateBatch([settledRecord(3, 5), deliveredRecord(9)], 1_765_000_000_000);
  assert.equal(batchTotalBytes(batch, 0), batch.length);
  assert.ok(hasValidCrc(batch, 0, batch.length));
  assert.ok(isControl(batch, 0));
  assert.equal(readRecordsCount(batch, 0), 1);
  // Kafka's control record key: version int16, type int16.
  const records = new RecordIterator(batch, 0, batch, recordsAt, batch.length);
  assert.ok(records.next());
  const key = records.key()!;
  assert.equal(key.readInt16BE(0), 0);
  assert.equal(key.readUInt16BE(2), stateControlType);
  assert.equal(records.value()!.length, settledRecord(3, 5).length + deliveredRecord(9).length);
  assert.equal(records.next(), false);
});

test('state batches replay in order; a snapshot replaces what came before it', () => {
  const replay = new StateReplay();
  const first = encodeStateBatch([settledRecord(0, 2), settledRecord(4, 5), returnedRecord(7, 3), deliveredRecord(6)], 0);
  const snapshot = encodeStateBatch(snapshotRecords({ settledBelow: 1, settledRanges: [3, 4], deliveredBelow: 8, returnCounts: [6, 1] }), 0);
  const after = encodeStateBatch([settledRecord(9, 10)], 0);
  assert.ok(replayStateBatch(replay, first, 0, first.length));
  assert.deepEqual([replay.settledBelow, replay.deliveredBelow, [...replay.returnCounts]], [0, 6, [[7, 3]]]);
  assert.ok(replayStateBatch(replay, snapshot, 0, snapshot.length));
  assert.ok(replayStateBatch(replay, after, 0, after.length));
  const ranges: number[] = [];
  replay.settled.forEach((start, end) => ranges.push(start, end));
  assert.deepEqual([replay.settledBelow, replay.deliveredBelow, ranges, [...replay.returnCounts]], [1, 8, [3, 4, 9, 10], [[6, 1]]]);
  assert.equal(replay.recordCount, 4 + 2 + 1);
});

test('messages and control batches of other kinds are not state batches', () => {
  const message = encodeMessage(testMessage(1)).batch;
  assert.equal(stateRecordsOf(message, 0, message.length), null);
  const other = encodeStateBatch([settledRecord(0, 1)], 0);
  other.writeUInt16BE(1, other.length - 1 - 1 - settledRecord(0, 1).length - 2); // a transaction marker's type (commit)
  assert.equal(stateRecordsOf(other, 0, other.length), null);
  // A torn value (its length past the batch) is no state batch either.
  const state = encodeStateBatch([settledRecord(0, 1)], 0);
  assert.equal(stateRecordsOf(state, 0, state.length - 3), null);
});
