/**
 * The responses a connection holds are bounded (limits.maxQueuedResponseBytes, one Fetch at a time
 * per connection), against a real broker process over raw sockets: clients that pipeline many large
 * Fetches and never read cannot grow the broker's memory, other clients are served meanwhile, and a
 * client that reads at last gets every response, whole and in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { waitUntil } from '../helpers/waiting.js';
import { decodeRecordBatches, decodeResponse, encodeRecordBatch, encodeRequestFrame, rawApi, RawKafkaConnection, residentBytes } from '../helpers/raw-kafka-client.js';

const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);

const megabyte = 1024 * 1024;
const zeroUuid = Buffer.alloc(16);
const queuedResponseLimitBytes = 8 * megabyte;
/** The flooded topic: 16 records of 1,000,000 bytes, so each Fetch from offset 0 answers about 16 MB. */
const recordCount = 16;
const recordValueBytes = 1_000_000;
const responseBytes = recordCount * recordValueBytes;
const flooderCount = 5;
const fetchesPerFlooder = 20;

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess({ args: ['--limits.max-queued-response-bytes', String(queuedResponseLimitBytes)] });
});

after(async () => {
  await broker?.stop();
});

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function recordValue(index: number): Buffer {
  return Buffer.alloc(recordValueBytes, index + 1);
}

function produceFrame(topic: string, correlationId: number, value: Buffer): Buffer {
  return encodeRequestFrame(produceApi, 8, correlationId, {
    acks: -1,
    timeoutMs: 5_000,
    topicData: [{ name: topic, topicId: zeroUuid, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value }]) }] }],
  });
}

/** Fetch v11 of partition 0 from offset 0, asking for up to 55 MiB at once, without waiting. */
function fetchFrame(topic: string, correlationId: number): Buffer {
  return encodeRequestFrame(fetchApi, 11, correlationId, {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 55 * megabyte,
    forgottenTopicsData: [],
    topics: [{ topic, topicId: zeroUuid, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 55 * megabyte }] }],
  });
}

async function metricValue(sample: string): Promise<number> {
  const text = await broker.metricsText();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/**
 * A connection that sends its Fetches and does not read until told to; then it collects response
 * frames without copying its buffer at every chunk (responses of 16 MB).
 */
class Flooder {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame being received, once its prefix is in. */
  private frameBytes: number | null = null;
  readonly frames: Buffer[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static open(): Promise<Flooder> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: broker.host, port: broker.port });
      socket.pause();
      socket.once('error', reject);
      socket.once('connect', () => resolve(new Flooder(socket)));
    });
  }

  async readAll(frameCount: number, timeoutMs: number): Promise<Buffer[]> {
    this.socket.resume();
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < frameCount && Date.now() < deadline && !this.socket.destroyed) await sleep(20);
    return this.frames;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.frameBytes === null) {
        if (this.bufferedBytes < 4) return;
        this.frameBytes = this.join().readInt32BE(0);
      }
      if (this.bufferedBytes < 4 + this.frameBytes) return;
      const all = this.join();
      this.frames.push(all.subarray(4, 4 + this.frameBytes));
      const rest = all.subarray(4 + this.frameBytes);
      this.frameBytes = null;
      this.chunks.length = 0;
      this.bufferedBytes = rest.length;
      if (rest.length > 0) this.chunks.push(rest);
    }
  }

  private join(): Buffer {
    const joined = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    this.chunks.push(joined);
    return joined;
  }
}

/** Metadata, Produce and Fetch on a connection of its own, each answered within 10 s. */
async function bystanderRound(bystander: RawKafkaConnection, round: number): Promise<void> {
  const metadata = await bystander.call(metadataApi, 1, { topics: null, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  assert.equal(metadata.brokers.length, 1);
  bystander.write(produceFrame('bystander', 1000 + round, Buffer.from(`round ${round}`)));
  const produced = decodeResponse(produceApi, 8, await bystander.nextFrame(10_000));
  assert.equal(produced.body.responses[0]?.partitionResponses[0]?.errorCode, 0);
  bystander.write(fetchFrame('bystander', 2000 + round));
  const fetched = decodeResponse(fetchApi, 11, await bystander.nextFrame(10_000));
  const values = decodeRecordBatches(fetched.body.responses[0]?.partitions[0]?.records ?? Buffer.alloc(0)).flatMap((batch) => batch.records.map((record) => record.value?.toString()));
  assert.equal(values.length, round + 1);
  assert.equal(values[round], `round ${round}`);
}

function assertFetchedWhole(payload: Buffer, correlationId: number): void {
  const fetched = decodeResponse(fetchApi, 11, payload);
  assert.equal(fetched.correlationId, correlationId, 'answered in arrival order');
  assert.equal(fetched.body.responses[0]?.partitions[0]?.errorCode, 0);
  const batches = decodeRecordBatches(fetched.body.responses[0]?.partitions[0]?.records ?? Buffer.alloc(0));
  assert.equal(batches.length, recordCount);
  for (const [index, batch] of batches.entries()) {
    assert.ok(batch.crcValid);
    assert.equal(batch.records[0]?.offset, BigInt(index));
    assert.ok(batch.records[0]?.value?.equals(recordValue(index)), `record ${index} intact`);
  }
}

test('five connections pipelining twenty 16 MB Fetches each without reading hold a bounded amount; others are served; every response arrives once read', async (t) => {
  const setup = await RawKafkaConnection.open(broker.host, broker.port);
  await setup.call(apiVersionsApi, 3, { clientSoftwareName: 'osprey-test', clientSoftwareVersion: '1.0' });
  for (let index = 0; index < recordCount; index++) {
    setup.write(produceFrame('flood', index + 1, recordValue(index)));
    const produced = decodeResponse(produceApi, 8, await setup.nextFrame(10_000));
    assert.equal(produced.body.responses[0]?.partitionResponses[0]?.errorCode, 0);
  }
  setup.destroy();

  const baselineBytes = residentBytes(broker.pid);
  const flooders = await Promise.all(Array.from({ length: flooderCount }, () => Flooder.open()));
  for (const flooder of flooders) {
    flooder.socket.write(Buffer.concat(Array.from({ length: fetchesPerFlooder }, (_, index) => fetchFrame('flood', index + 1))));
  }

  // Without a bound the broker builds and holds 5 × 20 × 16 MB = 1.6 GB of responses. With it, each
  // connection holds what was started under 8 MiB of queued output: one 16 MB Fetch, about.
  const boundBytes = flooderCount * 3 * responseBytes;
  let peakBytes = 0;
  const sampler = setInterval(() => {
    peakBytes = Math.max(peakBytes, residentBytes(broker.pid) - baselineBytes);
  }, 50);
  try {
    const bystander = await RawKafkaConnection.open(broker.host, broker.port);
    const until = Date.now() + 5_000;
    for (let round = 0; Date.now() < until && peakBytes < boundBytes; round++) {
      await bystanderRound(bystander, round);
      // Paces the bystander over the 5 s window in which RSS is sampled (the window is what is tested).
      await sleep(100);
    }
    bystander.destroy();
  } finally {
    clearInterval(sampler);
  }
  peakBytes = Math.max(peakBytes, residentBytes(broker.pid) - baselineBytes);
  t.diagnostic(`broker RSS grew by at most ${(peakBytes / megabyte).toFixed(0)} MB while ${flooderCount} connections pipelined ${fetchesPerFlooder} Fetches of ${(responseBytes / megabyte).toFixed(0)} MB each`);
  assert.ok(peakBytes < boundBytes, `broker RSS grew by ${(peakBytes / megabyte).toFixed(0)} MB (bound ${(boundBytes / megabyte).toFixed(0)} MB)`);
  const queuedBytes = await metricValue('osprey_response_queue_bytes');
  t.diagnostic(`osprey_response_queue_bytes ${queuedBytes}`);
  assert.ok(queuedBytes > 0 && queuedBytes <= flooderCount * (queuedResponseLimitBytes + responseBytes + megabyte), `osprey_response_queue_bytes is ${queuedBytes}`);

  // Now they read: every response, whole and in arrival order.
  for (const flooder of flooders) {
    const frames = await flooder.readAll(fetchesPerFlooder, 60_000);
    assert.equal(frames.length, fetchesPerFlooder, 'every Fetch answered');
    for (const [index, payload] of frames.entries()) assertFetchedWhole(payload, index + 1);
    flooder.frames.length = 0;
  }
  assert.equal(await metricValue('osprey_response_queue_bytes'), 0);
  assert.equal(await metricValue('osprey_request_memory_bytes'), 0);
  for (const flooder of flooders) flooder.socket.destroy();
});

test('a connection closed with deferred Fetches drops its queue and releases its request memory', async () => {
  const flooders = await Promise.all(Array.from({ length: 3 }, () => Flooder.open()));
  for (const flooder of flooders) {
    flooder.socket.write(Buffer.concat(Array.from({ length: fetchesPerFlooder }, (_, index) => fetchFrame('flood', index + 1))));
  }
  // Each connection's queue fills past limits.maxQueuedResponseBytes; the Fetches behind are deferred.
  await waitUntil(async () => (await metricValue('osprey_response_queue_bytes')) >= flooders.length * queuedResponseLimitBytes, 'the flooders’ response queues to fill', 20_000);
  assert.ok((await metricValue('osprey_request_memory_bytes')) > 0, 'the deferred Fetches hold their request memory');
  for (const flooder of flooders) flooder.socket.destroy();
  await waitUntil(async () => (await metricValue('osprey_response_queue_bytes')) === 0 && (await metricValue('osprey_request_memory_bytes')) === 0, 'queues and request memory released', 10_000);
  assert.equal(await metricValue('osprey_response_queue_bytes'), 0);
  assert.equal(await metricValue('osprey_request_memory_bytes'), 0);
  assert.equal(await metricValue('osprey_connections'), 0);
});
