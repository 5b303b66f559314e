/**
 * The request memory all connections share (`limits.maxQueuedRequestBytes`, Kafka's
 * queued.max.request.bytes), against a real broker process over raw sockets: bytes are claimed as
 * they arrive, a connection whose frame does not fit waits without being read, and it is served as
 * soon as another connection gives its memory back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { metricValue, waitUntil } from '../helpers/waiting.js';
import { decodeResponse, encodeRecordBatch, encodeRequestFrame, rawApi, RawKafkaConnection, residentBytes } from '../helpers/raw-kafka-client.js';

const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const megabyte = 1024 * 1024;
const poolBytes = 4 * megabyte;
const smallRequestReserveBytes = megabyte / 2;
const zeroUuid = Buffer.alloc(16);

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess({
    args: [
      '--limits.max-queued-request-bytes', String(poolBytes),
      '--limits.small-request-reserve-bytes', String(smallRequestReserveBytes),
      // These clients send large frames first thing.
      '--limits.max-unauthenticated-frame-bytes', String(100 * megabyte),
      '--topic-defaults.max-message-bytes', String(2 * megabyte),
    ],
  });
});

after(async () => {
  await broker?.stop();
});

function open(options: { reading?: boolean } = {}): Promise<RawKafkaConnection> {
  return RawKafkaConnection.open(broker.host, broker.port, options);
}

/** Resolves once the broker holds at least `bytes` of request memory (claimed as bytes arrive). */
function waitUntilBrokerHolds(bytes: number): Promise<void> {
  return waitUntil(async () => (await metricValue(broker, 'osprey_request_memory_bytes')) >= bytes, `the broker to hold ${bytes} bytes of requests`, 10_000);
}

function sizePrefix(frameBytes: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(frameBytes);
  return prefix;
}

function produceFrame(correlationId: number, valueBytes: number): Buffer {
  return encodeRequestFrame(produceApi, 8, correlationId, {
    acks: -1,
    timeoutMs: 5_000,
    topicData: [{ name: 'memory-test', topicId: zeroUuid, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.alloc(valueBytes, 0x61) }]) }] }],
  });
}

const metadataAll = { topics: null, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };

test('a request that does not fit waits, unread, until another connection releases its memory', async () => {
  const setup = await open();
  await setup.call(metadataApi, 1, { topics: [{ name: 'memory-test', topicId: zeroUuid }], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  setup.destroy();

  // Connection A sends 3.6 MB of a 3.9 MB frame: more than the 3.5 MB large frames may use.
  const holder = await open();
  holder.write(Buffer.concat([sizePrefix(3.9 * megabyte), Buffer.alloc(3.6 * megabyte)]));
  await waitUntilBrokerHolds(3.6 * megabyte);

  // B's 1 MB Produce does not fit in what is left: no answer while A holds its memory. (The second
  // is the time B is given to be wrongly answered: what is tested is that nothing comes.)
  const waiting = await open();
  waiting.write(produceFrame(7, megabyte));
  await assert.rejects(waiting.nextFrame(1_000), /no response within/, 'B was answered while the memory was spent');

  // A small request on a third connection still fits and is answered at once.
  const small = await open();
  const metadata = await small.call(metadataApi, 1, metadataAll, 5_000);
  assert.equal(metadata.brokers.length, 1);
  small.destroy();

  // A hangs up: its reservation is released and B is read and answered.
  holder.destroy();
  const response = decodeResponse(produceApi, 8, await waiting.nextFrame(10_000));
  assert.equal(response.correlationId, 7);
  assert.equal(response.body.responses[0]?.partitionResponses[0]?.errorCode, 0, 'B was stored');
  waiting.destroy();
});

test('fifty clients announcing 50 MB frames at once hold at most the pool, and the broker serves on', async (t) => {
  const baselineBytes = residentBytes(broker.pid);
  const clients = await Promise.all(Array.from({ length: 50 }, () => open()));
  // Each sends a 50 MB frame's prefix and 2 MB of its body, as fast as the broker reads.
  const body = Buffer.alloc(2 * megabyte, 0x62);
  for (const client of clients) client.write(Buffer.concat([sizePrefix(50 * megabyte), body]));
  // Large frames may use the pool but for the small-request reserve: once that is spent, reading stops.
  await waitUntilBrokerHolds(poolBytes - smallRequestReserveBytes);
  const grownBytes = residentBytes(broker.pid) - baselineBytes;
  // Without the pool the broker would buffer 50 × 2 MB = 100 MB; with it, reading stops when the
  // 4 MB are spent, each connection having read at most one socket read past it.
  t.diagnostic(`broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB while 50 clients sent 2 MB each`);
  assert.ok(grownBytes < 60 * megabyte, `broker RSS grew by ${(grownBytes / megabyte).toFixed(1)} MB`);
  for (const client of clients) client.destroy();
  // Everything released: a request of nearly the whole pool is served.
  const after = await open();
  const response = decodeResponse(produceApi, 8, await (after.write(produceFrame(9, 1.5 * megabyte)), after.nextFrame(10_000)));
  assert.equal(response.body.responses[0]?.partitionResponses[0]?.errorCode, 0);
  after.destroy();
});
