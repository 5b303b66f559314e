/**
 * Hostile and broken input against a real broker process.
 *
 * Frames the broker cannot parse close that one connection, with a log line saying why; the broker
 * stays up and other connections keep working (DESIGN.md, decision 8). Record batches it must refuse
 * are answered with Kafka error codes, and leave the log as it was. A client that sends without
 * reading, or many clients hanging up mid-frame, cannot make the broker's memory grow without bound
 * (decision 7).
 *
 * Every malformed request here is written by hand; well-formed ones are encoded with our codecs and
 * record batches with the spec-written encoder in ../helpers/raw-kafka-client.ts. A second client,
 * kafkajs, checks after each case that the broker still answers someone else.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from '@node-rs/crc32';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { metricValue, waitUntil } from '../helpers/waiting.js';
import {
  batchOffsets,
  decodeRecordBatches,
  decodeResponse,
  encodeRecordBatch,
  encodeRequestFrame,
  frame,
  openFileDescriptors,
  processIsAlive,
  rawApi,
  RawKafkaConnection,
  requestPayload,
  residentBytes,
  updateCrc,
} from '../helpers/raw-kafka-client.js';
import type { TestRecord } from '../helpers/raw-kafka-client.js';

const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);

const megabyte = 1024 * 1024;
const defaultFrameLimitBytes = 100 * megabyte;
/** Set on the test broker, so that a too-large batch is cheap to build. */
const maxMessageBytes = 65_536;
const zeroUuid = Buffer.alloc(16);

const errorCode = {
  none: 0,
  corruptMessage: 2,
  unknownTopicOrPartition: 3,
  messageTooLarge: 10,
  invalidRequiredAcks: 21,
  unsupportedVersion: 35,
  unsupportedForMessageFormat: 43,
  unsupportedCompressionType: 76,
  invalidRecord: 87,
} as const;

let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;

function brokerArgs(extra: readonly string[] = []): string[] {
  // Every case looks for its own "closing connection" line: no log budget here.
  return ['--topic-defaults.max-message-bytes', String(maxMessageBytes), '--log-lines-per-message', '1000000', ...extra];
}

/** A well-formed first request: until one arrives, frames are limited to maxUnauthenticatedFrameBytes. */
function firstRequest(): Buffer {
  return encodeRequestFrame(apiVersionsApi, 3, 100, { clientSoftwareName: 'osprey-test', clientSoftwareVersion: '1.0' });
}

before(async () => {
  // The data directory inside a folder of its own: the invalid-topic-name tests check that nothing
  // appears beside it, which a shared /tmp cannot tell (other test files create folders there).
  broker = await startBrokerProcess({ dataDir: join(temporaryDirectory(), 'data'), args: brokerArgs() });
  kafka = new Kafka({ clientId: 'bad-input-bystander', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect().catch(() => undefined);
  if (broker !== undefined && broker.exitCode === null && broker.exitSignal === null) await broker.stop();
});

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────

function open(options: { reading?: boolean } = {}): Promise<RawKafkaConnection> {
  return RawKafkaConnection.open(broker.host, broker.port, options);
}

/** Waits for a log line matching `pattern` written after `mark` (a length of broker.logs()). */
async function waitForLogAfter(mark: number, pattern: RegExp, timeoutMs = 5_000): Promise<string> {
  const found = () => broker.logs().slice(mark).split('\n').find((candidate) => pattern.test(candidate));
  await waitUntil(() => found() !== undefined, `a log line matching ${String(pattern)}`, timeoutMs, () => `logs since the mark:\n${broker.logs().slice(mark)}`);
  return found()!;
}

/** Bytes of requests the broker holds (received, not answered): it claims them as they arrive. */
function requestMemoryBytes(): Promise<number> {
  return metricValue(broker, 'osprey_request_memory_bytes');
}

/** Resolves once the broker holds at least `bytes` of request memory: it has read what was sent. */
function waitUntilBrokerHolds(bytes: number): Promise<void> {
  return waitUntil(async () => (await requestMemoryBytes()) >= bytes, `the broker to hold ${bytes} bytes of requests`, 10_000);
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The broker process runs, a fresh raw connection gets Metadata, and kafkajs's connection still lists topics. */
async function assertHealthy(): Promise<void> {
  assert.equal(broker.exitCode, null, `broker exited:\n${broker.logs()}`);
  assert.equal(broker.exitSignal, null, `broker died of a signal:\n${broker.logs()}`);
  assert.ok(processIsAlive(broker.pid), 'broker process is gone');
  const connection = await open();
  try {
    const metadata = await connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.equal(metadata.brokers.length, 1);
    assert.equal(metadata.brokers[0]?.port, broker.port);
  } finally {
    connection.destroy();
  }
  const topics = await admin.listTopics();
  assert.ok(Array.isArray(topics));
}

/**
 * Sends `bytes` on a new connection and expects the broker to hang up on it, logging a
 * "closing connection" line for that peer whose reason matches `reason`; then checks the broker is
 * healthy. Returns the log line.
 */
async function expectClose(bytes: Buffer, reason: RegExp): Promise<string> {
  const mark = broker.logs().length;
  const connection = await open();
  const peer = `peer=127.0.0.1:${connection.socket.localPort}`;
  connection.write(bytes);
  await connection.waitForClose();
  assert.ok(connection.closedByPeer || connection.errors.length > 0, 'the broker closed the connection');
  const line = await waitForLogAfter(mark, new RegExp(`WARN closing connection .*${escapeRegExp(peer)}`));
  assert.match(line, reason);
  await assertHealthy();
  return line;
}

function int16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeInt16BE(value);
  return bytes;
}

function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

function classicString(text: string): Buffer {
  return Buffer.concat([int16(Buffer.byteLength(text)), Buffer.from(text)]);
}

/** A deterministic stream of bytes (xorshift32), for garbage that is the same on every run. */
function seededBytes(seed: number, byteCount: number): Buffer {
  const bytes = Buffer.alloc(byteCount);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < byteCount; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

// ── Framing and request headers: the connection is closed ───────────────────────────────────────

describe('frames and requests the broker cannot parse close that connection only', () => {
  test('a negative frame length', async () => {
    await expectClose(int32(-1), /reason=.*frame of -1 bytes/);
    await expectClose(int32(-2_147_483_648), /reason=.*frame of -2147483648 bytes/);
  });

  test('a 2 GB frame length is refused before anything is buffered for it', async () => {
    const before = residentBytes(broker.pid);
    // After a first request, the size prefix, then a megabyte of the "frame" the broker must not wait for or keep.
    await expectClose(Buffer.concat([firstRequest(), int32(0x7fffffff), Buffer.alloc(megabyte, 0x61)]), new RegExp(`reason=.*frame of 2147483647 bytes exceeds the limit of ${defaultFrameLimitBytes}`));
    const grownBytes = residentBytes(broker.pid) - before;
    assert.ok(grownBytes < 50 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB`);
  });

  test('a frame at the size limit that never arrives is not allocated up front', async () => {
    const before = residentBytes(broker.pid);
    const connection = await open();
    const partial = Buffer.concat([int32(defaultFrameLimitBytes), requestPayload(3, 1, 1, Buffer.alloc(0), { flexible: false }), Buffer.alloc(64 * 1024)]);
    connection.write(Buffer.concat([firstRequest(), partial]));
    await waitUntilBrokerHolds(partial.length);
    assert.equal(connection.closed, false, 'a frame within the limit is waited for');
    const grownBytes = residentBytes(broker.pid) - before;
    assert.ok(grownBytes < 50 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB for a frame it has 64 KB of`);
    connection.destroy();
    await assertHealthy();
  });

  test('a client that hangs up in the middle of a frame leaves a log line', async () => {
    const mark = broker.logs().length;
    const connection = await open();
    const peer = `peer=127.0.0.1:${connection.socket.localPort}`;
    const partial = Buffer.concat([int32(100), Buffer.from([0, 18, 0, 3, 0, 0, 0, 1])]); // 8 of 100 announced bytes
    connection.write(partial);
    await waitUntilBrokerHolds(partial.length);
    connection.destroy();
    const line = await waitForLogAfter(mark, new RegExp(`WARN connection closed by the client in the middle of a frame .*${escapeRegExp(peer)}`));
    assert.match(line, /receivedBytes=8/);
    assert.match(line, /frameBytes=100/);
    await assertHealthy();
  });

  test('frames shorter than a request header', async () => {
    await expectClose(frame(Buffer.from([0, 3, 0])), /reason=.*request of 3 bytes is shorter than a header/);
    await expectClose(frame(Buffer.alloc(0)), /reason=.*request of 0 bytes is shorter than a header/);
    // The fixed header is there but the client id's length runs past the frame.
    await expectClose(frame(Buffer.concat([int16(3), int16(1), int32(7), int16(20), Buffer.from('abc')])), /reason=.*malformed Metadata v1 request/);
  });

  test('a string length running past the end of the frame', async () => {
    const body = Buffer.concat([int32(1), int16(100), Buffer.from('abc')]);
    const line = await expectClose(frame(requestPayload(3, 1, 1, body, { flexible: false })), /reason=.*malformed Metadata v1 request/);
    assert.match(line, /need 100 bytes, 3 left/);
    const negative = Buffer.concat([int32(1), int16(-2), Buffer.from('abc')]);
    assert.match(await expectClose(frame(requestPayload(3, 1, 1, negative, { flexible: false })), /reason=.*malformed Metadata v1 request/), /string length -2/);
    // A Produce whose records length runs past the frame.
    const produceBody = Buffer.concat([int16(-1), int16(1), int32(1000), int32(1), classicString('orders'), int32(1), int32(0), int32(5000), Buffer.alloc(100)]);
    await expectClose(frame(requestPayload(0, 7, 1, produceBody, { flexible: false })), /reason=.*malformed Produce v7 request/);
  });

  test('an array count far beyond the bytes left (0x7fffffff topics)', async () => {
    const body = Buffer.concat([int32(0x7fffffff), classicString('orders')]);
    const before = residentBytes(broker.pid);
    const line = await expectClose(frame(requestPayload(3, 1, 1, body, { flexible: false })), /reason=.*malformed Metadata v1 request/);
    assert.match(line, /array count 2147483647 exceeds 8 bytes left/);
    // The same in a flexible request: a compact array count of 2^32 - 2, and a tagged-field count
    // in the request header far beyond the frame.
    const compactCount = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    const flexibleLine = await expectClose(frame(requestPayload(3, 9, 1, Buffer.concat([compactCount, Buffer.alloc(10)]), { flexible: true })), /reason=.*malformed Metadata v9 request/);
    assert.match(flexibleLine, /array count \d+ exceeds/);
    const taggedHeader = Buffer.concat([int16(3), int16(9), int32(1), classicString('client'), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(10)]);
    assert.match(await expectClose(frame(taggedHeader), /reason=.*malformed Metadata v9 request/), /tagged field count \d+ exceeds/);
    const grownBytes = residentBytes(broker.pid) - before;
    assert.ok(grownBytes < 50 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB`);
  });

  test('a compact string length with 6 continuation bytes in a flexible request', async () => {
    // Metadata v9: header v2 (tagged fields after the client id), then a compact array of one topic
    // whose compact-string name length never ends within 5 bytes.
    const body = Buffer.concat([Buffer.from([0x02]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Buffer.from('orders'), Buffer.from([0x01, 0x00, 0x00])]);
    const line = await expectClose(frame(requestPayload(3, 9, 1, body, { flexible: true })), /reason=.*malformed Metadata v9 request/);
    assert.match(line, /varint longer than 5 bytes/);
  });

  test('garbage: an HTTP request, a TLS ClientHello and random bytes', async () => {
    // "GET " read as a size is 1195725856.
    await expectClose(Buffer.from('GET / HTTP/1.1\r\nHost: localhost:9092\r\n\r\n'), /reason=.*frame of 1195725856 bytes exceeds the limit/);
    const clientHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), seededBytes(7, 505)]);
    await expectClose(clientHello, /reason=.*frame of \d+ bytes exceeds the limit/);
    await expectClose(seededBytes(20_261_122, 64 * 1024), /reason=/);
    // Random bytes inside a well-sized frame, with a header naming no API.
    await expectClose(frame(Buffer.concat([int16(0x5a5a), seededBytes(99, 300)])), /reason=.*unknown api key 23130/);
  });

  test('an unknown API key', async () => {
    await expectClose(frame(requestPayload(1000, 0, 1, Buffer.alloc(0), { flexible: false })), /reason=.*unknown api key 1000/);
    await expectClose(frame(requestPayload(-1, 0, 1, Buffer.alloc(0), { flexible: false })), /reason=.*unknown api key -1/);
  });

  test('an unsupported version of a known API', async () => {
    const metadataBody = int32(-1);
    await expectClose(frame(requestPayload(3, 99, 1, metadataBody, { flexible: false })), /reason=.*unsupported version 99 of Metadata/);
    // Fetch v0-3 (message format v0/v1) are not answered.
    await expectClose(frame(requestPayload(1, 3, 1, Buffer.alloc(40), { flexible: false })), /reason=.*unsupported version 3 of Fetch/);
  });

  test('an unsupported ApiVersions version is answered with UNSUPPORTED_VERSION in a v0 body (KIP-511)', async () => {
    const connection = await open();
    try {
      // As a newer client would send it: header v2, then compact client software name and version.
      const body = Buffer.from([0x06, ...Buffer.from('osprey'), 0x04, ...Buffer.from('9.9'), 0x00]);
      connection.writeFrame(requestPayload(18, 99, 4242, body, { flexible: true }));
      const payload = await connection.nextFrame();
      // Response header v0 (no tagged fields) and a v0 body, read to the last byte.
      const response = decodeResponse(apiVersionsApi, 0, payload);
      assert.equal(response.correlationId, 4242);
      assert.equal(response.trailingBytes, 0, 'nothing after the v0 body');
      assert.equal(response.body.errorCode, errorCode.unsupportedVersion);
      const own = response.body.apiKeys.find((api) => api.apiKey === 18);
      assert.ok(own, 'the answer lists ApiVersions itself');
      assert.equal(own.minVersion, 0);
      assert.ok(own.maxVersion >= 3, `ApiVersions max ${own.maxVersion}`);
      // The client then retries with a version we listed, on the same connection.
      const retried = await connection.call(apiVersionsApi, own.maxVersion, { clientSoftwareName: 'osprey-test', clientSoftwareVersion: '1.0' });
      assert.equal(retried.errorCode, errorCode.none);
      assert.ok(retried.apiKeys.some((api) => api.apiKey === 3), 'Metadata is listed');
      assert.equal(connection.closed, false);
    } finally {
      connection.destroy();
    }
    await assertHealthy();
  });
});

// ── Record batches the broker must refuse: Kafka error codes, not closes ───────────────────────

const produceTopic = 'bad-input-produce';
const goodBatches: Buffer[] = [];
const goodRecords: TestRecord[][] = [
  [
    { key: Buffer.from('k0'), value: Buffer.from('first value'), headers: [{ key: 'trace', value: Buffer.from('a1') }] },
    { key: null, value: Buffer.from('second value') },
    { key: Buffer.from('k2'), value: null, timestampDelta: 5 },
  ],
  [
    { key: Buffer.from('k3'), value: Buffer.alloc(1000, 0x33) },
    { key: Buffer.from('k4'), value: Buffer.from('fifth') },
  ],
];

interface ProduceOutcome {
  readonly errorCode: number;
  readonly baseOffset: bigint;
  readonly errorMessage: string | null;
}

async function produce(
  connection: RawKafkaConnection,
  records: Buffer | null,
  options: { version?: number; acks?: number; topic?: string; partition?: number } = {},
): Promise<ProduceOutcome> {
  const version = options.version ?? 8;
  const topic = options.topic ?? produceTopic;
  const response = await connection.call(produceApi, version, {
    acks: options.acks ?? -1,
    timeoutMs: 5_000,
    topicData: [{ name: topic, topicId: zeroUuid, partitionData: [{ index: options.partition ?? 0, records }] }],
  });
  assert.equal(response.responses.length, 1);
  assert.equal(response.responses[0]?.name, topic);
  const partition = response.responses[0]?.partitionResponses[0];
  assert.ok(partition);
  assert.equal(partition.index, options.partition ?? 0);
  return { errorCode: partition.errorCode, baseOffset: partition.baseOffset, errorMessage: partition.errorMessage };
}

/** Produces `records` and expects `expected` as the partition's error code on a connection that stays usable. */
async function expectRefused(records: Buffer | null, expected: number, options: Parameters<typeof produce>[2] = {}): Promise<ProduceOutcome> {
  const connection = await open();
  try {
    const outcome = await produce(connection, records, options);
    assert.equal(outcome.errorCode, expected, `expected error ${expected}, got ${outcome.errorCode} (${outcome.errorMessage ?? 'no message'})`);
    assert.equal(outcome.baseOffset, -1n);
    // Not a close: the same connection answers the next request.
    const metadata = await connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.equal(metadata.brokers.length, 1);
    return outcome;
  } finally {
    connection.destroy();
  }
}

async function latestOffset(topic = produceTopic, partition = 0): Promise<bigint> {
  const connection = await open();
  try {
    const response = await connection.call(listOffsetsApi, 1, {
      replicaId: -1,
      isolationLevel: 0,
      timeoutMs: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -1n }] }],
    });
    const answer = response.topics[0]?.partitions[0];
    assert.ok(answer);
    assert.equal(answer.errorCode, errorCode.none);
    return answer.offset;
  } finally {
    connection.destroy();
  }
}

async function fetchAll(topic = produceTopic, partition = 0): Promise<ReturnType<typeof decodeRecordBatches>> {
  const connection = await open();
  try {
    const response = await connection.call(fetchApi, 11, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10 * megabyte,
      forgottenTopicsData: [],
      topics: [{ topic, topicId: zeroUuid, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 10 * megabyte }] }],
    });
    const answer = response.responses[0]?.partitions[0];
    assert.ok(answer);
    assert.equal(answer.errorCode, errorCode.none);
    return decodeRecordBatches(answer.records ?? Buffer.alloc(0));
  } finally {
    connection.destroy();
  }
}

/** The stored batches are exactly the good ones: same CRC-covered bytes, consecutive offsets. */
async function assertOnlyGoodBatchesStored(): Promise<void> {
  const stored = await fetchAll();
  assert.equal(stored.length, goodBatches.length, `stored batches: ${stored.length}, good batches produced: ${goodBatches.length}`);
  let nextOffset = 0n;
  stored.forEach((batch, index) => {
    const sent = goodBatches[index]!;
    assert.equal(batch.baseOffset, nextOffset);
    assert.ok(batch.crcValid, `stored batch ${index} has a valid CRC`);
    assert.ok(batch.bytes.subarray(batchOffsets.magic + 1).equals(sent.subarray(batchOffsets.magic + 1)), `stored batch ${index} is byte-identical after the magic`);
    const expected = goodRecords[index] ?? [{ key: Buffer.from('after'), value: Buffer.from('the bad input') }];
    assert.deepEqual(
      batch.records.map((record) => [record.offset, record.key, record.value]),
      expected.map((record, delta) => [nextOffset + BigInt(delta), record.key, record.value]),
    );
    nextOffset += BigInt(batch.lastOffsetDelta + 1);
  });
  assert.equal(await latestOffset(), nextOffset, 'the high watermark is right after the good batches');
}

describe('record batches the broker refuses are answered with Kafka error codes', () => {
  before(async () => {
    const connection = await open();
    try {
      // Metadata v1 creates the topic (auto-creation is on for this broker).
      const metadata = await connection.call(metadataApi, 1, { topics: [{ name: produceTopic, topicId: zeroUuid }], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.equal(metadata.topics[0]?.errorCode, errorCode.none);
      for (const records of goodRecords) {
        const batch = encodeRecordBatch(records, { baseTimestamp: 1_700_000_000_000 });
        goodBatches.push(batch);
        const outcome = await produce(connection, Buffer.from(batch));
        assert.equal(outcome.errorCode, errorCode.none, outcome.errorMessage ?? '');
      }
    } finally {
      connection.destroy();
    }
  });

  const valid = (): Buffer => encodeRecordBatch([{ key: Buffer.from('bad'), value: Buffer.from('must not be stored') }, { key: null, value: Buffer.from('nor this') }]);

  test('a batch with a bad CRC → CORRUPT_MESSAGE (2)', async () => {
    const batch = valid();
    batch.writeUInt8(batch.readUInt8(batch.length - 3) ^ 0x01, batch.length - 3); // inside the last record's value, covered by the CRC
    await expectRefused(batch, errorCode.corruptMessage);
    const wrongCrc = valid();
    wrongCrc.writeUInt32BE((wrongCrc.readUInt32BE(batchOffsets.crc) + 1) >>> 0, batchOffsets.crc);
    await expectRefused(wrongCrc, errorCode.corruptMessage);
  });

  test('a batch larger than max.message.bytes → MESSAGE_TOO_LARGE (10)', async () => {
    const batch = encodeRecordBatch([{ key: null, value: Buffer.alloc(maxMessageBytes + 100, 0x41) }]);
    await expectRefused(batch, errorCode.messageTooLarge);
  });

  test('acks=2 → INVALID_REQUIRED_ACKS (21)', async () => {
    await expectRefused(valid(), errorCode.invalidRequiredAcks, { acks: 2 });
  });

  test('two batches in one partition’s records, or a batch length past the end → INVALID_RECORD (87)', async () => {
    await expectRefused(Buffer.concat([valid(), valid()]), errorCode.invalidRecord);
    const overlong = valid();
    overlong.writeInt32BE(overlong.readInt32BE(batchOffsets.batchLength) + 50, batchOffsets.batchLength);
    await expectRefused(overlong, errorCode.invalidRecord);
  });

  test('recordsCount ≠ lastOffsetDelta + 1 → INVALID_RECORD (87)', async () => {
    const moreRecords = valid();
    moreRecords.writeInt32BE(3, batchOffsets.recordsCount);
    await expectRefused(updateCrc(moreRecords), errorCode.invalidRecord);
    const shorterDelta = valid();
    shorterDelta.writeInt32BE(0, batchOffsets.lastOffsetDelta);
    await expectRefused(updateCrc(shorterDelta), errorCode.invalidRecord);
    const noRecords = encodeRecordBatch([]);
    await expectRefused(noRecords, errorCode.invalidRecord);
  });

  test('a control batch from a client → INVALID_RECORD (87)', async () => {
    // A COMMIT marker: key = version 0, type 1; value = version 0, coordinator epoch 0.
    const marker = encodeRecordBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { attributes: 0x20 | 0x10, producerId: 1000n, producerEpoch: 0, baseSequence: 0 });
    await expectRefused(marker, errorCode.invalidRecord);
    const plainControl = encodeRecordBatch([{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { attributes: 0x20 });
    await expectRefused(plainControl, errorCode.invalidRecord);
  });

  test('a magic 1 message set is refused with an error, not a crash', async (t) => {
    // Message format v1: offset int64 │ size int32 │ crc uint32 (CRC-32 of magic..end) │ magic 1 │
    // attributes int8 │ timestamp int64 │ key bytes │ value bytes.
    // Long enough (over the 61 bytes of a v2 header) that only its magic byte gives it away.
    const value = Buffer.from('old format '.repeat(10));
    const message = Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(8), int32(-1), int32(value.length), value]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(message));
    const messageSet = Buffer.concat([Buffer.alloc(8), int32(4 + message.length), crc, message]);
    const connection = await open();
    try {
      const outcome = await produce(connection, messageSet);
      t.diagnostic(`magic 1 answered with error ${outcome.errorCode}: ${outcome.errorMessage ?? ''}`);
      assert.ok(
        outcome.errorCode === errorCode.unsupportedForMessageFormat || outcome.errorCode === errorCode.invalidRecord || outcome.errorCode === errorCode.corruptMessage,
        `magic 1 answered with error ${outcome.errorCode} (${outcome.errorMessage ?? ''})`,
      );
      assert.equal(outcome.baseOffset, -1n);
    } finally {
      connection.destroy();
    }
    // Also a v2-shaped batch whose magic byte says 1.
    const relabelled = valid();
    relabelled.writeInt8(1, batchOffsets.magic);
    const second = await open();
    try {
      const outcome = await produce(second, relabelled);
      assert.notEqual(outcome.errorCode, errorCode.none);
    } finally {
      second.destroy();
    }
    await assertHealthy();
  });

  test('with acks=0 a refused batch gets no answer, and the next request on the connection is answered in order', async () => {
    const connection = await open();
    try {
      const bad = valid();
      bad.writeUInt32BE(0, batchOffsets.crc);
      const silent = connection.send(produceApi, 8, { acks: 0, timeoutMs: 5_000, topicData: [{ name: produceTopic, topicId: zeroUuid, partitionData: [{ index: 0, records: bad }] }] });
      const next = connection.send(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      const response = decodeResponse(metadataApi, 1, await connection.nextFrame());
      assert.equal(response.correlationId, next, `the first answer is for the Metadata request (${next}), not the acks=0 Produce (${silent})`);
      assert.equal(response.trailingBytes, 0);
    } finally {
      connection.destroy();
    }
  });

  test('zstd codec bits in Produce v3 → UNSUPPORTED_COMPRESSION_TYPE (76)', async () => {
    const batch = valid();
    batch.writeInt16BE(4, batchOffsets.attributes);
    await expectRefused(updateCrc(batch), errorCode.unsupportedCompressionType, { version: 3 });
  });

  test('an unknown partition → UNKNOWN_TOPIC_OR_PARTITION (3)', async () => {
    await expectRefused(valid(), errorCode.unknownTopicOrPartition, { partition: 7 });
    await expectRefused(valid(), errorCode.unknownTopicOrPartition, { partition: -1 });
  });

  test('after all that, the stored records are unchanged and the log did not advance', async () => {
    await assertOnlyGoodBatchesStored();
    // The next good batch takes the offset right after the earlier good ones.
    const connection = await open();
    try {
      const batch = encodeRecordBatch([{ key: Buffer.from('after'), value: Buffer.from('the bad input') }], { baseTimestamp: 1_700_000_000_100 });
      goodBatches.push(batch);
      const outcome = await produce(connection, Buffer.from(batch));
      assert.equal(outcome.errorCode, errorCode.none, outcome.errorMessage ?? '');
      assert.equal(outcome.baseOffset, 5n);
    } finally {
      connection.destroy();
    }
    await assertOnlyGoodBatchesStored();
    await assertHealthy();
  });
});

// ── Topic names that must not become directories ───────────────────────────────────────────────

describe('invalid topic names are refused and create nothing on disk', () => {
  const invalidNames = ['../escaped', 'a/b', '.', '..', 'x'.repeat(250), 'spaces are not allowed', 'naïve'];

  test('Metadata (auto-creation on) and Produce answer INVALID_TOPIC_EXCEPTION (17)', async () => {
    const entriesBefore = readdirSync(broker.dataDir).sort();
    const parentBefore = readdirSync(dirname(broker.dataDir)).sort();
    const connection = await open();
    try {
      const metadata = await connection.call(metadataApi, 1, { topics: invalidNames.map((name) => ({ name, topicId: zeroUuid })), includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.deepEqual(
        metadata.topics.map((topic) => [topic.name, topic.errorCode]),
        invalidNames.map((name) => [name, 17]),
      );
      for (const name of invalidNames) {
        const outcome = await produce(connection, encodeRecordBatch([{ key: null, value: Buffer.from('x') }]), { topic: name });
        assert.equal(outcome.errorCode, 17, `Produce to ${JSON.stringify(name.slice(0, 30))}: ${outcome.errorMessage ?? ''}`);
      }
    } finally {
      connection.destroy();
    }
    assert.deepEqual(readdirSync(broker.dataDir).sort(), entriesBefore, 'nothing new in the data directory');
    assert.deepEqual(readdirSync(dirname(broker.dataDir)).sort(), parentBefore, 'nothing new beside the data directory');
    assert.ok(!(await admin.listTopics()).some((name) => invalidNames.includes(name)));
  });

  test('an empty topic name in Metadata v1 → INVALID_TOPIC_EXCEPTION (17), as Kafka answers', async () => {
    const connection = await open();
    try {
      const metadata = await connection.call(metadataApi, 1, { topics: [{ name: '', topicId: zeroUuid }], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.equal(metadata.topics[0]?.errorCode, 17);
    } finally {
      connection.destroy();
    }
  });
});

// ── Bounded memory and connection churn ─────────────────────────────────────────────────────────

describe('a client cannot make the broker buffer without bound', () => {
  test('20,000 pipelined Metadata requests that are never read', async (t) => {
    // A hundred topics with long names make each all-topics Metadata answer about 24 KB, so
    // answering every request without backpressure would hold ~480 MB.
    const names = Array.from({ length: 100 }, (_, index) => `flood-${String(index).padStart(3, '0')}-${'x'.repeat(190)}`);
    const setup = await open();
    try {
      const created = await setup.call(metadataApi, 1, { topics: names.map((name) => ({ name, topicId: zeroUuid })), includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.ok(created.topics.every((topic) => topic.errorCode === errorCode.none));
      // Warm up: one full answer, so the baseline includes the code paths the flood uses.
      for (let index = 0; index < 20; index++) await setup.call(metadataApi, 1, { topics: null, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    } finally {
      setup.destroy();
    }
    const baselineBytes = residentBytes(broker.pid);

    const requestCount = 20_000;
    // A long client id makes the requests ~1 KB, more than the kernel buffers can absorb, so a broker
    // that stops reading leaves bytes queued in this process.
    const clientId = 'c'.repeat(1000);
    const requests: Buffer[] = [];
    for (let index = 0; index < requestCount; index++) {
      requests.push(encodeRequestFrame(metadataApi, 1, index + 1, { topics: null, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, clientId));
    }
    const flood = await open({ reading: false });
    flood.write(Buffer.concat(requests));

    // Watch until the broker stops taking bytes (or 10 s), keeping the largest RSS seen: the 100 ms
    // sleep is the sampling period of that watch (RSS has no event to wait for).
    let peakBytes = baselineBytes;
    let lastQueued = -1;
    let stableSince = Date.now();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await sleep(100);
      peakBytes = Math.max(peakBytes, residentBytes(broker.pid));
      const queued = flood.socket.writableLength;
      if (queued !== lastQueued) {
        lastQueued = queued;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= 1_000) break;
    }
    const grownBytes = peakBytes - baselineBytes;
    const queuedBytes = flood.socket.writableLength;
    flood.destroy();
    t.diagnostic(`broker RSS ${(baselineBytes / megabyte).toFixed(1)} MB before, peak +${(grownBytes / megabyte).toFixed(1)} MB; ${(queuedBytes / megabyte).toFixed(1)} MB of requests left unread`);
    assert.ok(queuedBytes > 0, 'the broker stopped reading from a client that does not read (bytes remain queued on our side)');
    assert.ok(grownBytes < 150 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB under the flood`);
    await assertHealthy();
  });

  test('many connections closed abruptly mid-frame leave the broker healthy', async () => {
    const baselineDescriptors = openFileDescriptors(broker.pid);
    const baselineBytes = residentBytes(broker.pid);
    const metadataFrame = encodeRequestFrame(metadataApi, 1, 1, { topics: null, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const produceFrame = encodeRequestFrame(produceApi, 8, 2, {
      acks: -1,
      timeoutMs: 5_000,
      topicData: [{ name: produceTopic, topicId: zeroUuid, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.alloc(2000, 0x42) }]) }] }],
    });
    // Cut points: inside the size prefix, inside the header, inside the body; a whole request
    // followed by half of the next; and a Produce cut before its batch is complete.
    const cuts: Buffer[] = [
      metadataFrame.subarray(0, 2),
      metadataFrame.subarray(0, 9),
      metadataFrame.subarray(0, metadataFrame.length - 1),
      Buffer.concat([metadataFrame, metadataFrame.subarray(0, 6)]),
      produceFrame.subarray(0, produceFrame.length - 500),
      Buffer.concat([int32(50 * megabyte), Buffer.alloc(4096)]),
    ];
    // What the broker holds of each cut once it has read it: all of it, but the answered Metadata
    // request before a half one, and the 50 MB announcement, refused (and released) at once.
    const heldBytes = (cut: Buffer): number => (cut === cuts[3] ? 6 : cut === cuts[5] ? 0 : cut.length);
    const connectionsBefore = await metricValue(broker, 'osprey_connections');
    const rounds = 5;
    const connectionCount = 60;
    for (let round = 0; round < rounds; round++) {
      const connections = await Promise.all(Array.from({ length: connectionCount }, () => open()));
      const written = connections.map((_, index) => cuts[index % cuts.length]!);
      connections.forEach((connection, index) => connection.write(written[index]!));
      // Cut off mid-frame only once the broker has read the pieces.
      await waitUntilBrokerHolds(written.reduce((sum, cut) => sum + heldBytes(cut), 0));
      connections.forEach((connection, index) => (index % 2 === 0 ? connection.reset() : connection.destroy()));
      await waitUntil(async () => (await metricValue(broker, 'osprey_connections')) === connectionsBefore && (await requestMemoryBytes()) === 0, `round ${round}'s connections closed and their memory released`, 10_000);
    }
    await assertHealthy();
    if (baselineDescriptors !== null) {
      const descriptors = openFileDescriptors(broker.pid) ?? 0;
      assert.ok(descriptors <= baselineDescriptors + 5, `broker holds ${descriptors} file descriptors, ${baselineDescriptors} before: sockets leak`);
    }
    const grownBytes = residentBytes(broker.pid) - baselineBytes;
    assert.ok(grownBytes < 100 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB`);
    // Nothing that was cut off reached the log.
    await assertOnlyGoodBatchesStored();
  });
});

// ── A broker with auto-creation off ─────────────────────────────────────────────────────────────

describe('with topic auto-creation off', () => {
  test('produce to an unknown topic → UNKNOWN_TOPIC_OR_PARTITION (3); stored data survives a restart', async () => {
    const errorsBefore = broker.logs().split('\n').filter((line) => / ERROR /.test(line));
    assert.deepEqual(errorsBefore, [], 'no ERROR lines in the broker log');
    await admin.disconnect();
    await broker.stop();
    broker = await startBrokerProcess({ dataDir: broker.dataDir, args: brokerArgs(['--no-auto-create-topics']) });
    kafka = new Kafka({ clientId: 'bad-input-bystander', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    admin = kafka.admin();
    await admin.connect();

    await expectRefused(encodeRecordBatch([{ key: null, value: Buffer.from('nowhere') }]), errorCode.unknownTopicOrPartition, { topic: 'never-created' });
    const connection = await open();
    try {
      const metadata = await connection.call(metadataApi, 4, { topics: [{ name: 'never-created', topicId: zeroUuid }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.equal(metadata.topics[0]?.errorCode, errorCode.unknownTopicOrPartition);
    } finally {
      connection.destroy();
    }
    assert.ok(!(await admin.listTopics()).includes('never-created'));
    await assertOnlyGoodBatchesStored();
    await assertHealthy();
  });
});

// ── Known problem, tracked here until fixed ─────────────────────────────────────────────────────

describe('a request that names very many entries', () => {
  test(
    'a 4 MB Metadata request naming 2,000,000 topics is refused without decoding them all',
    async (t) => {
      const topicCount = 2_000_000;
      const body = Buffer.alloc(4 + 2 * topicCount); // each topic name an empty string
      body.writeInt32BE(topicCount, 0);
      const baselineBytes = residentBytes(broker.pid);
      const connection = await open();
      const bystander = await open();
      try {
        // All but the last byte, held by the broker; then the last byte, which completes the frame (and
        // starts its handling) just as the bystander asks: were the topics decoded, the bystander
        // would wait for that.
        const whole = frame(requestPayload(3, 1, 1, body, { flexible: false }));
        connection.write(whole.subarray(0, whole.length - 1));
        // (Or the broker refused the frame on its size already and closed the connection.)
        await waitUntil(async () => connection.closed || (await requestMemoryBytes()) >= whole.length - 1, 'the broker to hold the request', 10_000);
        connection.write(whole.subarray(whole.length - 1));
        const startedMs = Date.now();
        await bystander.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
        const bystanderWaitMs = Date.now() - startedMs;
        const answered = await connection.nextFrame(30_000).then(
          (payload) => payload.length,
          () => 'closed' as const,
        );
        const grownBytes = residentBytes(broker.pid) - baselineBytes;
        t.diagnostic(`answer: ${String(answered)} bytes; bystander waited ${bystanderWaitMs} ms; broker RSS +${(grownBytes / megabyte).toFixed(0)} MB`);
        assert.equal(answered, 'closed', 'a request naming more than limits.maxRequestArrayElements topics is refused');
        assert.ok(bystanderWaitMs < 1_000, `another client waited ${bystanderWaitMs} ms for Metadata`);
        assert.ok(grownBytes < 100 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB for a ${(body.length / megabyte).toFixed(1)} MB request`);
      } finally {
        connection.destroy();
        bystander.destroy();
      }
      await assertHealthy();
    },
  );
});
