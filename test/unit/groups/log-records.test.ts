/**
 * The group log's key/value format (src/groups/log-records.ts): the KIP-848 consumer group record
 * (key type 3) against bytes written out by hand from the format drawn in that file, tombstones,
 * and key types this version does not know.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecord, encodeKey, encodeValue } from '../../../src/groups/log-records.js';

const groupKey = Buffer.from([0x00, 0x03, 0x00, 0x01, 0x67]); // keyType 3, groupId "g"
const groupValue = Buffer.from([
  0x00, 0x01, // version 1
  0x00, 0x00, 0x00, 0x07, // groupEpoch 7
  0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // emptySinceMs 1700000000000
  0x00, 0x07, 0x75, 0x6e, 0x69, 0x66, 0x6f, 0x72, 0x6d, // assignorName "uniform"
]);

test('a consumer group record: key type 3 and its value, as drawn', () => {
  const record = { kind: 'consumerGroup', groupId: 'g', value: { groupEpoch: 7, emptySinceMs: 1_700_000_000_000, assignorName: 'uniform' } } as const;
  assert.deepEqual(encodeKey(record), groupKey);
  assert.deepEqual(encodeValue(record), groupValue);
  assert.deepEqual(decodeRecord(groupKey, groupValue), record);
});

test('a consumer group tombstone, a newer value version with more fields, and an unknown key type', () => {
  assert.deepEqual(decodeRecord(groupKey, null), { kind: 'consumerGroup', groupId: 'g', value: null });
  assert.equal(encodeValue({ kind: 'consumerGroup', groupId: 'g', value: null }), null);
  const newer = Buffer.concat([Buffer.from([0x00, 0x02]), groupValue.subarray(2), Buffer.from([0xff, 0xff])]);
  assert.deepEqual(decodeRecord(groupKey, newer), { kind: 'consumerGroup', groupId: 'g', value: { groupEpoch: 7, emptySinceMs: 1_700_000_000_000, assignorName: 'uniform' } });
  assert.deepEqual(decodeRecord(Buffer.from([0x00, 0x04, 0x00, 0x01, 0x67]), Buffer.from([1])), { kind: 'unknown', keyType: 4 });
  assert.throws(() => decodeRecord(groupKey, Buffer.from([0x00, 0x00])), /version 0/);
});
