import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RequestMemoryPool } from '../../../src/server/kafka/request-memory.js';
import type { MemoryClaimant } from '../../../src/server/kafka/request-memory.js';

function claimant(name: string, claimedBytes: number, woken: string[], receivingFrame = true): MemoryClaimant {
  return { claimedBytes, receivingFrame, retry: () => woken.push(name) };
}

test('bytes are claimed as they arrive; large frames stop below the small-request reserve, small ones at the capacity', () => {
  const pool = new RequestMemoryPool(100, 20);
  const other = claimant('other', 0, []);
  pool.claim(70);
  assert.equal(pool.hasRoom(other, 'large'), true);
  assert.equal(pool.hasRoom(other, 'small'), true);
  pool.claim(10);
  assert.equal(pool.reserved, 80);
  assert.equal(pool.hasRoom(other, 'large'), false, 'large frames leave the reserve alone');
  assert.equal(pool.hasRoom(other, 'small'), true, 'small requests may use the reserve');
  pool.claim(20);
  assert.equal(pool.hasRoom(other, 'small'), false, 'full');
});

test('a connection holding everything reserved may always read on, so a frame larger than the pool completes', () => {
  const pool = new RequestMemoryPool(100, 20);
  pool.claim(150);
  assert.equal(pool.hasRoom(claimant('alone', 150, []), 'large'), true);
  assert.equal(pool.hasRoom(claimant('one of many', 10, []), 'large'), false);
});

test('when the pool is full, the waiting connection holding most of a frame leads: it reads on until its frame is complete', async () => {
  const pool = new RequestMemoryPool(100, 0);
  const woken: string[] = [];
  const small = claimant('small', 30, woken);
  const large = claimant('large', 60, woken);
  const idle = claimant('idle', 10, woken, false);
  for (const each of [small, large, idle]) pool.register(each);
  pool.claim(100);
  pool.waitForMemory(small);
  pool.waitForMemory(large);
  pool.waitForMemory(idle);
  await nextTurn();
  assert.deepEqual(woken, ['small', 'large', 'idle']);
  assert.equal(pool.isLead(large), true, 'the largest holder, waiting for the rest of its frame, leads');
  assert.equal(pool.hasRoom(large, 'large'), true);
  assert.equal(pool.hasRoom(small, 'large'), false);
  pool.endLead(large);
  assert.equal(pool.hasRoom(large, 'large'), false);
});

test('a release wakes the waiters once, on a later turn', async () => {
  const pool = new RequestMemoryPool(100, 0);
  const woken: string[] = [];
  const first = claimant('a', 0, woken, false);
  const forgotten = claimant('b', 0, woken, false);
  pool.claim(100);
  pool.waitForMemory(first);
  pool.waitForMemory(forgotten);
  pool.stopWaiting(forgotten);
  await nextTurn();
  woken.length = 0;
  pool.waitForMemory(first);
  pool.release(40);
  pool.release(10);
  assert.deepEqual(woken, [], 'not woken inside release');
  await nextTurn();
  assert.deepEqual(woken, ['a'], 'woken once, and a waiter that stopped waiting is not');
  assert.equal(pool.reserved, 50);
});
