import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RequestMemoryPool } from '../../../src/server/kafka/request-memory.js';

test('reservations stay within the capacity; a release wakes the waiters once, on a later turn', async () => {
  const pool = new RequestMemoryPool(100);
  assert.equal(pool.tryReserve(60), true);
  assert.equal(pool.tryReserve(40), true);
  assert.equal(pool.tryReserve(1), false, 'full');
  assert.equal(pool.reserved, 100);
  const woken: string[] = [];
  pool.waitForMemory(() => woken.push('a'));
  const forgotten = () => woken.push('b');
  pool.waitForMemory(forgotten);
  pool.stopWaiting(forgotten);
  pool.release(40);
  pool.release(10);
  assert.deepEqual(woken, [], 'not woken inside release');
  await nextTurn();
  assert.deepEqual(woken, ['a'], 'woken once, and a waiter that stopped waiting is not');
  assert.equal(pool.reserved, 50);
  assert.equal(pool.tryReserve(50), true);
});

test('a frame larger than the whole capacity passes only when nothing else is reserved', () => {
  const pool = new RequestMemoryPool(100);
  assert.equal(pool.tryReserve(10), true);
  assert.equal(pool.tryReserve(500), false);
  pool.release(10);
  assert.equal(pool.tryReserve(500), true);
  assert.equal(pool.tryReserve(1), false);
});
