/** The chunk queue both frame readers take from (src/protocol/wire/byte-queue.ts), against one flat buffer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from '../../../../src/protocol/wire/byte-queue.js';
import { seededRandom } from '../../../helpers/record-fixtures.js';

test('reads, skips and takes agree with a flat buffer whatever the chunking', () => {
  const next = seededRandom(11);
  const random = (limit: number): number => Math.floor(next() * limit);
  for (let round = 0; round < 200; round++) {
    const data = Buffer.from(Array.from({ length: 64 + random(400) }, () => random(256)));
    const queue = new ByteQueue();
    let pushed = 0;
    let front = 0;
    while (front < data.length) {
      if (pushed < data.length && (queue.length < 8 || random(3) === 0)) {
        const size = Math.min(data.length - pushed, random(12));
        queue.push(data.subarray(pushed, pushed + size));
        pushed += size;
        continue;
      }
      assert.equal(queue.length, pushed - front);
      if (queue.length === 0) continue;
      const position = random(queue.length);
      assert.equal(queue.readUInt8(position), data[front + position]);
      if (position + 2 <= queue.length) assert.equal(queue.readUInt16BE(position), data.readUInt16BE(front + position));
      if (position + 4 <= queue.length) assert.equal(queue.readUInt32BE(position), data.readUInt32BE(front + position));
      const count = random(queue.length + 1);
      if (random(2) === 0) {
        queue.skip(count);
      } else {
        assert.deepEqual(queue.take(count), data.subarray(front, front + count));
      }
      front += count;
    }
    assert.equal(queue.length, 0);
  }
});

test('reading or taking past what is buffered is a RangeError', () => {
  const queue = new ByteQueue();
  queue.push(Buffer.from([1, 2, 3]));
  assert.throws(() => queue.readUInt8(3), RangeError);
  assert.throws(() => queue.take(4), RangeError);
  assert.throws(() => queue.skip(4), RangeError);
  assert.equal(queue.take(0).length, 0);
});
