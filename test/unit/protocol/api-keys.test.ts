import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaApiName } from '../../../src/protocol/kafka/api-keys.js';
import { apis } from '../../../src/client/apis.js';

test('API names: spot checks across the table, and a key beyond it', () => {
  assert.equal(kafkaApiName(0), 'Produce');
  assert.equal(kafkaApiName(18), 'ApiVersions');
  assert.equal(kafkaApiName(47), 'OffsetDelete');
  assert.equal(kafkaApiName(60), 'DescribeCluster');
  assert.equal(kafkaApiName(69), 'ConsumerGroupDescribe');
  assert.equal(kafkaApiName(75), 'DescribeTopicPartitions');
  assert.equal(kafkaApiName(92), 'DeleteShareGroupOffsets');
  assert.equal(kafkaApiName(500), 'api-500');
});

test('API names agree with every message declaration the client uses', () => {
  for (const api of Object.values(apis)) assert.equal(kafkaApiName(api.key), api.name, `key ${api.key}`);
});
