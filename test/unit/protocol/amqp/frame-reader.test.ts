/**
 * The AMQP frame reader (src/protocol/amqp/frame-reader.ts) against frames amqplib itself builds
 * (method, content header, body, heartbeat), fed whole and split at random points; and malformed
 * frames refused with AmqpFrameError before anything is buffered for them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmqpFrameError, AmqpFrameReader, checkProtocolHeader, encodeFrame, frameTypes, protocolHeader } from '../../../../src/protocol/amqp/frame-reader.js';
import type { AmqpFrame } from '../../../../src/protocol/amqp/frame-reader.js';
import { amqplibDefinitions, amqplibFrame } from './amqplib-oracle.js';
import { seededRandom } from '../../../helpers/record-fixtures.js';

const channelOpen = 20 << 16 | 10;
const basicPublish = 60 << 16 | 40;
const basicClass = 60;

/** A publish as amqplib writes it: method, content header, two body frames, a heartbeat. */
function amqplibFrames(): Buffer[] {
  const body = Buffer.from('x'.repeat(300));
  return [
    amqplibDefinitions.encodeMethod(channelOpen, 3, { outOfBand: '' }),
    amqplibDefinitions.encodeMethod(basicPublish, 3, { ticket: 0, exchange: 'orders', routingKey: 'eu.new', mandatory: true, immediate: false }),
    amqplibDefinitions.encodeProperties(basicClass, 3, body.length, { contentType: 'text/plain', headers: { attempt: 2 }, deliveryMode: 2 }),
    amqplibFrame.makeBodyFrame(3, body.subarray(0, 200)),
    amqplibFrame.makeBodyFrame(3, body.subarray(200)),
    amqplibFrame.HEARTBEAT_BUF,
  ];
}

function expected(frames: Buffer[]): AmqpFrame[] {
  return frames.map((frame) => ({ type: frame.readUInt8(0) as AmqpFrame['type'], channel: frame.readUInt16BE(1), payload: frame.subarray(7, frame.length - 1) }));
}

function readAll(reader: AmqpFrameReader): AmqpFrame[] {
  const frames: AmqpFrame[] = [];
  for (let frame = reader.next(); frame !== null; frame = reader.next()) frames.push(frame);
  return frames;
}

test('our protocol header is the one amqplib sends', () => {
  assert.deepEqual(protocolHeader, Buffer.from(amqplibFrame.PROTOCOL_HEADER, 'latin1'));
  assert.equal(checkProtocolHeader(Buffer.from(amqplibFrame.PROTOCOL_HEADER, 'latin1')), 'amqp-0-9-1');
  assert.equal(checkProtocolHeader(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 0])), 'other');
  assert.equal(checkProtocolHeader(Buffer.from('GET / HT')), 'other');
});

test('amqplib\'s frames come out whole, with their types, channels and payloads, at any split', () => {
  const frames = amqplibFrames();
  const stream = Buffer.concat(frames);
  const want = expected(frames);
  assert.deepEqual(want.map((frame) => frame.type), [frameTypes.method, frameTypes.method, frameTypes.header, frameTypes.body, frameTypes.body, frameTypes.heartbeat]);
  const random = seededRandom(11);
  for (let round = 0; round < 300; round++) {
    const reader = new AmqpFrameReader(131072);
    const got: AmqpFrame[] = [];
    let at = 0;
    while (at < stream.length) {
      const step = round === 0 ? 1 : 1 + Math.floor(random() * 97);
      reader.push(stream.subarray(at, at + step));
      at += step;
      got.push(...readAll(reader));
    }
    assert.deepEqual(got, want, `round ${round}`);
    assert.equal(reader.buffered, 0);
  }
});

test('the protocol header is taken as raw octets before the first frame', () => {
  const reader = new AmqpFrameReader(131072);
  const open = amqplibDefinitions.encodeMethod(channelOpen, 1, { outOfBand: '' });
  const stream = Buffer.concat([protocolHeader, open]);
  reader.push(stream.subarray(0, 5));
  assert.equal(reader.takeOctets(8), null);
  reader.push(stream.subarray(5));
  assert.equal(checkProtocolHeader(reader.takeOctets(8)!), 'amqp-0-9-1');
  assert.deepEqual(readAll(reader), expected([open]));
});

test('our encodeFrame writes what amqplib writes', () => {
  const payload = Buffer.from('hello');
  assert.deepEqual(encodeFrame(frameTypes.body, 7, payload), amqplibFrame.makeBodyFrame(7, payload));
  assert.deepEqual(encodeFrame(frameTypes.heartbeat, 0, Buffer.alloc(0)), amqplibFrame.HEARTBEAT_BUF);
});

test('a frame larger than frame_max is refused from its header, before its payload arrives', () => {
  const reader = new AmqpFrameReader(4096);
  const header = Buffer.from([frameTypes.body, 0, 1, 0, 0, 0x10, 0]); // payload of 4096: 4104 with the overhead
  reader.push(header);
  assert.throws(() => reader.next(), (error: unknown) => error instanceof AmqpFrameError && /exceeds frame_max 4096/.test(error.message));
  const fits = new AmqpFrameReader(4096);
  fits.push(encodeFrame(frameTypes.body, 1, Buffer.alloc(4096 - 8)));
  assert.equal(fits.next()?.payload.length, 4088);
});

test('a wrong frame-end octet and an unknown frame type are frame errors', () => {
  const badEnd = encodeFrame(frameTypes.method, 1, Buffer.from([0, 20, 0, 10, 0]));
  badEnd[badEnd.length - 1] = 0xcd;
  const reader = new AmqpFrameReader(131072);
  reader.push(badEnd);
  assert.throws(() => reader.next(), (error: unknown) => error instanceof AmqpFrameError && /0xcd, not 0xce/.test(error.message));
  const badType = encodeFrame(frameTypes.method, 1, Buffer.alloc(3));
  badType[0] = 4;
  const other = new AmqpFrameReader(131072);
  other.push(badType);
  assert.throws(() => other.next(), (error: unknown) => error instanceof AmqpFrameError && /unknown frame type 4/.test(error.message));
});
