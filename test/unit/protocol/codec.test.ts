import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../src/protocol/kafka/codec.js';
import { apiVersionsRequest, apiVersionsResponse } from '../../../src/protocol/kafka/messages/api-versions.js';
import { Reader } from '../../../src/protocol/wire/reader.js';
import { Writer } from '../../../src/protocol/wire/writer.js';
import { MalformedInputError } from '../../../src/protocol/wire/errors.js';

const responseCodec = codecFor(apiVersionsResponse);
const requestCodec = codecFor(apiVersionsRequest);

test('ApiVersions v0 response encodes to the classic layout', () => {
  const writer = new Writer();
  responseCodec.encode(0, { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }] }, writer);
  // errorCode int16, array count int32, then three int16
  assert.deepEqual(writer.toBuffer(), Buffer.from([0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4]));
});

test('ApiVersions v3 response uses compact arrays and an empty tagged section', () => {
  const writer = new Writer();
  responseCodec.encode(3, { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 7 }, writer);
  // errorCode, compact count (1+1), key/min/max, element tag section, throttle, message tag section
  assert.deepEqual(writer.toBuffer(), Buffer.from([0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 7, 0]));
});

test('tagged fields round-trip and are skipped when default', () => {
  const writer = new Writer();
  responseCodec.encode(3, { errorCode: 0, apiKeys: [], finalizedFeaturesEpoch: 5n }, writer);
  const bytes = writer.toBuffer();
  // ... throttle (4 bytes), tag count 1, tag 1, size 8, int64 5
  assert.deepEqual(bytes.subarray(-11), Buffer.from([1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]));
  const decoded = responseCodec.decode(3, new Reader(bytes));
  assert.equal(decoded.finalizedFeaturesEpoch, 5n);
  assert.equal(decoded.zkMigrationReady, false);
  assert.deepEqual(decoded.supportedFeatures, []);
});

test("a non-default value in a request version that cannot carry it throws", () => {
  assert.throws(() => requestCodec.encode(0, { clientSoftwareName: 'kcat', clientSoftwareVersion: '' }, new Writer()), RangeError);
});

test('a response leaves out fields its version cannot carry', () => {
  const writer = new Writer();
  responseCodec.encode(0, { errorCode: 0, apiKeys: [], throttleTimeMs: 5 }, writer);
  assert.deepEqual(writer.toBuffer(), Buffer.from([0, 0, 0, 0, 0, 0]));
});

test('request v3 decodes compact strings', () => {
  const bytes = Buffer.from([4, 0x6b, 0x63, 0x74, 4, 0x31, 0x2e, 0x37, 0]);
  const decoded = requestCodec.decode(3, new Reader(bytes));
  assert.deepEqual(decoded, { clientSoftwareName: 'kct', clientSoftwareVersion: '1.7' });
});

test('truncated input and absurd array counts are malformed, not allocations', () => {
  assert.throws(() => requestCodec.decode(3, new Reader(Buffer.from([4, 0x6b]))), MalformedInputError);
  const hugeCount = Buffer.from([0, 0, 0x7f, 0xff, 0xff, 0xff]);
  assert.throws(() => responseCodec.decode(0, new Reader(hugeCount)), MalformedInputError);
});
