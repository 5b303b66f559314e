/** Publisher confirms (server/amqp/session/confirms.ts): the acks and nacks a channel sends, and when. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AmqpMethod } from '../../../../src/protocol/amqp/method-payload.js';
import { PublisherConfirms } from '../../../../src/server/amqp/session/confirms.js';

function recorder(): { confirms: PublisherConfirms; sent: string[] } {
  const sent: string[] = [];
  const confirms = new PublisherConfirms((method: AmqpMethod) => {
    if (method.name === 'basic.ack' || method.name === 'basic.nack') sent.push(`${method.name === 'basic.ack' ? 'ack' : 'nack'} ${method.arguments.deliveryTag}${method.arguments.multiple ? ' multiple' : ''}`);
  });
  return { confirms, sent };
}

test('confirmations of one turn go out as one ack covering the confirmed prefix', async () => {
  const { confirms, sent } = recorder();
  const sequences = [confirms.next(), confirms.next(), confirms.next()];
  assert.deepEqual(sequences, [1, 2, 3]);
  for (const sequence of sequences) confirms.confirmed(sequence);
  assert.deepEqual(sent, [], 'nothing is sent before the turn ends');
  await nextTurn();
  assert.deepEqual(sent, ['ack 3 multiple']);
});

test('a later publish confirmed first waits for the earlier ones; a single one is acked alone', async () => {
  const { confirms, sent } = recorder();
  const [first, second] = [confirms.next(), confirms.next()];
  confirms.confirmed(second);
  await nextTurn();
  assert.deepEqual(sent, []);
  confirms.confirmed(first);
  await nextTurn();
  assert.deepEqual(sent, ['ack 2 multiple']);
  confirms.confirmed(confirms.next());
  await nextTurn();
  assert.deepEqual(sent, ['ack 2 multiple', 'ack 3']);
});

test('a failed publish is nacked on its own between the acks of its neighbours', async () => {
  const { confirms, sent } = recorder();
  const sequences = [1, 2, 3, 4, 5].map(() => confirms.next());
  confirms.failedToStore(3);
  for (const sequence of sequences) if (sequence !== 3) confirms.confirmed(sequence);
  await nextTurn();
  assert.deepEqual(sent, ['ack 2 multiple', 'nack 3', 'ack 5 multiple']);
});

test('nothing is sent after the channel closed', async () => {
  const { confirms, sent } = recorder();
  const sequence = confirms.next();
  confirms.close();
  confirms.confirmed(sequence);
  await nextTurn();
  assert.deepEqual(sent, []);
});

test('a long stream with many outstanding at once, confirmed out of order, is acked exactly up to the first unconfirmed', async () => {
  const { confirms, sent } = recorder();
  let confirmedUpTo = 0;
  const outstanding: number[] = [];
  // Windows larger than the initial window, slid many times over; confirmations in reverse order per round.
  for (let round = 0; round < 50; round++) {
    for (let index = 0; index < 3000; index++) outstanding.push(confirms.next());
    const [holdBack] = outstanding.splice(1500, 1); // one in the middle stays unconfirmed this round
    for (const sequence of outstanding.reverse()) confirms.confirmed(sequence);
    outstanding.length = 0;
    await nextTurn();
    assert.deepEqual(sent.splice(0), [`ack ${holdBack! - 1} multiple`], `round ${round}: acked up to the held-back one`);
    confirms.confirmed(holdBack!);
    confirmedUpTo = holdBack! + 1499;
    await nextTurn();
    assert.equal(sent.pop(), `ack ${confirmedUpTo} multiple`);
  }
  confirms.confirmed(confirmedUpTo); // already confirmed: nothing more
  confirms.confirmed(10 ** 9); // never handed out: ignored
  await nextTurn();
  assert.deepEqual(sent, []);
});
