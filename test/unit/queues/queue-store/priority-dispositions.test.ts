import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';
import type { DispositionListener } from '../../../../src/queues/queue-store/dispositions.js';
import { OffsetRanges } from '../../../../src/queues/queue-store/offset-ranges.js';
import { PriorityDispositions } from '../../../../src/queues/queue-store/priority-dispositions.js';
import type { QueuedMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { testMessage } from './queue-store-fixtures.js';

/**
 * PriorityDispositions on its own (no log): what the random model test of priority-queue-store-
 * random.test.ts does not reach: a truncated log (a failed write cut away), damaged ranges settled
 * around taken and given-back messages, and the memory budget for bodies.
 */

const costBytes = 100;

function withPriority(index: number, priority: number): ReturnType<typeof testMessage> {
  return testMessage(index, { properties: contentHeaderPayload({ bodySize: 0n, properties: { deliveryMode: 2, priority } }).subarray(12) });
}

function recordingListener(): DispositionListener & { settles: Array<[number, number]>; truncations: number[] } {
  const settles: Array<[number, number]> = [];
  const truncations: number[] = [];
  return {
    settles,
    truncations,
    settled: (start, end) => settles.push([start, end]),
    deliveredMoved: () => undefined,
    truncated: (endOffset) => truncations.push(endOffset),
    returned: () => undefined,
  };
}

function dispositions(maxReadyBytesInMemory = 1_000_000, listener = recordingListener()): PriorityDispositions {
  return new PriorityDispositions({ settledBelow: 0, settled: new OffsetRanges(), logEndOffset: 0, redeliveredBelow: 0, maxReadyBytesInMemory, listener }, 3);
}

/** Appends messages of these priorities at offsets 0, 1, … */
function appendAll(target: PriorityDispositions, priorities: readonly number[]): void {
  for (const [offset, priority] of priorities.entries()) target.appended(offset, withPriority(offset, priority), costBytes);
}

function takeAll(target: PriorityDispositions): number[] {
  const offsets: number[] = [];
  for (let next = target.takeNext(); next !== null; next = target.takeNext()) offsets.push(next.offset);
  return offsets;
}

test('highest priority first, publish order within a priority, given-back messages ahead of their own priority only', () => {
  const subject = dispositions();
  appendAll(subject, [0, 2, 1, 2, 0, 3, 3]);
  const first = subject.takeNext()!;
  const second = subject.takeNext()!;
  assert.deepEqual([first.offset, second.offset], [5, 6]);
  assert.ok(subject.requeue(second));
  assert.deepEqual(takeAll(subject), [6, 1, 3, 2, 0, 4]);
  assert.equal(subject.readyCount, 0);
  assert.equal(subject.unackedCount, 7);
  subject.invariants();
});

test('a truncated log loses its messages from the cut on, ready, taken or given back; counts follow', () => {
  const listener = recordingListener();
  const subject = dispositions(1_000_000, listener);
  appendAll(subject, [1, 1, 2, 0, 2, 1]);
  const taken = [subject.takeNext()!, subject.takeNext()!]; // offsets 2 and 4
  assert.deepEqual(
    taken.map((message) => message.offset),
    [2, 4],
  );
  assert.ok(subject.requeue(taken[1]!));
  subject.truncated(3);
  assert.deepEqual(listener.truncations, [3]);
  assert.equal(subject.logEndOffset, 3);
  assert.equal(subject.readyCount, 2);
  assert.equal(subject.unackedCount, 1);
  subject.invariants();
  assert.deepEqual(takeAll(subject), [0, 1]);
  // Appends go on from the cut.
  subject.appended(3, withPriority(3, 3), costBytes);
  assert.equal(subject.takeNext()?.offset, 3);
  assert.ok(subject.settle(taken[0]!));
  subject.invariants();
});

test('a damaged range is settled around the messages taken or given back in it', () => {
  const listener = recordingListener();
  const subject = dispositions(1_000_000, listener);
  appendAll(subject, [0, 3, 0, 3, 0, 0]);
  const taken = subject.takeNext()!; // offset 1
  const returned = subject.takeNext()!; // offset 3
  assert.ok(subject.requeue(returned));
  subject.settleAhead(0, 5);
  // Offsets 0, 2 and 4 go; 1 (taken) and 3 (given back) stay as they were.
  assert.equal(subject.readyCount, 2);
  assert.equal(subject.unackedCount, 1);
  for (const offset of [0, 2, 4]) assert.ok(subject.isSettled(offset), `offset ${offset} settled`);
  for (const offset of [1, 3, 5]) assert.ok(!subject.isSettled(offset), `offset ${offset} not settled`);
  assert.deepEqual(takeAll(subject), [3, 5]);
  assert.ok(subject.settle(taken));
  subject.invariants();
});

test('bodies beyond the memory budget are read back, lower priorities making room for higher ones', () => {
  // Room for three bodies.
  const subject = dispositions(3 * costBytes);
  appendAll(subject, [0, 0, 0, 0, 3, 3]);
  assert.equal(subject.bufferedCount, 3, 'the first three bodies are kept, the others only indexed');
  assert.equal(subject.readyCount, 6);
  // The highest priority's first message is not in memory: nothing to take until it is read.
  assert.equal(subject.takeNext(), null);
  assert.equal(subject.nextOffsetToRead(), 4);
  assert.equal(subject.bufferedCount, 0, 'priority 0 bodies dropped to make room for priority 3');
  // The store reads from offset 4 on and offers what it read.
  assert.ok(subject.offerRead(4, withPriority(4, 3), costBytes));
  assert.ok(subject.offerRead(5, withPriority(5, 3), costBytes));
  assert.equal(subject.nextOffsetToRead(), null);
  const taken: QueuedMessage[] = [subject.takeNext()!, subject.takeNext()!];
  assert.deepEqual(
    taken.map((message) => message.offset),
    [4, 5],
  );
  // Then priority 0, read back from offset 0 on.
  assert.equal(subject.takeNext(), null);
  assert.equal(subject.nextOffsetToRead(), 0);
  for (let offset = 0; offset < 6; offset++) if (!subject.offerRead(offset, withPriority(offset, offset >= 4 ? 3 : 0), costBytes)) break;
  assert.ok(subject.bufferedBytes <= 3 * costBytes);
  subject.invariants();
  assert.deepEqual(takeAll(subject).slice(0, 3), [0, 1, 2]);
});
