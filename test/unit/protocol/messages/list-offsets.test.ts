import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../../../src/protocol/kafka/messages/list-offsets.js';
import { decodeAll, decodeResponseWithKafkajs, encodeRequestWithKafkajs, encodeToBuffer } from './kafkajs-oracle.js';

const requestCodec = codecFor(listOffsetsRequest);
const responseCodec = codecFor(listOffsetsResponse);

for (const version of [1, 2, 3]) {
  test(`ListOffsets v${version} request encoded by kafkajs decodes with our declaration`, async () => {
    const bytes = await encodeRequestWithKafkajs('listOffsets', version, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, timestamp: -2 }, { partition: 1, timestamp: '1700000000000' }] }],
    });
    const decoded = decodeAll(requestCodec, version, bytes);
    assert.equal(decoded.replicaId, -1);
    assert.equal(decoded.isolationLevel, version >= 2 ? 1 : 0);
    assert.deepEqual(decoded.topics, [
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n },
          { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: 1_700_000_000_000n },
        ],
      },
    ]);
  });

  test(`ListOffsets v${version} response encoded by us decodes with kafkajs`, async () => {
    const payload = encodeToBuffer(responseCodec, version, {
      throttleTimeMs: version >= 2 ? 3 : 0,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 12_345n },
            { partitionIndex: 1, errorCode: 0, timestamp: 1_700_000_000_000n, offset: 77n },
          ],
        },
      ],
    });
    const decoded = (await decodeResponseWithKafkajs('listOffsets', version, payload)) as {
      responses: Array<{ topic: string; partitions: Array<Record<string, unknown>> }>;
      throttleTime?: number;
      clientSideThrottleTime?: number;
    };
    assert.deepEqual(decoded.responses, [
      {
        topic: 'orders',
        partitions: [
          { partition: 0, errorCode: 0, timestamp: '-1', offset: '12345' },
          { partition: 1, errorCode: 0, timestamp: '1700000000000', offset: '77' },
        ],
      },
    ]);
    if (version >= 2) assert.equal(decoded.clientSideThrottleTime ?? decoded.throttleTime, 3);
  });
}

test('ListOffsets v10 carries timeoutMs; v9 cannot', () => {
  const value = { replicaId: -1, isolationLevel: 0, topics: [], timeoutMs: 5000 };
  assert.equal(decodeAll(requestCodec, 10, encodeToBuffer(requestCodec, 10, value)).timeoutMs, 5000);
  assert.throws(() => encodeToBuffer(requestCodec, 9, value), RangeError);
});
