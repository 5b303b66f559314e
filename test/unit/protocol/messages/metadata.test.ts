import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { metadataRequest, metadataResponse } from '../../../../src/protocol/kafka/messages/metadata.js';
import type { MetadataResponse } from '../../../../src/protocol/kafka/messages/metadata.js';
import { decodeAll, decodeResponseWithKafkajs, encodeRequestWithKafkajs, encodeToBuffer } from './kafkajs-oracle.js';

const requestCodec = codecFor(metadataRequest);
const responseCodec = codecFor(metadataResponse);
const zeroUuid = Buffer.alloc(16);

for (const version of [0, 1, 2, 3, 4, 5, 6]) {
  test(`Metadata v${version} request encoded by kafkajs decodes with our declaration`, async () => {
    const bytes = await encodeRequestWithKafkajs('metadata', version, { topics: ['orders', 'audit'], allowAutoTopicCreation: false });
    const decoded = decodeAll(requestCodec, version, bytes);
    assert.deepEqual(decoded.topics, [
      { topicId: zeroUuid, name: 'orders' },
      { topicId: zeroUuid, name: 'audit' },
    ]);
    assert.equal(decoded.allowAutoTopicCreation, version >= 4 ? false : true, 'before v4 the field is absent and defaults to true');
  });
}

test('kafkajs asks for all topics with an empty array in v0 and a null array from v1 (it writes [] as null)', async () => {
  assert.deepEqual(decodeAll(requestCodec, 0, await encodeRequestWithKafkajs('metadata', 0, { topics: [] })).topics, []);
  assert.equal(decodeAll(requestCodec, 1, await encodeRequestWithKafkajs('metadata', 1, { topics: [] })).topics, null);
});

function sampleResponse(version: number): MetadataResponse {
  return {
    throttleTimeMs: version >= 3 ? 11 : 0,
    brokers: [
      { nodeId: 1, host: 'broker-1', port: 9092, rack: version >= 1 ? 'rack-a' : null },
      { nodeId: 2, host: 'broker-2', port: 9093 },
    ],
    clusterId: version >= 2 ? 'osprey-cluster' : null,
    errorCode: 0,
    controllerId: version >= 1 ? 1 : -1,
    topics: [
      {
        errorCode: 0,
        name: 'orders',
        topicId: zeroUuid,
        isInternal: false,
        partitions: [
          { errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: version >= 5 ? [2] : [] },
          { errorCode: 9, partitionIndex: 1, leaderId: -1, replicaNodes: [2], isrNodes: [], offlineReplicas: [] },
        ],
      },
    ],
  };
}

for (const version of [0, 1, 2, 3, 4, 5, 6]) {
  test(`Metadata v${version} response encoded by us decodes with kafkajs`, async () => {
    const payload = encodeToBuffer(responseCodec, version, sampleResponse(version));
    const decoded = (await decodeResponseWithKafkajs('metadata', version, payload)) as {
      brokers: Array<Record<string, unknown>>;
      clusterId?: string;
      controllerId?: number;
      throttleTime?: number;
      clientSideThrottleTime?: number;
      topicMetadata: Array<{ topic: string; topicErrorCode: number; isInternal?: boolean; partitionMetadata: Array<Record<string, unknown>> }>;
    };
    assert.deepEqual(
      decoded.brokers.map((broker) => [broker['nodeId'], broker['host'], broker['port']]),
      [
        [1, 'broker-1', 9092],
        [2, 'broker-2', 9093],
      ],
    );
    if (version >= 1) {
      assert.equal(decoded.brokers[0]?.['rack'], 'rack-a');
      assert.equal(decoded.brokers[1]?.['rack'], null);
      assert.equal(decoded.controllerId, 1);
      assert.equal(decoded.topicMetadata[0]?.isInternal, false);
    }
    if (version >= 2) assert.equal(decoded.clusterId, 'osprey-cluster');
    if (version >= 3) assert.equal(decoded.clientSideThrottleTime ?? decoded.throttleTime, 11);
    const [topic] = decoded.topicMetadata;
    assert.equal(topic?.topic, 'orders');
    const [first, second] = topic?.partitionMetadata ?? [];
    assert.deepEqual([first?.['partitionId'], first?.['leader'], first?.['replicas'], first?.['isr']], [0, 1, [1, 2], [1]]);
    assert.deepEqual([second?.['partitionErrorCode'], second?.['leader']], [9, -1]);
    if (version >= 5) assert.deepEqual(first?.['offlineReplicas'], [2]);
  });
}

// ── Golden bytes for flexible versions, written by hand from the protocol description ──────────

const topicId = Buffer.from('a1a2a3a4a5a6a7a8a9aaabacadaeafb0', 'hex');

const metadataRequestV12ByTopicId = Buffer.from(
  [
    '02', // topics: compact array of 1
    topicId.toString('hex'),
    '00', // name: null (compact nullable string)
    '00', // topic tags
    '00', // allowAutoTopicCreation false
    '01', // includeTopicAuthorizedOperations true (includeClusterAuthorizedOperations is v8-10 only)
    '00', // tags
  ].join(''),
  'hex',
);
const metadataRequestV12ByTopicIdValue = {
  topics: [{ topicId, name: null }],
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: true,
};

test('Metadata v12 request by topic id (null name) decodes from golden bytes', () => {
  assert.deepEqual(decodeAll(requestCodec, 12, metadataRequestV12ByTopicId), metadataRequestV12ByTopicIdValue);
});

test('Metadata v12 request by topic id (null name) encodes to golden bytes', () => {
  assert.deepEqual(encodeToBuffer(requestCodec, 12, metadataRequestV12ByTopicIdValue), metadataRequestV12ByTopicId);
});

test('Metadata v13 response with the top-level error code matches golden bytes', () => {
  const golden = Buffer.from(
    [
      '00000000', // throttleTimeMs
      '02', '00000001', '03', '6231', '00002384', '00', '00', // brokers: [{ 1, "b1", 9092, rack null }]
      '02', '63', // clusterId "c"
      '00000001', // controllerId 1
      '02', // topics: 1
      '0000', // errorCode
      '07', '6f7264657273', // name "orders"
      topicId.toString('hex'),
      '00', // isInternal false
      '02', // partitions: 1
      '0000', '00000000', '00000001', '00000003', // errorCode, partitionIndex 0, leaderId 1, leaderEpoch 3
      '02', '00000001', // replicaNodes [1]
      '02', '00000001', // isrNodes [1]
      '01', // offlineReplicas []
      '00', // partition tags
      '80000000', // topicAuthorizedOperations: INT32_MIN, "not requested"
      '00', // topic tags
      '0000', // errorCode (v13+)
      '00', // tags
    ].join(''),
    'hex',
  );
  const value: MetadataResponse = {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'b1', port: 9092, rack: null }],
    clusterId: 'c',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 'orders',
        topicId,
        isInternal: false,
        partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 3, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
      },
    ],
    errorCode: 0,
  };
  assert.deepEqual(encodeToBuffer(responseCodec, 13, value), golden);
  const decoded = decodeAll(responseCodec, 13, golden);
  assert.equal(decoded.topics[0]?.topicAuthorizedOperations, -2147483648);
  assert.equal(decoded.clusterAuthorizedOperations, -2147483648, 'v8-10 only: absent, default');
});
