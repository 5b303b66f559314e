/**
 * FrameWriter: a turn's frames leave in one socket write, and a body larger than frame_max is cut
 * into frames no larger than it. The bytes are read back with the protocol's frame reader and codecs
 * (themselves tested against amqplib); the integration test checks the same against RabbitMQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { AmqpFrameReader, frameTypes } from '../../../../src/protocol/amqp/frame-reader.js';
import { decodeMethodPayload } from '../../../../src/protocol/amqp/method-payload.js';
import { decodeContentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';
import { FrameWriter } from '../../../../src/client/amqp/frame-writer.js';

class RecordingSocket extends EventEmitter {
  readonly writes: Buffer[] = [];
  destroyed = false;
  writableNeedDrain = false;
  write(bytes: Buffer): boolean {
    this.writes.push(Buffer.from(bytes));
    return true;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('a thousand publishes in one turn leave in one write, in order', async () => {
  const socket = new RecordingSocket();
  const writer = new FrameWriter(socket as unknown as Socket, 131072);
  for (let index = 0; index < 1000; index++) {
    writer.method(1, { name: 'basic.publish', arguments: { reserved1: 0, exchange: '', routingKey: 'q', mandatory: false, immediate: false } });
    writer.content(1, { deliveryMode: 2 }, Buffer.from(`m${index}`));
  }
  assert.equal(socket.writes.length, 0, 'nothing written before the end of the turn');
  assert.ok(writer.queuedBytes > 0);
  await nextTurn();
  assert.equal(socket.writes.length, 1);
  assert.equal(writer.queuedBytes, 0);
  const reader = new AmqpFrameReader(131072);
  reader.push(socket.writes[0]!);
  const bodies: string[] = [];
  for (let frame = reader.next(); frame !== null; frame = reader.next()) {
    assert.equal(frame.channel, 1);
    if (frame.type === frameTypes.method) assert.equal(decodeMethodPayload(frame.payload).name, 'basic.publish');
    if (frame.type === frameTypes.header) assert.equal(decodeContentHeaderPayload(frame.payload).properties.deliveryMode, 2);
    if (frame.type === frameTypes.body) bodies.push(frame.payload.toString());
  }
  assert.deepEqual(bodies, Array.from({ length: 1000 }, (_, index) => `m${index}`));
  writer.heartbeat();
  await nextTurn();
  assert.equal(socket.writes.length, 2);
  assert.deepEqual([...socket.writes[1]!], [8, 0, 0, 0, 0, 0, 0, 0xce]);
});

test('bodies are split so that no frame exceeds frame_max; an empty body has no body frame', async () => {
  for (const [frameMaxBytes, bodyBytes, expectedFrames] of [[4096, 10_000, 3], [4096, 4088, 1], [4096, 4089, 2], [4096, 0, 0]] as const) {
    const socket = new RecordingSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 131072);
    writer.frameMaxBytes = frameMaxBytes;
    const body = Buffer.alloc(bodyBytes, 0x61);
    writer.content(3, {}, body);
    await nextTurn();
    const reader = new AmqpFrameReader(frameMaxBytes);
    reader.push(socket.writes[0]!);
    const header = reader.next();
    assert.equal(header?.type, frameTypes.header);
    assert.equal(decodeContentHeaderPayload(header.payload).bodySize, BigInt(bodyBytes));
    const parts: Buffer[] = [];
    for (let frame = reader.next(); frame !== null; frame = reader.next()) parts.push(frame.payload);
    assert.equal(parts.length, expectedFrames, `${bodyBytes} bytes at frame_max ${frameMaxBytes}`);
    assert.ok(Buffer.concat(parts).equals(body));
  }
});
