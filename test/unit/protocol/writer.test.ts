import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../../src/protocol/wire/writer.js';

test('values written while the scratch buffer grows land in order', () => {
  const writer = new Writer(4);
  for (let value = 0; value < 1000; value++) {
    writer.int32(value);
    writer.int8(value & 0x7f);
    writer.string(`s${value}`);
  }
  const bytes = writer.toBuffer();
  let at = 0;
  for (let value = 0; value < 1000; value++) {
    assert.equal(bytes.readInt32BE(at), value);
    assert.equal(bytes.readInt8(at + 4), value & 0x7f);
    const length = bytes.readInt16BE(at + 5);
    assert.equal(bytes.toString('utf8', at + 7, at + 7 + length), `s${value}`);
    at += 7 + length;
  }
  assert.equal(at, bytes.length);
});

test('large byte strings are kept by reference between scratch chunks', () => {
  const large = Buffer.alloc(4096, 7);
  const writer = new Writer(16);
  writer.int32(1);
  writer.raw(large);
  writer.int32(2);
  const chunks = writer.finish();
  assert.ok(chunks.includes(large));
  const joined = Buffer.concat(chunks);
  assert.equal(joined.readInt32BE(0), 1);
  assert.equal(joined.readInt32BE(4 + 4096), 2);
});

test('a records field keeps its chunks by reference however small (stored bytes are never copied into the response)', () => {
  const small = Buffer.from('a small batch');
  const larger = Buffer.alloc(3000, 9);
  const writer = new Writer(64);
  writer.int32(7);
  writer.records([small, larger, small.subarray(2, 5)], true);
  writer.int32(8);
  const chunks = writer.finish();
  assert.ok(chunks.includes(small), 'the small chunk itself is sent');
  assert.ok(chunks.includes(larger));
  assert.equal(chunks.filter((chunk) => chunk.buffer === small.buffer && chunk.byteOffset === small.byteOffset + 2 && chunk.length === 3).length, 1, 'a view too');
  const joined = Buffer.concat(chunks);
  assert.equal(joined.readInt32BE(0), 7);
  // compact length: byteCount + 1 = 3017 as an unsigned varint (2 bytes)
  assert.deepEqual([...joined.subarray(4, 6)], [(3017 & 0x7f) | 0x80, 3017 >> 7]);
  assert.ok(joined.subarray(6, 6 + 3016).equals(Buffer.concat([small, larger, small.subarray(2, 5)])));
  assert.equal(joined.readInt32BE(6 + 3016), 8);
});

test('patchInt32 rewrites a size placeholder across chunks', () => {
  const writer = new Writer(8);
  writer.int32(0);
  writer.raw(Buffer.alloc(2000, 1));
  writer.int64(5n);
  writer.patchInt32(0, writer.length - 4);
  const bytes = writer.toBuffer();
  assert.equal(bytes.readInt32BE(0), 2008);
  assert.equal(bytes.length, 2012);
});

test('int64 writes every value as Node writes it, on both sides of the safe-integer range', () => {
  const edges = [0n, 1n, -1n, 255n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n), -(2n ** 32n) - 1n, 2n ** 53n - 1n, -(2n ** 53n - 1n), 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)];
  // And values spread over the whole range (a fixed linear congruential sequence, so a failure repeats).
  let seed = 12345n;
  for (let index = 0; index < 2000; index++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    edges.push(BigInt.asIntN(64, seed) >> BigInt(index % 64));
  }
  const writer = new Writer(8);
  for (const value of edges) writer.int64(value);
  const bytes = writer.toBuffer();
  const expected = Buffer.alloc(edges.length * 8);
  edges.forEach((value, index) => expected.writeBigInt64BE(value, index * 8));
  assert.deepEqual(bytes, expected);
});
