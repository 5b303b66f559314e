/**
 * The broker's FrameWriter: sendDelivery writes the same bytes as sendContent with a basic.deliver
 * method (the general encoder, itself tested against amqplib), whatever the body size, frame_max,
 * tag or names; many deliveries in one turn cross slab boundaries without losing or reordering a
 * byte; bytes handed to the socket are never overwritten by later frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { encodeConsumerTag, FrameWriter } from '../../../../src/server/amqp/frame-writer.js';
import { AmqpFrameReader, frameTypes } from '../../../../src/protocol/amqp/frame-reader.js';
import { decodeMethodPayload } from '../../../../src/protocol/amqp/method-payload.js';
import { decodeContentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';

class RecordingSocket extends EventEmitter {
  /** What was written, as the socket holds it (not copied: a later overwrite would show). */
  readonly writes: Buffer[] = [];
  destroyed = false;
  writable = true;
  writableLength = 0;
  write(bytes: Buffer): boolean {
    this.writes.push(bytes);
    return true;
  }
  cork(): void {}
  uncork(): void {}
  bytes(): Buffer {
    return Buffer.concat(this.writes);
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface DeliveryCase {
  tag: string;
  deliveryTag: number;
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  properties: Buffer;
  body: Buffer;
}

async function bothWays(frameMaxBytes: number, deliveries: readonly DeliveryCase[]): Promise<{ general: Buffer; fast: Buffer }> {
  const generalSocket = new RecordingSocket();
  const fastSocket = new RecordingSocket();
  const general = new FrameWriter(generalSocket as unknown as Socket, frameMaxBytes);
  const fast = new FrameWriter(fastSocket as unknown as Socket, frameMaxBytes);
  for (const delivery of deliveries) {
    general.sendContent(
      7,
      { name: 'basic.deliver', arguments: { consumerTag: delivery.tag, deliveryTag: BigInt(delivery.deliveryTag), redelivered: delivery.redelivered, exchange: delivery.exchange, routingKey: delivery.routingKey } },
      delivery.properties,
      delivery.body,
    );
    fast.sendDelivery(7, encodeConsumerTag(delivery.tag), delivery.deliveryTag, delivery.redelivered, delivery.exchange, delivery.routingKey, delivery.properties, delivery.body);
  }
  await nextTurn();
  return { general: generalSocket.bytes(), fast: fastSocket.bytes() };
}

test('sendDelivery writes what sendContent writes for basic.deliver, for every body size around the frame and copy limits', async () => {
  const properties = Buffer.from([0x90, 0x00, 0x0a, ...Buffer.from('text/plain'), 0x02]);
  for (const frameMaxBytes of [4096, 131072]) {
    for (const bodyBytes of [0, 1, 100, 4087, 4088, 4089, 4095, 4096, 10_000, 300_000]) {
      const body = Buffer.alloc(bodyBytes, bodyBytes % 251);
      const { general, fast } = await bothWays(frameMaxBytes, [
        { tag: 'amq.ctag-1', deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'work', properties, body },
        { tag: 'ünïcode-tag', deliveryTag: 2 ** 40 + 5, redelivered: true, exchange: 'ex.ümlaut', routingKey: 'a'.repeat(255), properties: Buffer.from([0, 0]), body },
      ]);
      assert.ok(general.equals(fast), `frame_max ${frameMaxBytes}, body ${bodyBytes} B: the bytes differ`);
      // Read back with the protocol's own reader and codecs: two deliveries, each body whole, no frame over frame_max.
      const reader = new AmqpFrameReader(frameMaxBytes);
      reader.push(fast);
      const methods: string[] = [];
      const bodies: Buffer[] = [];
      for (let frame = reader.next(); frame !== null; frame = reader.next()) {
        if (frame.type === frameTypes.method) {
          const method = decodeMethodPayload(frame.payload);
          methods.push(method.name === 'basic.deliver' ? `${method.arguments.consumerTag}/${method.arguments.deliveryTag}/${method.arguments.redelivered}/${method.arguments.exchange}` : method.name);
          bodies.push(Buffer.alloc(0));
        } else if (frame.type === frameTypes.header) {
          assert.equal(Number(decodeContentHeaderPayload(frame.payload).bodySize), bodyBytes);
        } else if (frame.type === frameTypes.body) {
          bodies[bodies.length - 1] = Buffer.concat([bodies[bodies.length - 1]!, frame.payload]);
        }
      }
      assert.deepEqual(methods, ['amq.ctag-1/1/false/', `ünïcode-tag/${2 ** 40 + 5}/true/ex.ümlaut`]);
      assert.ok(bodies.every((received) => received.equals(body)));
    }
  }
});

test('thousands of deliveries in one turn cross slab boundaries in order, and written bytes stay as written', async () => {
  const deliveries: DeliveryCase[] = [];
  for (let index = 0; index < 5000; index++) {
    const bodyBytes = index % 97 === 0 ? 5000 : 50 + (index % 300);
    deliveries.push({ tag: `c${index % 3}`, deliveryTag: index + 1, redelivered: index % 2 === 0, exchange: 'orders', routingKey: `key.${index}`, properties: Buffer.from([0, 0]), body: Buffer.alloc(bodyBytes, index % 256) });
  }
  const socket = new RecordingSocket();
  const writer = new FrameWriter(socket as unknown as Socket, 131072);
  const general = new RecordingSocket();
  const generalWriter = new FrameWriter(general as unknown as Socket, 131072);
  // Two turns, the second written after the first was handed over: the first turn's bytes must not change.
  for (const turn of [deliveries.slice(0, 2500), deliveries.slice(2500)]) {
    for (const delivery of turn) {
      writer.sendDelivery(1, encodeConsumerTag(delivery.tag), delivery.deliveryTag, delivery.redelivered, delivery.exchange, delivery.routingKey, delivery.properties, delivery.body);
      generalWriter.sendContent(
        1,
        { name: 'basic.deliver', arguments: { consumerTag: delivery.tag, deliveryTag: BigInt(delivery.deliveryTag), redelivered: delivery.redelivered, exchange: delivery.exchange, routingKey: delivery.routingKey } },
        delivery.properties,
        delivery.body,
      );
    }
    assert.ok(writer.unsentBytes > 0, 'gathered until the end of the turn');
    await nextTurn();
  }
  assert.ok(socket.bytes().equals(general.bytes()));
  assert.ok(socket.writes.length > 2, 'large bodies are written as their own buffers');
});

test('a method sent between deliveries keeps its place', async () => {
  const socket = new RecordingSocket();
  const writer = new FrameWriter(socket as unknown as Socket, 131072);
  const general = new RecordingSocket();
  const generalWriter = new FrameWriter(general as unknown as Socket, 131072);
  const deliver = { name: 'basic.deliver', arguments: { consumerTag: 't', deliveryTag: 1n, redelivered: false, exchange: '', routingKey: 'q' } } as const;
  writer.sendDelivery(1, encodeConsumerTag('t'), 1, false, '', 'q', Buffer.from([0, 0]), Buffer.from('one'));
  writer.sendMethod(1, { name: 'basic.cancel-ok', arguments: { consumerTag: 't' } });
  writer.sendHeartbeat();
  generalWriter.sendContent(1, deliver, Buffer.from([0, 0]), Buffer.from('one'));
  generalWriter.sendMethod(1, { name: 'basic.cancel-ok', arguments: { consumerTag: 't' } });
  generalWriter.sendHeartbeat();
  await nextTurn();
  assert.ok(socket.bytes().equals(general.bytes()));
  assert.equal(socket.writes.length, 1, 'small frames of one turn leave in one write');
});

test('a shortstr longer than 255 bytes is refused', () => {
  assert.throws(() => encodeConsumerTag('x'.repeat(256)), RangeError);
  const writer = new FrameWriter(new RecordingSocket() as unknown as Socket, 131072);
  assert.throws(() => writer.sendDelivery(1, encodeConsumerTag('t'), 1, false, 'é'.repeat(128), 'q', Buffer.from([0, 0]), Buffer.alloc(1)), RangeError);
});
