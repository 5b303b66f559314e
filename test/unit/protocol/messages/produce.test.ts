import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { produceRequest, produceResponse } from '../../../../src/protocol/kafka/messages/produce.js';
import type { ProduceResponse } from '../../../../src/protocol/kafka/messages/produce.js';
import { decodeAll, decodeResponseWithKafkajs, encodeRequestWithKafkajs, encodeToBuffer, sampleUuid } from './kafkajs-oracle.js';

const requestCodec = codecFor(produceRequest);
const responseCodec = codecFor(produceResponse);

const timestamp = 1_700_000_000_000;
const kafkajsTopicData = [
  {
    topic: 'orders',
    partitions: [
      {
        partition: 2,
        messages: [
          { key: 'k1', value: 'first', timestamp },
          { key: null, value: 'second', timestamp: timestamp + 5 },
        ],
      },
    ],
  },
  { topic: 'audit', partitions: [{ partition: 0, messages: [{ value: 'x', timestamp }] }] },
];

/** The magic byte sits at offset 16 in both message sets (v0/v1) and record batches (v2). */
const magicOffset = 16;

for (const [version, magic] of [
  [0, 0],
  [1, 0],
  [2, 1],
  [3, 2],
  [5, 2],
  [7, 2],
] as const) {
  test(`Produce v${version} request encoded by kafkajs decodes with our declaration`, async () => {
    const transactionalId = version >= 3 ? 'txn-orders' : undefined;
    const bytes = await encodeRequestWithKafkajs('produce', version, { acks: -1, timeout: 30_000, transactionalId, topicData: kafkajsTopicData });
    const decoded = decodeAll(requestCodec, version, bytes);
    assert.equal(decoded.transactionalId, version >= 3 ? 'txn-orders' : null);
    assert.equal(decoded.acks, -1);
    assert.equal(decoded.timeoutMs, 30_000);
    assert.deepEqual(
      decoded.topicData.map((topic) => [topic.name, topic.partitionData.map((partition) => partition.index)]),
      [
        ['orders', [2]],
        ['audit', [0]],
      ],
    );
    const records = decoded.topicData[0]?.partitionData[0]?.records;
    assert.ok(records);
    assert.equal(records.readInt8(magicOffset), magic);
    if (magic === 2) {
      assert.equal(records.readInt32BE(8), records.length - 12, 'batchLength covers the rest of the batch');
      assert.equal(records.readInt32BE(57), 2, 'two records in the batch');
    }
  });
}

function sampleResponse(version: number): ProduceResponse {
  return {
    responses: [
      {
        name: 'orders',
        topicId: Buffer.alloc(16),
        partitionResponses: [
          { index: 2, errorCode: 0, baseOffset: 41n, logAppendTimeMs: version >= 2 ? 1_700_000_000_123n : -1n, logStartOffset: version >= 5 ? 7n : -1n, recordErrors: [] },
          { index: 3, errorCode: 0, baseOffset: 9_007_199_254_740_993n, recordErrors: [] },
        ],
      },
    ],
    throttleTimeMs: version >= 1 ? 25 : 0,
  };
}

for (const version of [0, 1, 2, 3, 5, 7]) {
  test(`Produce v${version} response encoded by us decodes with kafkajs`, async () => {
    const payload = encodeToBuffer(responseCodec, version, sampleResponse(version));
    const decoded = (await decodeResponseWithKafkajs('produce', version, payload)) as {
      topics: Array<{ topicName: string; partitions: Array<Record<string, unknown>> }>;
      throttleTime?: number;
      clientSideThrottleTime?: number;
    };
    const [topic] = decoded.topics;
    assert.equal(topic?.topicName, 'orders');
    const [first, second] = topic?.partitions ?? [];
    assert.equal(first?.['partition'], 2);
    assert.equal(first?.['errorCode'], 0);
    assert.equal(first?.[version >= 3 ? 'baseOffset' : 'offset'], '41');
    assert.equal(second?.[version >= 3 ? 'baseOffset' : 'offset'], '9007199254740993');
    if (version >= 2) assert.equal(first?.[version >= 3 ? 'logAppendTime' : 'timestamp'], '1700000000123');
    if (version >= 5) assert.equal(first?.['logStartOffset'], '7');
    if (version >= 1) assert.equal(decoded.clientSideThrottleTime ?? decoded.throttleTime, 25);
  });
}

test('Produce v13 names topics by id and v12 by name', () => {
  const topicId = sampleUuid(13);
  const v13 = encodeToBuffer(requestCodec, 13, {
    acks: 1,
    timeoutMs: 1000,
    topicData: [{ name: '', topicId, partitionData: [{ index: 0, records: null }] }],
  });
  // transactionalId null (compact 0), acks, timeout, 1 topic (2), uuid, 1 partition (2), index, null records (0), tags...
  assert.deepEqual(v13.subarray(0, 11), Buffer.from([0, 0, 1, 0, 0, 0x03, 0xe8, 2, ...topicId.subarray(0, 3)]));
  assert.deepEqual(decodeAll(requestCodec, 13, v13).topicData[0]?.topicId, topicId);
  assert.throws(() => encodeToBuffer(requestCodec, 12, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'a', topicId, partitionData: [] }] }), RangeError);
});
