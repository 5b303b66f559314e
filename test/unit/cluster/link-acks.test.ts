/**
 * Acks over a queue link gathered per turn (src/cluster/link-acks.ts): one multiple ack for the run
 * of settled tags from the oldest outstanding one, single acks past a gap, given-back tags passed over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkAcks } from '../../../src/cluster/link-acks.js';

function recorder(): { sent: string[]; acks: LinkAcks } {
  const sent: string[] = [];
  return { sent, acks: new LinkAcks((tag, multiple) => sent.push(`${tag}${multiple ? '+' : ''}`)) };
}

test('a run of settled tags from the oldest outstanding one is one multiple ack; tags past a gap are acked singly', () => {
  const { sent, acks } = recorder();
  for (let tag = 3n; tag <= 10n; tag++) acks.delivered(tag);
  acks.givenBack(4n);
  for (const tag of [6n, 3n, 5n, 7n, 9n]) acks.ack(tag);
  assert.equal(acks.pending, true);
  acks.flush();
  assert.deepEqual(sent, ['7+', '9']);
  assert.equal(acks.pending, false);
  // 8 given back, then 10 acked: 8 and 9 are settled there already, so the run reaches 10.
  acks.givenBack(8n);
  acks.ack(10n);
  acks.flush();
  assert.deepEqual(sent, ['7+', '9', '10+']);
});

test('nothing is sent for a flush without acks, nor for tags only given back', () => {
  const { sent, acks } = recorder();
  acks.delivered(1n);
  acks.delivered(2n);
  acks.flush();
  acks.givenBack(1n);
  acks.flush();
  assert.deepEqual(sent, []);
  acks.ack(2n);
  acks.flush();
  assert.deepEqual(sent, ['2+']);
});

test('many turns of in-order acks: one multiple ack each, and the outstanding list does not grow without bound', () => {
  const { sent, acks } = recorder();
  let next = 1n;
  for (let turn = 0; turn < 100; turn++) {
    const first = next;
    for (let index = 0; index < 50; index++) acks.delivered(next++);
    for (let tag = first; tag < next; tag++) acks.ack(tag);
    acks.flush();
  }
  assert.equal(sent.length, 100);
  assert.equal(sent.at(-1), `${next - 1n}+`);
  assert.ok(((acks as unknown as { outstanding: bigint[] }).outstanding.length) <= 2048);
});
