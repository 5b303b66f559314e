import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DueHeap, type DueEntry } from '../../../../src/queues/delayed/due-heap.js';
import { seededRandom } from '../../storage/batch-fixtures.js';

test('entries come out by due time, then by offset, whatever the order they went in', () => {
  const random = seededRandom(12);
  const heap = new DueHeap<DueEntry>();
  const entries: DueEntry[] = [];
  for (let offset = 0; offset < 2000; offset++) {
    const entry = { dueAtMs: Math.floor(random() * 300), offset };
    entries.push(entry);
    heap.push(entry);
    if (offset % 7 === 0) {
      // Pops interleaved with pushes take the least of what is in at that moment.
      const popped = heap.pop()!;
      entries.splice(entries.indexOf(popped), 1);
      for (const left of entries) assert.ok(left.dueAtMs > popped.dueAtMs || (left.dueAtMs === popped.dueAtMs && left.offset > popped.offset));
    }
  }
  heap.invariants();
  const out: DueEntry[] = [];
  for (let entry = heap.pop(); entry !== undefined; entry = heap.pop()) out.push(entry);
  const expected = [...entries].sort((left, right) => left.dueAtMs - right.dueAtMs || left.offset - right.offset);
  assert.deepEqual(out, expected);
  assert.equal(heap.size, 0);
  assert.equal(heap.peek(), undefined);
});
