import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetRanges } from '../../../../src/queues/queue-store/offset-ranges.js';
import { seededRandom } from './queue-store-fixtures.js';

function members(ranges: OffsetRanges): number[] {
  const all: number[] = [];
  ranges.forEach((start, end) => {
    for (let offset = start; offset < end; offset++) all.push(offset);
  });
  return all;
}

test('ranges merge when they touch or overlap, and count what they add', () => {
  const ranges = new OffsetRanges();
  assert.equal(ranges.add(10, 12), 2);
  assert.equal(ranges.add(5, 6), 1);
  assert.equal(ranges.add(20, 25), 5);
  assert.equal(ranges.rangeCount, 3);
  assert.equal(ranges.add(6, 10), 4); // joins [5,6) and [10,12)
  assert.equal(ranges.rangeCount, 2);
  assert.equal(ranges.add(4, 30), 26 - 12);
  assert.equal(ranges.rangeCount, 1);
  assert.equal(ranges.size, 26);
  assert.equal(ranges.skipFrom(7), 30);
  assert.equal(ranges.skipFrom(30), 30);
  assert.equal(ranges.countIn(0, 10), 6);
  ranges.invariants();
});

test('random adds and removals agree with a plain set', () => {
  const random = seededRandom(7);
  for (let round = 0; round < 20; round++) {
    const ranges = new OffsetRanges();
    const model = new Set<number>();
    for (let step = 0; step < 300; step++) {
      const choice = random();
      if (choice < 0.7) {
        const start = Math.floor(random() * 200);
        const end = start + Math.floor(random() * (random() < 0.8 ? 2 : 20));
        let added = 0;
        for (let offset = start; offset < end; offset++) if (!model.has(offset)) (model.add(offset), added++);
        assert.equal(ranges.add(start, end), added);
      } else if (choice < 0.8) {
        const limit = Math.floor(random() * 200);
        ranges.removeFrom(limit);
        for (const offset of [...model]) if (offset >= limit) model.delete(offset);
      } else if (choice < 0.9) {
        const limit = Math.floor(random() * 100);
        ranges.removeBelow(limit);
        for (const offset of [...model]) if (offset < limit) model.delete(offset);
      } else if (ranges.rangeCount > 0) {
        const first = ranges.firstStart;
        const end = ranges.firstEnd;
        ranges.removeFirst();
        for (let offset = first; offset < end; offset++) model.delete(offset);
      }
      ranges.invariants();
      assert.deepEqual(members(ranges), [...model].sort((a, b) => a - b));
      const probe = Math.floor(random() * 220);
      assert.equal(ranges.contains(probe), model.has(probe));
      const from = Math.floor(random() * 220);
      const to = from + Math.floor(random() * 50);
      assert.equal(ranges.countIn(from, to), [...model].filter((offset) => offset >= from && offset < to).length);
    }
  }
});
