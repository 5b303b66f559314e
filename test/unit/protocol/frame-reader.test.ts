import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, FrameTooLargeError } from '../../../src/protocol/kafka/frame-reader.js';

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
      reader.push(stream.subarray(at, at + step));
      received.push(...reader.drain());
      at += step;
    }
    assert.deepEqual(received, payloads, `seed ${seed}`);
    assert.equal(reader.buffered, 0);
  }
});

test('a size over the limit or negative is refused before buffering', () => {
  const reader = new FrameReader(100);
  reader.push(Buffer.from([0, 0, 0, 101]));
  assert.throws(() => reader.next(), FrameTooLargeError);
  const negative = new FrameReader(100);
  negative.push(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
  assert.throws(() => negative.next(), FrameTooLargeError);
});

test('an empty frame is delivered as an empty buffer', () => {
  const reader = new FrameReader(100);
  reader.push(Buffer.from([0, 0, 0, 0]));
  assert.deepEqual(reader.drain(), [Buffer.alloc(0)]);
});

test('frames are taken one at a time, and the size limit can change between two frames of one chunk', () => {
  const reader = new FrameReader(16, 'small limit');
  reader.push(framed([Buffer.alloc(10, 1), Buffer.alloc(30, 2)]));
  assert.equal(reader.next()?.length, 10);
  assert.equal(reader.buffered, 34, 'the second frame waits, untouched');
  assert.throws(() => reader.next(), /frame of 30 bytes exceeds the limit of 16 \(small limit\)/);
  const lifted = new FrameReader(16, 'small limit');
  lifted.push(framed([Buffer.alloc(10, 1), Buffer.alloc(30, 2)]));
  assert.equal(lifted.next()?.length, 10);
  lifted.setMaxFrameBytes(64, 'large limit');
  assert.deepEqual(lifted.next(), Buffer.alloc(30, 2));
  assert.equal(lifted.next(), null);
});

test('an unfinished frame reports its announced size and the bytes it has', () => {
  const reader = new FrameReader(1024);
  reader.push(Buffer.from([0, 0, 0, 100, 1, 2, 3]));
  assert.equal(reader.next(), null);
  assert.equal(reader.announcedFrameBytes, 100);
  assert.deepEqual(reader.unfinishedFrame, { receivedBytes: 3, frameBytes: 100 });
});
