/** CreateTopics, DeleteTopics, CreatePartitions and DescribeConfigs against kafkajs's encoders and decoders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { createPartitionsRequest, createPartitionsResponse } from '../../../../src/protocol/kafka/messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from '../../../../src/protocol/kafka/messages/create-topics.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../../../../src/protocol/kafka/messages/delete-topics.js';
import { describeConfigsRequest, describeConfigsResponse } from '../../../../src/protocol/kafka/messages/describe-configs.js';
import { decodeAll, decodeResponseWithKafkajs, encodeRequestWithKafkajs, encodeToBuffer } from './kafkajs-oracle.js';

const createTopics = { request: codecFor(createTopicsRequest), response: codecFor(createTopicsResponse) };
const deleteTopics = { request: codecFor(deleteTopicsRequest), response: codecFor(deleteTopicsResponse) };
const createPartitions = { request: codecFor(createPartitionsRequest), response: codecFor(createPartitionsResponse) };
const describeConfigs = { request: codecFor(describeConfigsRequest), response: codecFor(describeConfigsResponse) };

interface TopicErrors {
  topicErrors: Array<Record<string, unknown>>;
  throttleTime?: number;
  clientSideThrottleTime?: number;
}

for (const version of [2, 3]) {
  test(`CreateTopics v${version} request encoded by kafkajs decodes with our declaration`, async () => {
    const bytes = await encodeRequestWithKafkajs('createTopics', version, {
      topics: [
        { topic: 'orders', numPartitions: 4, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        { topic: 'placed', replicaAssignment: [{ partition: 0, replicas: [1, 2] }] },
      ],
      validateOnly: true,
      timeout: 7000,
    });
    assert.deepEqual(decodeAll(createTopics.request, version, bytes), {
      topics: [
        { name: 'orders', numPartitions: 4, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: 'compact' }] },
        { name: 'placed', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }], configs: [] },
      ],
      timeoutMs: 7000,
      validateOnly: true,
    });
  });

  test(`CreateTopics v${version} response encoded by us decodes with kafkajs`, async () => {
    const payload = encodeToBuffer(createTopics.response, version, {
      throttleTimeMs: 4,
      topics: [
        { name: 'orders', topicId: Buffer.alloc(16), errorCode: 0, errorMessage: '', configs: [] },
        { name: 'bad', topicId: Buffer.alloc(16), errorCode: 36, errorMessage: 'Topic already exists.', configs: [] },
      ],
    });
    const decoded = (await decodeResponseWithKafkajs('createTopics', version, payload)) as TopicErrors;
    assert.deepEqual(decoded.topicErrors, [
      { topic: 'bad', errorCode: 36, errorMessage: 'Topic already exists.' },
      { topic: 'orders', errorCode: 0, errorMessage: '' },
    ]);
    assert.equal(decoded.clientSideThrottleTime ?? decoded.throttleTime, 4);
  });
}

test('DeleteTopics v1 request and response agree with kafkajs', async () => {
  const bytes = await encodeRequestWithKafkajs('deleteTopics', 1, { topics: ['orders', 'audit'], timeout: 3000 });
  assert.deepEqual(decodeAll(deleteTopics.request, 1, bytes), { topics: [], topicNames: ['orders', 'audit'], timeoutMs: 3000 });

  const payload = encodeToBuffer(deleteTopics.response, 1, {
    throttleTimeMs: 2,
    responses: [
      { name: 'orders', topicId: Buffer.alloc(16), errorCode: 0 },
      { name: 'audit', topicId: Buffer.alloc(16), errorCode: 3 },
    ],
  });
  const decoded = (await decodeResponseWithKafkajs('deleteTopics', 1, payload)) as TopicErrors;
  assert.deepEqual(decoded.topicErrors, [
    { topic: 'audit', errorCode: 3 },
    { topic: 'orders', errorCode: 0 },
  ]);
  assert.equal(decoded.clientSideThrottleTime, 2);
});

for (const version of [0, 1]) {
  test(`CreatePartitions v${version} request and response agree with kafkajs`, async () => {
    const bytes = await encodeRequestWithKafkajs('createPartitions', version, {
      topicPartitions: [
        { topic: 'orders', count: 6, assignments: [[1], [2]] },
        { topic: 'audit', count: 2 },
      ],
      validateOnly: false,
      timeout: 9000,
    });
    assert.deepEqual(decodeAll(createPartitions.request, version, bytes), {
      topics: [
        { name: 'orders', count: 6, assignments: [{ brokerIds: [1] }, { brokerIds: [2] }] },
        // kafkajs writes an empty array as null ("no explicit assignment")
        { name: 'audit', count: 2, assignments: null },
      ],
      timeoutMs: 9000,
      validateOnly: false,
    });

    const payload = encodeToBuffer(createPartitions.response, version, {
      throttleTimeMs: 1,
      results: [
        { name: 'orders', errorCode: 0, errorMessage: null },
        { name: 'audit', errorCode: 37, errorMessage: 'Number of partitions is invalid.' },
      ],
    });
    const decoded = (await decodeResponseWithKafkajs('createPartitions', version, payload)) as TopicErrors;
    assert.deepEqual(decoded.topicErrors, [
      { topic: 'audit', errorCode: 37, errorMessage: 'Number of partitions is invalid.' },
      { topic: 'orders', errorCode: 0, errorMessage: null },
    ]);
  });
}

for (const version of [1, 2]) {
  test(`DescribeConfigs v${version} request and response agree with kafkajs`, async () => {
    const bytes = await encodeRequestWithKafkajs('describeConfigs', version, {
      resources: [
        { type: 2, name: 'orders', configNames: ['retention.ms'] },
        { type: 4, name: '1' },
      ],
      includeSynonyms: true,
    });
    assert.deepEqual(decodeAll(describeConfigs.request, version, bytes), {
      resources: [
        { resourceType: 2, resourceName: 'orders', configurationKeys: ['retention.ms'] },
        // kafkajs writes "all keys" as an empty array, which it encodes as null
        { resourceType: 4, resourceName: '1', configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: false,
    });

    const payload = encodeToBuffer(describeConfigs.response, version, {
      throttleTimeMs: 0,
      results: [
        {
          errorCode: 0,
          errorMessage: '',
          resourceType: 2,
          resourceName: 'orders',
          configs: [
            {
              name: 'retention.ms',
              value: '86400000',
              readOnly: false,
              configSource: 1,
              isSensitive: false,
              synonyms: [{ name: 'retention.ms', value: '86400000', source: 1 }],
              documentation: '',
            },
            { name: 'cleanup.policy', value: 'delete', readOnly: false, configSource: 5, isSensitive: false, synonyms: [], documentation: '' },
          ],
        },
      ],
    });
    const decoded = (await decodeResponseWithKafkajs('describeConfigs', version, payload)) as { resources: Array<Record<string, unknown> & { configEntries: Array<Record<string, unknown>> }> };
    const [resource] = decoded.resources;
    assert.equal(resource?.['resourceName'], 'orders');
    assert.equal(resource?.['resourceType'], 2);
    assert.deepEqual(resource?.configEntries, [
      {
        configName: 'retention.ms',
        configValue: '86400000',
        readOnly: false,
        isDefault: false,
        configSource: 1,
        isSensitive: false,
        configSynonyms: [{ configName: 'retention.ms', configValue: '86400000', configSource: 1 }],
      },
      { configName: 'cleanup.policy', configValue: 'delete', readOnly: false, isDefault: true, configSource: 5, isSensitive: false, configSynonyms: [] },
    ]);
  });
}
