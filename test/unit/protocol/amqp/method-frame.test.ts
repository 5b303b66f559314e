/** methodFrame (protocol/amqp/method-payload.ts): one pass gives the same bytes as a payload framed afterwards. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, frameTypes } from '../../../../src/protocol/amqp/frame-reader.js';
import { methodFrame, methodPayload, type AmqpMethod } from '../../../../src/protocol/amqp/method-payload.js';

test('methodFrame equals encodeFrame of methodPayload, small and large methods alike', () => {
  const large = Buffer.alloc(100_000, 7);
  const methods: AmqpMethod[] = [
    { name: 'basic.ack', arguments: { deliveryTag: 12345678901n, multiple: true } },
    { name: 'basic.deliver', arguments: { consumerTag: 'amq.ctag-x', deliveryTag: 1n, redelivered: false, exchange: 'orders', routingKey: 'eu.created' } },
    { name: 'connection.start', arguments: { versionMajor: 0, versionMinor: 9, serverProperties: new Map([['big', { type: 'longString', value: large }]]), mechanisms: Buffer.from('PLAIN'), locales: Buffer.from('en_US') } },
  ];
  for (const method of methods) {
    for (const channel of [0, 1, 65535]) assert.deepEqual(methodFrame(channel, method), encodeFrame(frameTypes.method, channel, methodPayload(method)), method.name);
  }
});
