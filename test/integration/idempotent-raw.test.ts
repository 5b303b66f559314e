/**
 * The idempotent producer at the byte level, against a real broker process: InitProducerId, then
 * v2 batches built here (spec-written encoder with CRC-32C from @node-rs/crc32, in
 * ../helpers/raw-kafka-client.ts) carrying producer id, epoch and sequence.
 *
 * The same batch sent twice gets the same offset and is stored once; a gap gets
 * OUT_OF_ORDER_SEQUENCE_NUMBER; a stale epoch is fenced (INVALID_PRODUCER_EPOCH); retries are still
 * recognised after a clean restart and after kill -9; pipelined requests keep their order; a
 * transactional id is refused with INVALID_REQUEST and a log line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { initProducerIdRequest, initProducerIdResponse } from '../../src/protocol/kafka/messages/init-producer-id.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { decodeRecordBatches, decodeResponse, encodeRecordBatch, rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';

const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const initProducerIdApi = rawApi(initProducerIdRequest, initProducerIdResponse);
const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);

const errorCode = { none: 0, outOfOrderSequenceNumber: 45, invalidProducerEpoch: 47, invalidRequest: 42 } as const;
const zeroUuid = Buffer.alloc(16);
const megabyte = 1024 * 1024;

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess();
});

after(async () => {
  if (broker !== undefined && broker.exitCode === null && broker.exitSignal === null) await broker.stop();
});

async function withConnection<T>(work: (connection: RawKafkaConnection) => Promise<T>): Promise<T> {
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    return await work(connection);
  } finally {
    connection.destroy();
  }
}

async function initProducerId(version = 4, current: { producerId: bigint; producerEpoch: number } = { producerId: -1n, producerEpoch: -1 }, transactionalId: string | null = null) {
  return withConnection((connection) => connection.call(initProducerIdApi, version, { transactionalId, transactionTimeoutMs: 60_000, ...current }));
}

function batch(producerId: bigint, producerEpoch: number, baseSequence: number, values: readonly string[]): Buffer {
  return encodeRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), { producerId, producerEpoch, baseSequence });
}

interface Outcome {
  errorCode: number;
  baseOffset: bigint;
  errorMessage: string | null;
}

function produceBody(topic: string, records: Buffer) {
  return { acks: -1, timeoutMs: 5_000, transactionalId: null, topicData: [{ name: topic, topicId: zeroUuid, partitionData: [{ index: 0, records }] }] };
}

function outcomeOf(response: { responses: ReadonlyArray<{ partitionResponses: ReadonlyArray<Outcome> }> }): Outcome {
  const partition = response.responses[0]?.partitionResponses[0];
  assert.ok(partition, 'a partition response');
  return { errorCode: partition.errorCode, baseOffset: partition.baseOffset, errorMessage: partition.errorMessage };
}

async function produce(topic: string, records: Buffer, version = 9): Promise<Outcome> {
  // Each send gets its own copy: the broker patches baseOffset in what it stores, not in ours, but a
  // test that resends "the same batch" must send the very same bytes.
  return withConnection(async (connection) => outcomeOf(await connection.call(produceApi, version, produceBody(topic, Buffer.from(records)))));
}

async function storedValues(topic: string): Promise<string[]> {
  return withConnection(async (connection) => {
    const response = await connection.call(fetchApi, 11, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10 * megabyte,
      forgottenTopicsData: [],
      topics: [{ topic, topicId: zeroUuid, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 10 * megabyte }] }],
    });
    const answer = response.responses[0]?.partitions[0];
    assert.ok(answer);
    assert.equal(answer.errorCode, errorCode.none);
    return decodeRecordBatches(answer.records ?? Buffer.alloc(0)).flatMap((stored) => stored.records.map((record) => record.value?.toString() ?? ''));
  });
}

function assertOutcome(outcome: Outcome, expected: { errorCode: number; baseOffset?: bigint }, label: string): void {
  assert.equal(outcome.errorCode, expected.errorCode, `${label}: error ${outcome.errorCode} (${outcome.errorMessage ?? 'no message'})`);
  if (expected.baseOffset !== undefined) assert.equal(outcome.baseOffset, expected.baseOffset, `${label}: base offset`);
}

test('ApiVersions advertises InitProducerId 0-5', async () => {
  const response = await withConnection((connection) => connection.call(apiVersionsApi, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' }));
  const entry = response.apiKeys.find((api) => api.apiKey === 22);
  assert.deepEqual(entry && [entry.minVersion, entry.maxVersion], [0, 5]);
});

test('InitProducerId gives distinct ids at epoch 0, in every version', async () => {
  const seen = new Set<bigint>();
  for (const version of [0, 1, 2, 3, 4, 5]) {
    const answer = await initProducerId(version);
    assert.equal(answer.errorCode, errorCode.none, `v${version}`);
    assert.equal(answer.producerEpoch, 0);
    assert.ok(answer.producerId >= 0n);
    assert.ok(!seen.has(answer.producerId), `v${version} repeated id ${answer.producerId}`);
    seen.add(answer.producerId);
  }
});

test('a transactional id is refused with INVALID_REQUEST and a log line saying transactions are not supported', async () => {
  const mark = broker.logs().length;
  const answer = await initProducerId(4, undefined, 'my-transactions');
  assert.equal(answer.errorCode, errorCode.invalidRequest);
  assert.equal(answer.producerId, -1n);
  await broker.waitForLog(/InitProducerId refused: transactions are not supported yet.*transactionalId=my-transactions/, 5_000);
  assert.match(broker.logs().slice(mark), /transactions are not supported yet/);
});

test('the same batch twice: the same offset, stored once; a gap: OUT_OF_ORDER_SEQUENCE_NUMBER, nothing stored', async () => {
  const topic = 'idempotent-duplicates';
  const { producerId, producerEpoch } = await initProducerId();
  const plain = encodeRecordBatch([{ key: null, value: Buffer.from('plain') }]);
  assertOutcome(await produce(topic, plain), { errorCode: 0, baseOffset: 0n }, 'a batch without producer id');
  const first = batch(producerId, producerEpoch, 0, ['a0', 'a1', 'a2']);
  assertOutcome(await produce(topic, first), { errorCode: 0, baseOffset: 1n }, 'first');
  assertOutcome(await produce(topic, first), { errorCode: 0, baseOffset: 1n }, 'first again');
  assertOutcome(await produce(topic, first, 3), { errorCode: 0, baseOffset: 1n }, 'first again, Produce v3');
  assertOutcome(await produce(topic, batch(producerId, producerEpoch, 4, ['gap'])), { errorCode: errorCode.outOfOrderSequenceNumber, baseOffset: -1n }, 'gap');
  const second = batch(producerId, producerEpoch, 3, ['a3']);
  assertOutcome(await produce(topic, second), { errorCode: 0, baseOffset: 4n }, 'second');
  assertOutcome(await produce(topic, first), { errorCode: 0, baseOffset: 1n }, 'first, once more, after the second');
  assertOutcome(await produce(topic, plain), { errorCode: 0, baseOffset: 5n }, 'plain batches are never de-duplicated');
  assert.deepEqual(await storedValues(topic), ['plain', 'a0', 'a1', 'a2', 'a3', 'plain']);
});

test('a stale epoch is fenced after an epoch bump (KIP-360), and a new epoch must start at sequence 0', async () => {
  const topic = 'idempotent-epochs';
  const { producerId } = await initProducerId(4);
  assertOutcome(await produce(topic, batch(producerId, 0, 0, ['e0-0', 'e0-1'])), { errorCode: 0, baseOffset: 0n }, 'epoch 0');
  const bumped = await initProducerId(4, { producerId, producerEpoch: 0 });
  assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [0, producerId, 1]);
  assertOutcome(await produce(topic, batch(producerId, 1, 5, ['e1-bad'])), { errorCode: errorCode.outOfOrderSequenceNumber }, 'new epoch not at 0');
  assertOutcome(await produce(topic, batch(producerId, 1, 0, ['e1-0'])), { errorCode: 0, baseOffset: 2n }, 'epoch 1 at 0');
  assertOutcome(await produce(topic, batch(producerId, 0, 2, ['zombie'])), { errorCode: errorCode.invalidProducerEpoch, baseOffset: -1n }, 'stale epoch');
  const fenced = await initProducerId(4, { producerId, producerEpoch: 5 });
  assert.equal(fenced.errorCode, 90, 'PRODUCER_FENCED for an epoch InitProducerId never gave');
  assert.deepEqual(await storedValues(topic), ['e0-0', 'e0-1', 'e1-0']);
});

test('pipelined requests on one connection are checked and appended in arrival order', async () => {
  const topic = 'idempotent-pipelined';
  const { producerId } = await initProducerId();
  const batches = Array.from({ length: 5 }, (_, index) => batch(producerId, 0, index * 2, [`p${index}-0`, `p${index}-1`]));
  await withConnection(async (connection) => {
    // Five in flight, as librdkafka sends them, then the same five again (a retry of all of them).
    const sent = [...batches, ...batches].map((records) => connection.send(produceApi, 9, produceBody(topic, Buffer.from(records))));
    const offsets: bigint[] = [];
    for (const correlationId of sent) {
      const response = decodeResponse(produceApi, 9, await connection.nextFrame());
      assert.equal(response.correlationId, correlationId);
      const outcome = outcomeOf(response.body);
      assertOutcome(outcome, { errorCode: 0 }, `request ${correlationId}`);
      offsets.push(outcome.baseOffset);
    }
    assert.deepEqual(offsets, [0n, 2n, 4n, 6n, 8n, 0n, 2n, 4n, 6n, 8n]);
  });
  assert.equal((await storedValues(topic)).length, 10);
});

test('retries are still recognised after a clean restart and after kill -9', async () => {
  const topic = 'idempotent-restarts';
  const { producerId } = await initProducerId();
  const sent: Buffer[] = [];
  let sequence = 0;
  const send = async (expectedOffset: bigint) => {
    const records = batch(producerId, 0, sequence, [`r${sequence}`, `r${sequence + 1}`]);
    sequence += 2;
    sent.push(records);
    assertOutcome(await produce(topic, records), { errorCode: 0, baseOffset: expectedOffset }, `sequence ${sequence - 2}`);
  };
  for (let index = 0; index < 6; index++) await send(BigInt(index * 2));

  broker = await broker.restart();
  for (const [index, records] of sent.slice(-5).entries()) {
    assertOutcome(await produce(topic, records), { errorCode: 0, baseOffset: BigInt((index + 1) * 2) }, `retry ${index} after a clean restart`);
  }
  assertOutcome(await produce(topic, batch(producerId, 0, sequence + 2, ['gap'])), { errorCode: errorCode.outOfOrderSequenceNumber }, 'gap after restart');
  await send(12n);

  const lastBeforeCrash = await initProducerId();
  await broker.kill9();
  broker = await broker.restart();
  assertOutcome(await produce(topic, sent[sent.length - 1]!), { errorCode: 0, baseOffset: 12n }, 'retry after kill -9');
  await send(14n);
  const fresh = await initProducerId();
  assert.ok(fresh.producerId > lastBeforeCrash.producerId, `id ${fresh.producerId} after kill -9, ${lastBeforeCrash.producerId} before: never handed out twice`);
  assert.equal((await storedValues(topic)).length, 16);
});
