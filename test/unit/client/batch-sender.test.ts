import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { takeRequestBatches, type SentBatch } from '../../../src/client/batch-sender.js';

function batch(partition: number, baseSequence: number, sizeBytes: number): SentBatch {
  const encoded = Promise.resolve(Buffer.alloc(0));
  return { topic: 't', partition, recordCount: 1, sizeBytes, encoded, encode: () => encoded, callbacks: [], baseSequence, closedAtMs: 0, attempts: 0 };
}

const describe = (batches: readonly SentBatch[]) => batches.map((sent) => `${sent.partition}:${sent.baseSequence}`);

test('a request takes at most one batch per partition, oldest first, the rest keep their order', () => {
  const ready = [batch(0, 0, 10), batch(1, 0, 10), batch(0, 5, 10), batch(2, 0, 10), batch(1, 7, 10)];
  assert.deepEqual(describe(takeRequestBatches(ready, 1000)), ['0:0', '1:0', '2:0']);
  assert.deepEqual(describe(ready), ['0:5', '1:7']);
  assert.deepEqual(describe(takeRequestBatches(ready, 1000)), ['0:5', '1:7']);
  assert.equal(ready.length, 0);
});

test('a batch left out for the size limit holds back the later batches of its partition', () => {
  // Partition 1's first batch does not fit next to partition 0's; its second (smaller) one would, but
  // sent first it would reach the broker out of sequence (OUT_OF_ORDER_SEQUENCE_NUMBER).
  const ready = [batch(0, 0, 600), batch(1, 0, 600), batch(1, 3, 100), batch(2, 0, 100)];
  assert.deepEqual(describe(takeRequestBatches(ready, 1000)), ['0:0', '2:0']);
  assert.deepEqual(describe(ready), ['1:0', '1:3']);
  assert.deepEqual(describe(takeRequestBatches(ready, 1000)), ['1:0']);
  assert.deepEqual(describe(takeRequestBatches(ready, 1000)), ['1:3']);
});

test('the first batch goes even when it alone is over the limit', () => {
  const ready = [batch(0, 0, 5000), batch(1, 0, 10)];
  assert.deepEqual(describe(takeRequestBatches(ready, 1000)), ['0:0']);
  assert.deepEqual(describe(ready), ['1:0']);
});
