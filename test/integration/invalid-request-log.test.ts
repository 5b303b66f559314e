/**
 * A request answered INVALID_REQUEST leaves one debug line in the broker's log naming the API, the
 * field at fault and why (server/kafka/invalid-request.ts): a broker at `--log-level debug`, raw
 * requests with one bad field each, the log read back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { RawKafkaConnection, rawApi } from '../helpers/raw-kafka-client.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse } from '../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { describeClusterRequest, describeClusterResponse } from '../../src/protocol/kafka/messages/describe-cluster.js';

const heartbeatApi = rawApi(consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse);
const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const describeClusterApi = rawApi(describeClusterRequest, describeClusterResponse);

let broker: BrokerProcess;
let raw: RawKafkaConnection;

before(async () => {
  broker = await startBrokerProcess({ args: ['--log-level', 'debug'] });
  raw = await RawKafkaConnection.open(broker.host, broker.port);
});

after(async () => {
  raw.socket.destroy();
  await broker.stop();
});

/** The broker's `invalid request` lines for `api` so far (a handler's lines also name the connection). */
function invalidRequestLines(api: string): string[] {
  return broker.logs().split('\n').filter((line) => line.includes('DEBUG invalid request') && line.includes(`api=${api} `));
}

test('ConsumerGroupHeartbeat: the field that made the request invalid, once per request', async () => {
  const joining = { groupId: 'logged', memberId: 'member-1', memberEpoch: 0, rebalanceTimeoutMs: 5000, subscribedTopicNames: ['some-topic'], topicPartitions: [] };
  const owned = await raw.call(heartbeatApi, 1, { ...joining, topicPartitions: [{ topicId: Buffer.alloc(16, 1), partitions: [0] }] });
  assert.equal(owned.errorCode, ErrorCode.invalidRequest);
  const line = await broker.waitForLog(/invalid request api=ConsumerGroupHeartbeat field=TopicPartitions /);
  assert.match(line, /DEBUG invalid request api=ConsumerGroupHeartbeat field=TopicPartitions reason="TopicPartitions must be empty when \(re-\)joining" group=logged member=member-1/);

  const noTopic = await raw.call(heartbeatApi, 1, { ...joining, subscribedTopicNames: [''] });
  assert.equal(noTopic.errorCode, ErrorCode.invalidRequest);
  await broker.waitForLog(/invalid request api=ConsumerGroupHeartbeat field=SubscribedTopicNames reason="a subscribed topic name is empty or too long"/);
  assert.equal(invalidRequestLines('ConsumerGroupHeartbeat').length, 2, 'one line per request');

  const fine = await raw.call(heartbeatApi, 1, joining);
  assert.equal(fine.errorCode, ErrorCode.none);
  const regex = await raw.call(heartbeatApi, 1, { ...joining, memberId: 'member-2', subscribedTopicRegex: 'some[' });
  assert.equal(regex.errorCode, ErrorCode.invalidRegularExpression);
  assert.equal(invalidRequestLines('ConsumerGroupHeartbeat').length, 2, 'no line for an accepted request or another error');
});

test('CreateTopics and DescribeCluster: the same line, once per request however many entries were refused', async () => {
  const topic = { numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] };
  const created = await raw.call(createTopicsApi, 5, { topics: [{ name: 'twice', ...topic }, { name: 'twice', ...topic }, { name: 'again', ...topic }, { name: 'again', ...topic }, { name: 'once', ...topic }], timeoutMs: 5000, validateOnly: false });
  assert.deepEqual(created.topics.map((entry) => [entry.name, entry.errorCode]), [['twice', ErrorCode.invalidRequest], ['again', ErrorCode.invalidRequest], ['once', ErrorCode.none]]);
  const line = await broker.waitForLog(/invalid request .*api=CreateTopics /);
  assert.match(line, /field=Name reason="topic 'twice' appears more than once in the request" refused=2/);

  const both = await raw.call(createTopicsApi, 5, { topics: [{ name: 'assigned', numPartitions: 1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [0] }], configs: [] }], timeoutMs: 5000, validateOnly: true });
  assert.equal(both.topics[0]!.errorCode, ErrorCode.invalidRequest);
  await broker.waitForLog(/invalid request .*api=CreateTopics field=Assignments reason="give either numPartitions and replicationFactor, or assignments, not both"$/m);
  assert.equal(invalidRequestLines('CreateTopics').length, 2);

  const cluster = await raw.call(describeClusterApi, 1, { includeClusterAuthorizedOperations: false, includeFencedBrokers: false, endpointType: 7 });
  assert.equal(cluster.errorCode, ErrorCode.invalidRequest);
  await broker.waitForLog(/invalid request .*api=DescribeCluster field=EndpointType reason="endpoint type 7 is unknown: 1 lists brokers, 2 controllers"/);
});
