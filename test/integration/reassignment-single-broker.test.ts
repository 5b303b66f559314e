/**
 * ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments on a single broker
 * (no etcd): advertised by ApiVersions, and answered as a one-broker cluster would: the only
 * placement is this broker, no reassignment is ever under way, and every partition is already led
 * by its preferred (only) replica. Raw requests and KafkaJS's admin as clients.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse } from '../../src/protocol/kafka/messages/alter-partition-reassignments.js';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { electLeadersRequest, electLeadersResponse } from '../../src/protocol/kafka/messages/elect-leaders.js';
import { listPartitionReassignmentsRequest, listPartitionReassignmentsResponse } from '../../src/protocol/kafka/messages/list-partition-reassignments.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { rawApi, withConnection } from '../helpers/raw-kafka-client.js';

const { Kafka, logLevel } = kafkajs;

const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);
const alterApi = rawApi(alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse);
const listApi = rawApi(listPartitionReassignmentsRequest, listPartitionReassignmentsResponse);
const electApi = rawApi(electLeadersRequest, electLeadersResponse);

describe('a single broker: reassignment and leader election APIs', () => {
  let broker: BrokerProcess;
  let nodeId: number;

  before(async () => {
    broker = await startBrokerProcess({ args: ['--num-partitions', '2'] });
    const kafka = new Kafka({ clientId: 'osprey-single-reassign', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'alone', numPartitions: 2 }] });
      nodeId = (await admin.describeCluster()).brokers[0]!.nodeId;
    } finally {
      await admin.disconnect();
    }
  });
  after(async () => {
    await broker.stop();
  });

  test('ApiVersions advertises ElectLeaders 0-2, AlterPartitionReassignments 0-1, ListPartitionReassignments 0', async () => {
    const answer = await withConnection(broker, (connection) => connection.call(apiVersionsApi, 3, { clientSoftwareName: 'osprey-test', clientSoftwareVersion: '1' }));
    const range = (key: number) => answer.apiKeys.find((entry) => entry.apiKey === key);
    assert.deepEqual([range(43)?.minVersion, range(43)?.maxVersion], [0, 2]);
    assert.deepEqual([range(45)?.minVersion, range(45)?.maxVersion], [0, 1]);
    assert.deepEqual([range(46)?.minVersion, range(46)?.maxVersion], [0, 0]);
  });

  test('AlterPartitionReassignments: [this broker] is accepted, anything else refused, cancelling finds nothing', async () => {
    const answer = await withConnection(broker, (connection) =>
      connection.call(alterApi, 0, {
        timeoutMs: 5000,
        allowReplicationFactorChange: true,
        topics: [
          { name: 'alone', partitions: [{ partitionIndex: 0, replicas: [nodeId] }, { partitionIndex: 1, replicas: [nodeId, nodeId + 1] }] },
          { name: 'alone', partitions: [{ partitionIndex: 0, replicas: null }] },
          { name: 'missing', partitions: [{ partitionIndex: 0, replicas: [nodeId] }] },
        ],
      }),
    );
    assert.equal(answer.errorCode, ErrorCode.none);
    assert.deepEqual(
      answer.responses.map((topic) => [topic.name, topic.partitions.map((partition) => partition.errorCode)]),
      [
        ['alone', [ErrorCode.none, ErrorCode.invalidReplicaAssignment]],
        ['alone', [ErrorCode.invalidRequest]], // partition 0 named twice
        ['missing', [ErrorCode.unknownTopicOrPartition]],
      ],
    );
    const cancel = await withConnection(broker, (connection) => connection.call(alterApi, 1, { timeoutMs: 5000, allowReplicationFactorChange: true, topics: [{ name: 'alone', partitions: [{ partitionIndex: 1, replicas: null }] }] }));
    assert.equal(cancel.responses[0]?.partitions[0]?.errorCode, ErrorCode.noReassignmentInProgress);
  });

  test('ListPartitionReassignments: none under way (raw and KafkaJS)', async () => {
    const answer = await withConnection(broker, (connection) => connection.call(listApi, 0, { timeoutMs: 5000, topics: null }));
    assert.deepEqual({ errorCode: answer.errorCode, topics: answer.topics }, { errorCode: ErrorCode.none, topics: [] });
    const kafka = new Kafka({ clientId: 'osprey-single-list', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.deepEqual((await admin.listPartitionReassignments({ topics: [{ topic: 'alone', partitions: [0, 1] }] })).topics, []);
    } finally {
      await admin.disconnect();
    }
  });

  test('ElectLeaders: ELECTION_NOT_NEEDED for every partition held, UNKNOWN_TOPIC_OR_PARTITION for others, INVALID_REQUEST for an unknown type', async () => {
    const named = await withConnection(broker, (connection) => connection.call(electApi, 2, { electionType: 0, topicPartitions: [{ topic: 'alone', partitions: [0, 7] }], timeoutMs: 5000 }));
    assert.equal(named.errorCode, ErrorCode.none);
    assert.deepEqual(named.replicaElectionResults[0]?.partitionResult.map((result) => [result.partitionId, result.errorCode]), [[0, ErrorCode.electionNotNeeded], [7, ErrorCode.unknownTopicOrPartition]]);
    const all = await withConnection(broker, (connection) => connection.call(electApi, 0, { electionType: 0, topicPartitions: null, timeoutMs: 5000 }));
    const alone = all.replicaElectionResults.find((topic) => topic.topic === 'alone');
    assert.deepEqual(alone?.partitionResult.map((result) => [result.partitionId, result.errorCode]), [[0, ErrorCode.electionNotNeeded], [1, ErrorCode.electionNotNeeded]]);
    const unclean = await withConnection(broker, (connection) => connection.call(electApi, 1, { electionType: 1, topicPartitions: [{ topic: 'alone', partitions: [1] }], timeoutMs: 5000 }));
    assert.equal(unclean.replicaElectionResults[0]?.partitionResult[0]?.errorCode, ErrorCode.electionNotNeeded);
    const unknown = await withConnection(broker, (connection) => connection.call(electApi, 1, { electionType: 5, topicPartitions: [{ topic: 'alone', partitions: [1] }], timeoutMs: 5000 }));
    assert.equal(unknown.errorCode, ErrorCode.invalidRequest);
  });
});
