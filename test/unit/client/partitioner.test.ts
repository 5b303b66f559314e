/**
 * The key partitioner against the Java client's murmur2 (values from Kafka's UtilsTest), and the
 * range assignor against Kafka's RangeAssignor rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { murmur2, partitionForKey, StickyPartitioner } from '../../../src/client/partitioner.js';
import { rangeAssign } from '../../../src/client/group.js';

test('murmur2 gives the Java client values', () => {
  const expected: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [text, hash] of expected) assert.equal(murmur2(Buffer.from(text)), hash, text);
});

test('a key always maps to the same partition, within range', () => {
  for (let index = 0; index < 1000; index++) {
    const key = Buffer.from(`key-${index}`);
    const partition = partitionForKey(key, 7);
    assert.ok(partition >= 0 && partition < 7);
    assert.equal(partitionForKey(key, 7), partition);
  }
});

test('the sticky partitioner keeps a partition until its batch closes, then moves', () => {
  const values = [0.1, 0.5];
  const sticky = new StickyPartitioner(() => values.shift() ?? 0.9);
  const first = sticky.partition('t', 4);
  assert.equal(sticky.partition('t', 4), first);
  sticky.batchClosed('t', first, 4);
  assert.notEqual(sticky.partition('t', 4), first);
});

test('range assignor: consecutive ranges, the first members take the remainder', () => {
  const assigned = rangeAssign(
    [
      { memberId: 'b', topics: ['orders'] },
      { memberId: 'a', topics: ['orders', 'audit'] },
    ],
    new Map([
      ['orders', 5],
      ['audit', 2],
    ]),
  );
  assert.deepEqual(assigned.get('a'), [
    { topic: 'audit', partitions: [0, 1] },
    { topic: 'orders', partitions: [0, 1, 2] },
  ]);
  assert.deepEqual(assigned.get('b'), [{ topic: 'orders', partitions: [3, 4] }]);
});
