import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, FrameTooLargeError } from '../../../src/server/kafka/frame-reader.js';

/** A small deterministic generator so a failure can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function framed(payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((payload) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(payload.length);
      return [size, payload];
    }),
  );
}

test('frames come out whole and in order however the stream is split', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = seededRandom(seed);
    const payloads = Array.from({ length: 1 + Math.floor(random() * 20) }, (_, index) =>
      Buffer.alloc(Math.floor(random() * 300), index + seed),
    );
    const stream = framed(payloads);
    const reader = new FrameReader(1024);
    const received: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const step = 1 + Math.floor(random() * 64);
      received.push(...reader.push(stream.subarray(at, at + step)));
      at += step;
    }
    assert.deepEqual(received, payloads, `seed ${seed}`);
    assert.equal(reader.buffered, 0);
  }
});

test('a size over the limit or negative is refused before buffering', () => {
  const reader = new FrameReader(100);
  assert.throws(() => reader.push(Buffer.from([0, 0, 0, 101])), FrameTooLargeError);
  const negative = new FrameReader(100);
  assert.throws(() => negative.push(Buffer.from([0xff, 0xff, 0xff, 0xfe])), FrameTooLargeError);
});

test('an empty frame is delivered as an empty buffer', () => {
  const reader = new FrameReader(100);
  assert.deepEqual(reader.push(Buffer.from([0, 0, 0, 0])), [Buffer.alloc(0)]);
});

test('each frame is reserved when its size is read; a refused reservation stops the reader until drain()', () => {
  const reservations: number[] = [];
  let allow = true;
  const reader = new FrameReader(1024, (frameBytes) => {
    if (!allow) return false;
    reservations.push(frameBytes);
    return true;
  });
  const stream = framed([Buffer.alloc(10, 1), Buffer.alloc(20, 2), Buffer.alloc(30, 3)]);
  // The first frame and the prefix of the second arrive: the second is reserved before its body is here.
  assert.deepEqual(reader.push(stream.subarray(0, 14 + 4)).map((frame) => frame.length), [10]);
  assert.deepEqual(reservations, [10, 20]);
  allow = false;
  assert.deepEqual(reader.push(stream.subarray(18)).map((frame) => frame.length), [20], 'the reserved frame completes');
  assert.equal(reader.waitingForMemory, true, 'the third frame waits for memory');
  assert.deepEqual(reader.drain(), [], 'still no memory');
  allow = true;
  assert.deepEqual(reader.drain().map((frame) => [frame.length, frame[0]]), [[30, 3]]);
  assert.equal(reader.waitingForMemory, false);
  assert.deepEqual(reservations, [10, 20, 30]);
});
