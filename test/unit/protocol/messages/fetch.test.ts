import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { fetchRequest, fetchResponse } from '../../../../src/protocol/kafka/messages/fetch.js';
import type { FetchResponse } from '../../../../src/protocol/kafka/messages/fetch.js';
import { produceRequest } from '../../../../src/protocol/kafka/messages/produce.js';
import { decodeAll, decodeResponseWithKafkajs, encodeRequestWithKafkajs, encodeToBuffer } from './kafkajs-oracle.js';

const requestCodec = codecFor(fetchRequest);
const responseCodec = codecFor(fetchResponse);

const kafkajsTopics = [
  {
    topic: 'orders',
    partitions: [
      { partition: 0, fetchOffset: '12345678901', maxBytes: 1_048_576, currentLeaderEpoch: 4, logStartOffset: '3' },
      { partition: 1, fetchOffset: '0', maxBytes: 65_536 },
    ],
  },
];

for (const version of [4, 5, 7, 9, 10, 11]) {
  test(`Fetch v${version} request encoded by kafkajs decodes with our declaration`, async () => {
    const bytes = await encodeRequestWithKafkajs('fetch', version, {
      replicaId: -1,
      isolationLevel: 1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10_485_760,
      sessionId: 0,
      sessionEpoch: -1,
      topics: kafkajsTopics,
      forgottenTopics: version >= 7 ? [{ topic: 'old', partitions: [3, 4] }] : [],
      rackId: 'rack-a',
    });
    const decoded = decodeAll(requestCodec, version, bytes);
    assert.equal(decoded.replicaId, -1);
    assert.equal(decoded.maxWaitMs, 500);
    assert.equal(decoded.minBytes, 1);
    assert.equal(decoded.maxBytes, 10_485_760);
    assert.equal(decoded.isolationLevel, 1);
    const [first, second] = decoded.topics[0]?.partitions ?? [];
    assert.equal(decoded.topics[0]?.topic, 'orders');
    assert.equal(first?.partition, 0);
    assert.equal(first?.fetchOffset, 12_345_678_901n);
    assert.equal(first?.partitionMaxBytes, 1_048_576);
    assert.equal(first?.currentLeaderEpoch, version >= 9 ? 4 : -1);
    assert.equal(first?.logStartOffset, version >= 5 ? 3n : -1n);
    assert.equal(second?.partitionMaxBytes, 65_536);
    if (version >= 7) {
      assert.equal(decoded.sessionEpoch, -1);
      assert.deepEqual(decoded.forgottenTopicsData, [{ topic: 'old', topicId: Buffer.alloc(16), partitions: [3, 4] }]);
    }
    assert.equal(decoded.rackId, version >= 11 ? 'rack-a' : '');
  });
}

/** A record batch made by kafkajs's producer code, taken out of a Produce request it encoded. */
async function kafkajsRecordBatch(): Promise<Buffer> {
  const messages = [
    { key: 'k1', value: 'first', timestamp: 1_700_000_000_000 },
    { key: 'k2', value: 'second', timestamp: 1_700_000_000_001 },
  ];
  const bytes = await encodeRequestWithKafkajs('produce', 3, { acks: 1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }] });
  const records = decodeAll(codecFor(produceRequest), 3, bytes).topicData[0]?.partitionData[0]?.records;
  assert.ok(records);
  return records;
}

function sampleResponse(version: number, records: Buffer): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: version >= 7 ? 77 : 0,
    responses: [
      {
        topic: 'orders',
        topicId: Buffer.alloc(16),
        partitions: [
          {
            partitionIndex: 0,
            errorCode: 0,
            highWatermark: 100n,
            lastStableOffset: 90n,
            logStartOffset: version >= 5 ? 2n : -1n,
            abortedTransactions: [{ producerId: 4000n, firstOffset: 95n }],
            preferredReadReplica: -1,
            records,
          },
          { partitionIndex: 1, errorCode: 1, highWatermark: -1n, abortedTransactions: null, records: null },
        ],
      },
    ],
  };
}

for (const version of [4, 5, 7, 9, 10, 11]) {
  test(`Fetch v${version} response encoded by us decodes with kafkajs, records included`, async () => {
    const payload = encodeToBuffer(responseCodec, version, sampleResponse(version, await kafkajsRecordBatch()));
    const decoded = (await decodeResponseWithKafkajs('fetch', version, payload)) as {
      sessionId?: number;
      responses: Array<{ topicName: string; partitions: Array<Record<string, unknown> & { messages: Array<{ key: Buffer; value: Buffer; offset: string }> }> }>;
    };
    if (version >= 7) assert.equal(decoded.sessionId, 77);
    const [topic] = decoded.responses;
    assert.equal(topic?.topicName, 'orders');
    const [first, second] = topic?.partitions ?? [];
    assert.equal(first?.['highWatermark'], '100');
    assert.equal(first?.['lastStableOffset'], '90');
    if (version >= 5) assert.equal(first?.['lastStartOffset'], '2');
    assert.deepEqual(first?.['abortedTransactions'], [{ producerId: '4000', firstOffset: '95' }]);
    assert.deepEqual(
      first?.messages.map((message) => [message.key.toString(), message.value.toString()]),
      [
        ['k1', 'first'],
        ['k2', 'second'],
      ],
    );
    assert.equal(second?.['errorCode'], 1);
    assert.deepEqual(second?.messages, []);
  });
}

// ── Golden bytes for flexible versions, written by hand from the protocol description ──────────

const topicId = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');

/**
 * Fetch response v16: one partition answering NOT_LEADER_OR_FOLLOWER (6) with the tagged
 * currentLeader (tag 1 of the partition) and the tagged top-level nodeEndpoints (tag 0).
 */
const fetchResponseV16 = Buffer.from(
  [
    '00000000', // throttleTimeMs
    '0000', // errorCode
    '00000000', // sessionId
    '02', // responses: compact array of 1
    topicId.toString('hex'),
    '02', // partitions: compact array of 1
    '00000000', // partitionIndex 0
    '0006', // errorCode 6
    'ffffffffffffffff', // highWatermark -1
    'ffffffffffffffff', // lastStableOffset -1
    'ffffffffffffffff', // logStartOffset -1
    '01', // abortedTransactions: empty
    'ffffffff', // preferredReadReplica -1
    '00', // records: null
    '01', // partition tagged fields: 1
    '01', '09', // tag 1 (currentLeader), 9 bytes
    '00000002', '00000005', '00', // leaderId 2, leaderEpoch 5, the struct's own empty tag section
    '00', // topic tagged fields: none
    '01', // top-level tagged fields: 1
    '00', '0e', // tag 0 (nodeEndpoints), 14 bytes
    '02', '00000002', '03', '6232', '00002384', '00', '00', // [{ nodeId 2, host "b2", port 9092, rack null }]
  ].join(''),
  'hex',
);

const fetchResponseV16Value: FetchResponse = {
  throttleTimeMs: 0,
  errorCode: 0,
  sessionId: 0,
  responses: [
    {
      topic: '',
      topicId,
      partitions: [
        {
          partitionIndex: 0,
          errorCode: 6,
          highWatermark: -1n,
          logStartOffset: -1n,
          lastStableOffset: -1n,
          currentLeader: { leaderId: 2, leaderEpoch: 5 },
          abortedTransactions: [],
          preferredReadReplica: -1,
          records: null,
        },
      ],
    },
  ],
  nodeEndpoints: [{ nodeId: 2, host: 'b2', port: 9092, rack: null }],
};

test('Fetch v16 response with tagged currentLeader and nodeEndpoints matches golden bytes', () => {
  assert.deepEqual(encodeToBuffer(responseCodec, 16, fetchResponseV16Value), fetchResponseV16);
  const decoded = decodeAll(responseCodec, 16, fetchResponseV16);
  const partition = decoded.responses[0]?.partitions[0];
  assert.deepEqual(partition?.currentLeader, { leaderId: 2, leaderEpoch: 5 });
  assert.deepEqual(partition?.divergingEpoch, { epoch: -1, endOffset: -1n }, 'absent tagged struct decodes to its defaults');
  assert.deepEqual(decoded.nodeEndpoints, [{ nodeId: 2, host: 'b2', port: 9092, rack: null }]);
  assert.equal(decoded.responses[0]?.topic, '', 'v13+ carries no topic name');
});

test('Fetch v12 response leaves nodeEndpoints out (tagged from v16 only)', () => {
  const decoded = decodeAll(responseCodec, 12, encodeToBuffer(responseCodec, 12, fetchResponseV16Value));
  assert.deepEqual(decoded.nodeEndpoints, []);
  assert.deepEqual(decoded.responses[0]?.partitions[0]?.currentLeader, { leaderId: 2, leaderEpoch: 5 });
});

/** Fetch request v18 from a follower: replicaState (tag 1) and, per partition, highWatermark (tag 1). */
const fetchRequestV18 = Buffer.from(
  [
    '000001f4', // maxWaitMs 500
    '00000001', // minBytes 1
    '7fffffff', // maxBytes
    '00', // isolationLevel
    '00000000', // sessionId
    'ffffffff', // sessionEpoch -1
    '02', // topics: 1
    topicId.toString('hex'),
    '02', // partitions: 1
    '00000000', // partition 0
    '00000007', // currentLeaderEpoch 7
    '000000000000002a', // fetchOffset 42
    '00000006', // lastFetchedEpoch 6
    'ffffffffffffffff', // logStartOffset -1
    '00100000', // partitionMaxBytes 1 MiB
    '01', '01', '08', '0000000000000028', // tagged: highWatermark (tag 1) = 40
    '00', // topic tags
    '01', // forgottenTopicsData: empty
    '01', // rackId: ""
    '01', // top-level tagged fields: 1
    '01', '0d', '00000003', '0000000000000009', '00', // replicaState (tag 1): replicaId 3, replicaEpoch 9, no tags
  ].join(''),
  'hex',
);

test('Fetch v18 follower request with tagged replicaState and highWatermark matches golden bytes', () => {
  const decoded = decodeAll(requestCodec, 18, fetchRequestV18);
  assert.equal(decoded.clusterId, null);
  assert.equal(decoded.replicaId, -1, 'replicaId moved into replicaState from v15');
  assert.deepEqual(decoded.replicaState, { replicaId: 3, replicaEpoch: 9n });
  const partition = decoded.topics[0]?.partitions[0];
  assert.equal(partition?.highWatermark, 40n);
  assert.deepEqual(partition?.replicaDirectoryId, Buffer.alloc(16));
  assert.deepEqual(encodeToBuffer(requestCodec, 18, decoded), fetchRequestV18);
});

test('Fetch v18 highWatermark defaults to int64 max when absent', () => {
  const bytes = encodeToBuffer(requestCodec, 18, {
    maxWaitMs: 0,
    minBytes: 0,
    topics: [{ topic: '', topicId, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 }] }],
    forgottenTopicsData: [],
  });
  assert.equal(decodeAll(requestCodec, 18, bytes).topics[0]?.partitions[0]?.highWatermark, 9_223_372_036_854_775_807n);
});
