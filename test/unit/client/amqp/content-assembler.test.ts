import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';
import { ContentAssembler } from '../../../../src/client/amqp/content-assembler.js';
import { AmqpClientError } from '../../../../src/client/amqp/errors.js';

test('method, header and body frames make one message; an empty body completes on the header', () => {
  const assembler = new ContentAssembler<string>();
  assembler.start('deliver-1');
  assert.equal(assembler.header(contentHeaderPayload({ bodySize: 6n, properties: { messageId: 'a' } })), null);
  const shared = Buffer.from('abcxyz');
  assert.equal(assembler.body(shared.subarray(0, 3)), null);
  const message = assembler.body(shared.subarray(3));
  shared.fill(0); // the assembled body must not be a view of the frames' buffer
  assert.deepEqual({ method: message?.method, id: message?.properties.messageId, body: message?.body.toString() }, { method: 'deliver-1', id: 'a', body: 'abcxyz' });
  assert.equal(assembler.busy, false);
  assembler.start('deliver-2');
  assert.equal(assembler.header(contentHeaderPayload({ bodySize: 0n, properties: {} }))?.body.length, 0);
});

test('frames out of order or a body longer than announced are refused', () => {
  const assembler = new ContentAssembler<string>();
  assert.throws(() => assembler.header(contentHeaderPayload({ bodySize: 1n, properties: {} })), AmqpClientError);
  assert.throws(() => assembler.body(Buffer.from('x')), AmqpClientError);
  assembler.start('m');
  assert.throws(() => assembler.start('n'), AmqpClientError);
  assembler.header(contentHeaderPayload({ bodySize: 2n, properties: {} }));
  assert.throws(() => assembler.body(Buffer.from('xyz')), AmqpClientError);
});
