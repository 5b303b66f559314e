/** A channel's unacknowledged deliveries (server/amqp/session/unacked-deliveries.ts) against a plain Map model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from '../../../../src/queues/queue.js';
import { UnackedDeliveries, type UnackedDelivery } from '../../../../src/server/amqp/session/unacked-deliveries.js';
import { seededRandom } from '../../../helpers/record-fixtures.js';

function delivery(tag: number): UnackedDelivery {
  return { queue: {} as Queue, message: { offset: tag, redelivered: false, deliveryCount: 0, message: null as never }, consumerTag: null };
}

test('single and multiple acknowledgements take exactly the tags they name; unknown tags are null', () => {
  const unacked = new UnackedDeliveries();
  for (let index = 0; index < 6; index++) {
    const tag = unacked.nextTag();
    if (tag !== 3) unacked.track(tag, delivery(tag)); // 3 went out with no-ack
  }
  assert.equal(unacked.size, 5);
  assert.deepEqual(unacked.take(2, false)?.map((taken) => taken.message.offset), [2]);
  assert.equal(unacked.take(2, false), null, 'taken already');
  assert.equal(unacked.take(3, false), null, 'never tracked');
  assert.equal(unacked.take(0, false), null);
  assert.deepEqual(unacked.take(4, true)?.map((taken) => taken.message.offset), [1, 4]);
  assert.equal(unacked.take(4, true), null, 'nothing left up to 4');
  assert.equal(unacked.take(9, true), null, 'beyond the last tag delivered');
  assert.deepEqual(unacked.takeAll().map((taken) => taken.message.offset), [5, 6]);
  assert.equal(unacked.size, 0);
  const next = unacked.nextTag();
  assert.equal(next, 7);
  unacked.track(next, delivery(next));
  assert.deepEqual(unacked.take(0, true)?.map((taken) => taken.message.offset), [7]);
});

test('random operations agree with a Map model, through compaction', () => {
  const random = seededRandom(7);
  const unacked = new UnackedDeliveries();
  const model = new Map<number, UnackedDelivery>();
  let lastTag = 0;
  for (let step = 0; step < 20_000; step++) {
    const choice = random();
    if (choice < 0.55) {
      const tag = unacked.nextTag();
      lastTag = tag;
      if (random() < 0.9) {
        const entry = delivery(tag);
        unacked.track(tag, entry);
        model.set(tag, entry);
      }
    } else if (choice < 0.8) {
      const tag = 1 + Math.floor(random() * lastTag);
      const expected = model.get(tag);
      const taken = unacked.take(tag, false);
      assert.equal(taken?.[0], expected);
      model.delete(tag);
    } else if (choice < 0.995) {
      const tag = random() < 0.05 ? 0 : 1 + Math.floor(random() * lastTag);
      const expected = [...model].filter(([key]) => tag === 0 || key <= tag).sort(([left], [right]) => left - right);
      const taken = unacked.take(tag, true);
      if (expected.length === 0 && tag !== 0) assert.equal(taken, null);
      else assert.deepEqual(taken, expected.map(([, entry]) => entry));
      for (const [key] of expected) model.delete(key);
    } else {
      assert.deepEqual(unacked.takeAll(), [...model].sort(([left], [right]) => left - right).map(([, entry]) => entry));
      model.clear();
    }
    assert.equal(unacked.size, model.size);
  }
});
