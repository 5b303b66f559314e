import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfirmTracker } from '../../../../src/client/amqp/confirm-tracker.js';
import { AmqpNackError } from '../../../../src/client/amqp/errors.js';

function track(tracker: ConfirmTracker, count: number, outcomes: Map<number, string>): void {
  for (let index = 0; index < count; index++) {
    const sequence: number = tracker.track((error) => outcomes.set(sequence, error === null ? 'ack' : error instanceof AmqpNackError ? `nack ${error.sequence}` : error.message));
  }
}

test('single and multiple acks and nacks settle exactly the sequence numbers they name', async () => {
  const tracker = new ConfirmTracker();
  const outcomes = new Map<number, string>();
  track(tracker, 6, outcomes);
  tracker.settle(2n, false, true); // out of order: RabbitMQ confirms 2 while 1 is still outstanding
  assert.deepEqual([...outcomes], [[2, 'ack']]);
  assert.equal(tracker.outstanding, 5);
  tracker.settle(3n, true, true);
  assert.deepEqual([...outcomes], [[2, 'ack'], [1, 'ack'], [3, 'ack']]);
  tracker.settle(4n, false, false);
  assert.equal(outcomes.get(4), 'nack 4');
  const idle = tracker.waitForIdle();
  assert.equal(tracker.outstanding, 2);
  tracker.settle(6n, true, true);
  await idle;
  assert.equal(tracker.outstanding, 0);
  assert.deepEqual([...outcomes.keys()].sort(), [1, 2, 3, 4, 5, 6]);
});

test('failAll fails what is outstanding and wakes waiters with the error; the FIFO stays bounded', async () => {
  const tracker = new ConfirmTracker();
  const outcomes = new Map<number, string>();
  track(tracker, 5000, outcomes);
  for (let tag = 1; tag <= 4000; tag++) tracker.settle(BigInt(tag), false, true);
  assert.equal(tracker.outstanding, 1000);
  const idle = tracker.waitForIdle();
  tracker.failAll(new Error('channel closed'));
  await assert.rejects(idle, /channel closed/);
  assert.equal(outcomes.get(4001), 'channel closed');
  assert.equal(outcomes.get(5000), 'channel closed');
  assert.equal(tracker.outstanding, 0);
});
