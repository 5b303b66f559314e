/**
 * The partition of `__consumer_offsets` a group lives in (src/groups/offsets-topic.ts): Kafka's
 * Utils.abs(groupId.hashCode()) % partitionCount. Hash values are Java's, known from the JDK's
 * documented formula and well-known cases (the "Aa"/"BB" collision, "polygenelubricants" hashing
 * to Integer.MIN_VALUE).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupPartition, javaStringHash } from '../../../src/groups/offsets-topic.js';

test("Java's String.hashCode: empty, ASCII, collisions, overflow, UTF-16 code units", () => {
  assert.equal(javaStringHash(''), 0);
  assert.equal(javaStringHash('a'), 97);
  assert.equal(javaStringHash('hello'), 99162322);
  assert.equal(javaStringHash('Aa'), 2112);
  assert.equal(javaStringHash('BB'), 2112);
  assert.equal(javaStringHash('polygenelubricants'), -2147483648);
  assert.equal(javaStringHash('é'), 233);
  // A character outside the BMP counts as its two UTF-16 code units, 0xD83D and 0xDE00.
  assert.equal(javaStringHash('😀'), 0xd83d * 31 + 0xde00);
});

test("a group's partition: abs of the hash mod the count; abs(Integer.MIN_VALUE) is 0, as Kafka's Utils.abs", () => {
  assert.equal(groupPartition('hello', 50), 99162322 % 50);
  assert.equal(groupPartition('polygenelubricants', 50), 0);
  const negative = 'my-group';
  assert.ok(javaStringHash(negative) < 0, 'a group id whose hash is negative');
  assert.equal(groupPartition(negative, 50), Math.abs(javaStringHash(negative)) % 50);
  for (const groupId of ['', 'a', 'orders-consumers', 'ünïcode']) {
    const partition = groupPartition(groupId, 7);
    assert.ok(Number.isInteger(partition) && partition >= 0 && partition < 7);
  }
});
