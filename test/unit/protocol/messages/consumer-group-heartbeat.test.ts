import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse } from '../../../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import type { ConsumerGroupHeartbeatResponse } from '../../../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import { decodeAll, encodeToBuffer } from './kafkajs-oracle.js';

const requestCodec = codecFor(consumerGroupHeartbeatRequest);
const responseCodec = codecFor(consumerGroupHeartbeatResponse);
const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

test('ConsumerGroupHeartbeat v1 join request with a regex decodes from golden bytes', () => {
  const golden = Buffer.from(
    [
      '02', '67', // groupId "g"
      '03', '6d31', // memberId "m1" (v1: the client makes its own)
      '00000000', // memberEpoch 0: join
      '00', // instanceId null
      '00', // rackId null
      '0000ea60', // rebalanceTimeoutMs 60000
      '00', // subscribedTopicNames null
      '05', '6f2e2a24', // subscribedTopicRegex "o.*$"
      '08', '756e69666f726d', // serverAssignor "uniform"
      '00', // topicPartitions null
      '00', // tags
    ].join(''),
    'hex',
  );
  const decoded = decodeAll(requestCodec, 1, golden);
  assert.deepEqual(decoded, {
    groupId: 'g',
    memberId: 'm1',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 60_000,
    subscribedTopicNames: null,
    subscribedTopicRegex: 'o.*$',
    serverAssignor: 'uniform',
    topicPartitions: null,
  });
  assert.deepEqual(encodeToBuffer(requestCodec, 1, decoded), golden);
});

/** The fields before the assignment: throttle 0, no error, member "m1", epoch 1, heartbeat 5000 ms. */
const responseHead = ['00000000', '0000', '00', '03', '6d31', '00000001', '00001388'].join('');
const responseHeadValue = { throttleTimeMs: 0, errorCode: 0, errorMessage: null, memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 5000 };


test('ConsumerGroupHeartbeat v0 response without an assignment matches golden bytes', () => {
  const golden = Buffer.from(responseHead + 'ff' + '00', 'hex'); // assignment: null marker -1; tags
  const value: ConsumerGroupHeartbeatResponse = { ...responseHeadValue, assignment: null };
  assert.deepEqual(encodeToBuffer(responseCodec, 0, value), golden);
  assert.deepEqual(decodeAll(responseCodec, 0, golden), value);
});

test('ConsumerGroupHeartbeat v0 response with an assignment matches golden bytes', () => {
  const golden = Buffer.from(
    [
      responseHead,
      '01', // assignment present
      '02', topicId.toString('hex'), '03', '00000000', '00000001', '00', // topicPartitions: [{ topicId, [0, 1] }]
      '00', // assignment tags
      '00', // tags
    ].join(''),
    'hex',
  );
  const value: ConsumerGroupHeartbeatResponse = { ...responseHeadValue, assignment: { topicPartitions: [{ topicId, partitions: [0, 1] }] } };
  assert.deepEqual(encodeToBuffer(responseCodec, 0, value), golden);
  assert.deepEqual(decodeAll(responseCodec, 0, golden), value);
});
