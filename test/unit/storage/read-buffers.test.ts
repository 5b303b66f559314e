/**
 * ReadBufferPool (src/storage/read-buffers.ts): buffers given back are handed out again, only what
 * the pool lent is taken back (once), and the free bytes stay within the cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadBufferPool } from '../../../src/storage/read-buffers.js';

test('a buffer given back is the one the next read of its size class gets', () => {
  const pool = new ReadBufferPool(4 * 1024 * 1024);
  const first = pool.take(100_000);
  assert.equal(first.length, 100_000);
  // A response holds views of the read (a batch range cut from it): giving those back returns the buffer.
  pool.give([first.subarray(10, 500), first.subarray(500)]);
  assert.equal(pool.freeByteCount, 128 * 1024, 'one 128 KiB class buffer is free');
  const second = pool.take(70_000);
  assert.equal(second.buffer, first.buffer, 'the same memory serves the next read of that class');
  assert.equal(second.length, 70_000);
  assert.equal(pool.freeByteCount, 0);
  assert.deepEqual({ reused: pool.reused, allocated: pool.allocated }, { reused: 1, allocated: 1 });
});

test('a buffer is not handed out twice: a second give of it, and anything the pool did not lend, are ignored', () => {
  const pool = new ReadBufferPool(4 * 1024 * 1024);
  const lent = pool.take(64 * 1024);
  pool.give([lent]);
  pool.give([lent]);
  pool.give([Buffer.alloc(64 * 1024), Buffer.allocUnsafeSlow(64 * 1024)]);
  assert.equal(pool.freeByteCount, 64 * 1024);
  const a = pool.take(64 * 1024);
  const b = pool.take(64 * 1024);
  assert.equal(a.buffer, lent.buffer);
  assert.notEqual(b.buffer, lent.buffer, 'only one free buffer was there');
});

test('free bytes stay within the cap; reads larger than the cap get buffers of their own', () => {
  const pool = new ReadBufferPool(256 * 1024);
  const buffers = [pool.take(100 * 1024), pool.take(100 * 1024), pool.take(100 * 1024)];
  pool.give(buffers);
  assert.equal(pool.freeByteCount, 256 * 1024, 'two 128 KiB buffers kept, the third dropped');
  const large = pool.take(300 * 1024);
  assert.equal(large.length, 300 * 1024);
  pool.give([large]);
  assert.equal(pool.freeByteCount, 256 * 1024, 'not pooled');
  const none = new ReadBufferPool(0);
  const read = none.take(10);
  none.give([read]);
  assert.equal(none.freeByteCount, 0);
  assert.equal(none.allocated, 0);
});
