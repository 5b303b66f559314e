/**
 * The idempotent-producer state machine (src/broker/idempotence/producer-state.ts): duplicates, gaps, epoch
 * fencing, sequence wrap-around, expiry with an injected time, the producer limit, and the snapshot
 * codec. Expected answers follow Kafka's ProducerAppendInfo/ProducerStateEntry (4.x).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  followsInSequence,
  lastSequenceOf,
  maxSequence,
  producerBatchOf,
  ProducerStateTable,
} from '../../../src/broker/idempotence/producer-state.js';
import type { ProducerBatch, SequenceVerdict } from '../../../src/broker/idempotence/producer-state.js';
import { encodeRecordBatch } from '../../helpers/raw-kafka-client.js';

const dayMs = 24 * 60 * 60 * 1000;
const startMs = 1_700_000_000_000;

function table(maxProducerIds = 100, expirationMs = dayMs): ProducerStateTable {
  return new ProducerStateTable({ maxProducerIds, expirationMs });
}

function batch(producerId: bigint, epoch: number, firstSequence: number, count: number): ProducerBatch {
  return { producerId, epoch, firstSequence, lastSequence: lastSequenceOf(firstSequence, count - 1) };
}

/** Checks and, when accepted, records the batch at the next offsets; returns the verdict. */
class Partition {
  nextOffset = 0;
  nowMs = startMs;
  constructor(readonly state: ProducerStateTable = table()) {}

  produce(incoming: ProducerBatch, count = incoming.lastSequence - incoming.firstSequence + 1): SequenceVerdict & { baseOffset?: number } {
    const verdict = this.state.check(incoming);
    if (verdict.kind !== 'append') return verdict;
    const baseOffset = this.nextOffset;
    this.nextOffset += count;
    this.state.recordAppend(incoming, baseOffset, this.nextOffset - 1, this.nowMs);
    this.state.invariants();
    return { ...verdict, baseOffset };
  }
}

function assertRefused(verdict: SequenceVerdict, errorCode: number): void {
  assert.equal(verdict.kind, 'refuse', `expected a refusal, got ${JSON.stringify(verdict, (_, value: unknown) => (typeof value === 'bigint' ? String(value) : value))}`);
  if (verdict.kind === 'refuse') assert.equal(verdict.errorCode, errorCode);
}

test('sequences in order are appended; a retry of any of the last five batches is a duplicate with its offsets', () => {
  const partition = new Partition();
  const sent: Array<{ batch: ProducerBatch; baseOffset: number }> = [];
  let sequence = 0;
  for (let index = 0; index < 8; index++) {
    const incoming = batch(7n, 0, sequence, 3 + index);
    const verdict = partition.produce(incoming);
    assert.equal(verdict.kind, 'append');
    sent.push({ batch: incoming, baseOffset: verdict.baseOffset! });
    sequence += 3 + index;
  }
  for (const { batch: retried, baseOffset } of sent.slice(-5)) {
    const verdict = partition.state.check(retried);
    assert.equal(verdict.kind, 'duplicate');
    if (verdict.kind === 'duplicate') {
      assert.equal(verdict.batch.firstOffset, baseOffset);
      assert.equal(verdict.batch.lastSequence, retried.lastSequence);
    }
  }
  // Older than the five remembered: Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER.
  assertRefused(partition.state.check(sent[0]!.batch), ErrorCode.outOfOrderSequenceNumber);
  // Same first sequence but another length is not a duplicate.
  const last = sent[sent.length - 1]!.batch;
  assertRefused(partition.state.check(batch(7n, 0, last.firstSequence, 2)), ErrorCode.outOfOrderSequenceNumber);
});

test('a gap or a repeat that is not a cached batch gets OUT_OF_ORDER_SEQUENCE_NUMBER and changes nothing', () => {
  const partition = new Partition();
  assert.equal(partition.produce(batch(1n, 0, 0, 10)).kind, 'append');
  const changes = partition.state.changeCount;
  assertRefused(partition.produce(batch(1n, 0, 11, 1)), ErrorCode.outOfOrderSequenceNumber); // one missing
  assertRefused(partition.produce(batch(1n, 0, 5, 10)), ErrorCode.outOfOrderSequenceNumber); // overlaps
  assert.equal(partition.state.changeCount, changes);
  assert.equal(partition.produce(batch(1n, 0, 10, 1)).kind, 'append');
});

test('epochs: an older epoch is fenced, a newer one must start at sequence 0 and replaces the cached batches', () => {
  const partition = new Partition();
  partition.produce(batch(3n, 2, 0, 5));
  partition.produce(batch(3n, 2, 5, 5));
  assertRefused(partition.produce(batch(3n, 1, 10, 1)), ErrorCode.invalidProducerEpoch);
  assertRefused(partition.produce(batch(3n, 1, 0, 5)), ErrorCode.invalidProducerEpoch);
  assertRefused(partition.produce(batch(3n, 3, 10, 1)), ErrorCode.outOfOrderSequenceNumber);
  assert.equal(partition.produce(batch(3n, 3, 0, 4)).kind, 'append');
  const entry = partition.state.entry(3n)!;
  assert.equal(entry.epoch, 3);
  assert.equal(entry.batches.length, 1);
  // The old epoch's batches are gone: its retry is fenced, not a duplicate.
  assertRefused(partition.state.check(batch(3n, 2, 5, 5)), ErrorCode.invalidProducerEpoch);
  assert.equal(partition.produce(batch(3n, 3, 4, 1)).kind, 'append');
});

test('an unknown producer id is accepted at any sequence (Kafka 2.5+), and then held to it', () => {
  const partition = new Partition();
  assert.equal(partition.produce(batch(99n, 4, 1234, 3)).kind, 'append');
  assertRefused(partition.produce(batch(99n, 4, 1238, 1)), ErrorCode.outOfOrderSequenceNumber);
  assert.equal(partition.produce(batch(99n, 4, 1237, 1)).kind, 'append');
});

test('producers are independent of each other', () => {
  const partition = new Partition();
  partition.produce(batch(1n, 0, 0, 2));
  partition.produce(batch(2n, 0, 0, 2));
  assert.equal(partition.state.check(batch(1n, 0, 0, 2)).kind, 'duplicate');
  assert.equal(partition.produce(batch(2n, 0, 2, 2)).kind, 'append');
  assert.equal(partition.produce(batch(1n, 0, 2, 2)).kind, 'append');
});

test('sequence numbers wrap from 2^31 - 1 to 0, inside a batch and between batches', () => {
  assert.equal(lastSequenceOf(maxSequence, 0), maxSequence);
  assert.equal(lastSequenceOf(maxSequence, 1), 0);
  assert.equal(lastSequenceOf(maxSequence - 2, 5), 2);
  assert.ok(followsInSequence(maxSequence, 0));
  assert.ok(!followsInSequence(maxSequence, maxSequence + 1));
  const partition = new Partition();
  assert.equal(partition.produce(batch(5n, 0, maxSequence - 9, 5), 5).kind, 'append');
  const wrapping = batch(5n, 0, maxSequence - 4, 10); // sequences 2^31-5 .. 4
  assert.equal(wrapping.lastSequence, 4);
  assert.equal(partition.produce(wrapping, 10).kind, 'append');
  assert.equal(partition.state.check(wrapping).kind, 'duplicate');
  assertRefused(partition.state.check(batch(5n, 0, 6, 1)), ErrorCode.outOfOrderSequenceNumber);
  assert.equal(partition.produce(batch(5n, 0, 5, 1), 1).kind, 'append');
  // A batch ending exactly at the maximum is followed by 0.
  const other = new Partition();
  other.produce(batch(6n, 0, maxSequence - 1, 2), 2);
  assert.equal(other.produce(batch(6n, 0, 0, 1), 1).kind, 'append');
});

test('expiry: a producer idle for producerIdExpirationMs is forgotten, an active one kept', () => {
  const partition = new Partition(table(100, 1000));
  partition.produce(batch(1n, 0, 0, 1));
  partition.nowMs += 600;
  partition.produce(batch(2n, 0, 0, 1));
  assert.equal(partition.state.expire(startMs + 999), 0);
  assert.equal(partition.state.expire(startMs + 1000), 1);
  assert.equal(partition.state.entry(1n), undefined);
  assert.ok(partition.state.entry(2n) !== undefined);
  // Forgotten: its next batch, at any sequence, starts afresh (and a retry would be written again).
  assert.equal(partition.state.check(batch(1n, 0, 0, 1)).kind, 'append');
  assert.equal(partition.state.expire(startMs + 1600), 1);
  assert.equal(partition.state.size, 0);
});

test('producers whose batches are all below the log start offset are forgotten; others kept', () => {
  const partition = new Partition();
  partition.produce(batch(1n, 0, 0, 5)); // offsets 0-4
  partition.produce(batch(2n, 0, 0, 5)); // 5-9
  partition.produce(batch(1n, 0, 5, 5)); // 10-14: producer 1 still has a retained batch
  assert.equal(partition.state.removeUnretained(10), 1, 'producer 2 ended at 9');
  assert.equal(partition.state.entry(2n), undefined);
  assert.ok(partition.state.entry(1n) !== undefined);
  assert.equal(partition.state.removeUnretained(14), 0, 'offset 14 is still retained');
  assert.equal(partition.state.removeUnretained(15), 1);
  assert.equal(partition.state.size, 0);
});

test('the producer limit forgets the least recently active producer first', () => {
  const partition = new Partition(table(3));
  partition.produce(batch(1n, 0, 0, 1));
  partition.produce(batch(2n, 0, 0, 1));
  partition.produce(batch(3n, 0, 0, 1));
  partition.produce(batch(1n, 0, 1, 1)); // 1 is now the most recent; 2 the least
  partition.produce(batch(4n, 0, 0, 1));
  assert.deepEqual([...partition.state.entries()].map((entry) => entry.producerId), [3n, 1n, 4n]);
  assert.equal(partition.state.evictedCount, 1);
  partition.state.updateLimits({ maxProducerIds: 1, expirationMs: dayMs });
  assert.deepEqual([...partition.state.entries()].map((entry) => entry.producerId), [4n]);
  partition.state.invariants();
});

test('producerBatchOf reads the header fields; batches without a producer id are left alone', () => {
  const records = [{ key: null, value: Buffer.from('a') }, { key: null, value: Buffer.from('b') }, { key: null, value: Buffer.from('c') }];
  const idempotent = encodeRecordBatch(records, { producerId: 0x1_0000_0001n, producerEpoch: 7, baseSequence: maxSequence - 1 });
  assert.deepEqual(producerBatchOf(idempotent), { producerId: 0x1_0000_0001n, epoch: 7, firstSequence: maxSequence - 1, lastSequence: 0 });
  assert.equal(producerBatchOf(encodeRecordBatch(records)), null);
});

test('snapshot: round trip keeps producers in recency order with their batches', () => {
  const partition = new Partition();
  partition.produce(batch(10n, 1, 0, 3));
  partition.produce(batch(0x7fff_ffff_ffff_fff0n, 32_000, maxSequence, 2), 2);
  for (let index = 0; index < 7; index++) partition.produce(batch(10n, 1, 3 + index, 1));
  const encoded = encodeSnapshot(partition.nextOffset, partition.state.entries());
  const decoded = decodeSnapshot(encoded);
  assert.ok(typeof decoded !== 'string', String(decoded));
  assert.equal(decoded.snapshotOffset, partition.nextOffset);
  assert.deepEqual(decoded.producers, [...partition.state.entries()]);
  const restored = table();
  for (const entry of decoded.producers) restored.restore(entry);
  restored.invariants();
  assert.equal(restored.check(batch(10n, 1, 9, 1)).kind, 'duplicate');
  assert.equal(restored.check(batch(10n, 1, 10, 1)).kind, 'append');
  assert.deepEqual([...restored.entries()].map((entry) => entry.producerId), [0x7fff_ffff_ffff_fff0n, 10n]);
});

test('snapshot: damaged, truncated or foreign files are refused with a reason', () => {
  const partition = new Partition();
  partition.produce(batch(1n, 0, 0, 2));
  const good = encodeSnapshot(2, partition.state.entries());
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1]! ^= 1;
  assert.match(String(decodeSnapshot(flipped)), /CRC/);
  assert.match(String(decodeSnapshot(good.subarray(0, 10))), /shorter/);
  const otherVersion = Buffer.from(good);
  otherVersion.writeInt16BE(2, 0);
  assert.match(String(decodeSnapshot(otherVersion)), /format version 2/);
  assert.equal(typeof decodeSnapshot(encodeSnapshot(0, [])), 'object');
});

test('truncateTo forgets batches at or beyond the new log end: a retry is appended again, not a duplicate', () => {
  const state = table();
  state.recordAppend(batch(1n, 0, 0, 5), 0, 4, startMs);
  state.recordAppend(batch(2n, 0, 0, 5), 5, 9, startMs);
  state.recordAppend(batch(1n, 0, 5, 5), 10, 14, startMs); // cut away below
  state.recordAppend(batch(3n, 2, 0, 1), 15, 15, startMs); // cut away: producer 3 is forgotten
  assert.equal(state.truncateTo(10), 2);
  assert.deepEqual(state.check(batch(1n, 0, 5, 5)), { kind: 'append' }, 'the cut batch is expected next, not a duplicate');
  assert.equal(state.check(batch(1n, 0, 0, 5)).kind, 'duplicate', 'batches below the cut are still recognised');
  assert.equal(state.entry(3n), undefined);
  assert.deepEqual(state.check(batch(3n, 2, 0, 1)), { kind: 'append' });
  assert.equal(state.truncateTo(10), 0);
  state.invariants();
});
