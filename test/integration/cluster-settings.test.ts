/**
 * The settings Kafka users expect of a cluster (docs/cluster.md), on a real etcd and three real
 * broker processes started with `--min-insync-replicas 2` and `--replica-lag-time-max-ms 2000`, and
 * leases long enough (30 s) that a paused broker still counts as live: only its leader's lag check
 * can take it out of the ISR.
 *
 * - min.insync.replicas: acks=all to a partition whose ISR is smaller is refused with
 *   NOT_ENOUGH_REPLICAS before anything is appended (the raw client's error code; KafkaJS's
 *   KafkaJSProtocolError type), and a request waiting while the ISR shrinks below it is answered
 *   NOT_ENOUGH_REPLICAS_AFTER_APPEND; acks=1 is not affected; a topic override wins over the broker
 *   setting; a partition with fewer replicas needs only as many as it has (as in Kafka).
 * - replica.lag.time.max.ms: a live follower that stops fetching (SIGSTOP) leaves the ISR after the
 *   lag time, written by its leader, and rejoins after SIGCONT.
 * - one cluster id: every broker answers the id etcd holds (/osprey/cluster-id) in Metadata and
 *   DescribeCluster; a broker configured with another --cluster-id is refused at start.
 * - CreatePartitions, AlterConfigs and IncrementalAlterConfigs on a topic of the cluster, sent to
 *   any broker: written to etcd, and every broker (its leader too) follows them.
 *
 * Oracles: etcd's keys read directly, the brokers' Produce, ListOffsets and DescribeCluster answers,
 * KafkaJS's errors and its admin client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { clusterIdKey, decodeClusterId, decodeTopic, topicKey } from '../../src/cluster/keys.js';
import type { TopicRecord } from '../../src/cluster/keys.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createPartitionsRequest, createPartitionsResponse } from '../../src/protocol/kafka/messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { describeClusterRequest, describeClusterResponse } from '../../src/protocol/kafka/messages/describe-cluster.js';
import { describeConfigsRequest, describeConfigsResponse } from '../../src/protocol/kafka/messages/describe-configs.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../../src/protocol/kafka/messages/incremental-alter-configs.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { rejectsWith } from '../helpers/client-errors.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const describeClusterApi = rawApi(describeClusterRequest, describeClusterResponse);
const incrementalAlterConfigsApi = rawApi(incrementalAlterConfigsRequest, incrementalAlterConfigsResponse);
const describeConfigsApi = rawApi(describeConfigsRequest, describeConfigsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const createPartitionsApi = rawApi(createPartitionsRequest, createPartitionsResponse);
const topicResourceType = 2;
const setOperation = 0;
const zeroTopicId = Buffer.alloc(16);
const lagTimeMs = 2000;

describe('a three-broker cluster: min.insync.replicas, replica.lag.time.max.ms, one cluster id', () => {
  let cluster: TestCluster;
  const broker = (nodeId: number): BrokerProcess => cluster.broker(nodeId);

  before(async () => {
    cluster = await startTestCluster({ leaseTtlSeconds: 30, extraArgs: () => ['--min-insync-replicas', '2', '--replica-lag-time-max-ms', String(lagTimeMs)] });
  });
  after(async () => {
    await cluster.stop();
  });

  async function create(topic: string, replicas: number[], configs: { name: string; value: string }[] = []): Promise<void> {
    const answer = await withConnection(broker(1), (connection) =>
      connection.call(createTopicsApi, 7, { topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: replicas }], configs }], timeoutMs: 10_000, validateOnly: false }),
    );
    assert.equal(answer.topics[0]?.errorCode, ErrorCode.none, answer.topics[0]?.errorMessage ?? '');
  }

  async function produce(topic: string, acks: number, value: string, timeoutMs = 5000, partitionIndex = 0, nodeId = 1): Promise<{ errorCode: number; baseOffset: bigint; errorMessage: string | null }> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(produceApi, 9, { acks, timeoutMs, transactionalId: null, topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: partitionIndex, records: encodeRecordBatch([{ key: null, value: Buffer.from(value) }]) }] }] }),
    );
    const partition = answer.responses[0]?.partitionResponses[0];
    assert.ok(partition);
    return { errorCode: partition.errorCode, baseOffset: partition.baseOffset, errorMessage: partition.errorMessage };
  }

  /** ListOffsets latest on the leader (broker 1): the high watermark. */
  async function highWatermark(topic: string): Promise<bigint> {
    const answer = await withConnection(broker(1), (connection) =>
      connection.call(listOffsetsApi, 10, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }], timeoutMs: 5000 }),
    );
    const partition = answer.topics[0]?.partitions[0];
    assert.equal(partition?.errorCode, ErrorCode.none);
    return partition.offset;
  }

  test('min.insync.replicas 2 (the broker setting): the ISR shrinking under a waiting acks=all answers NOT_ENOUGH_REPLICAS_AFTER_APPEND, then acks=all is refused before appending until the follower rejoins', async () => {
    await create('guarded', [1, 2]);
    await cluster.waitForPartition('guarded', 0, (state) => state.isr.length === 2, 'broker 2 to join the ISR');
    assert.equal((await produce('guarded', -1, 'both')).errorCode, ErrorCode.none);

    const kafka = new Kafka({ clientId: 'osprey-min-isr', brokers: [broker(1).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    process.kill(broker(2).pid, 'SIGSTOP');
    try {
      // Waits for broker 2, which no longer fetches; after the lag time its leader takes it out of
      // the ISR (its lease, 30 s, is still alive), and the waiting request learns the ISR is too small.
      const startedMs = Date.now();
      const waited = await produce('guarded', -1, 'appended, then the ISR shrank', 25_000);
      const elapsedMs = Date.now() - startedMs;
      assert.equal(waited.errorCode, ErrorCode.notEnoughReplicasAfterAppend, waited.errorMessage ?? '');
      assert.ok(elapsedMs >= lagTimeMs - 500 && elapsedMs < 15_000, `answered after ${elapsedMs} ms, once the lag time (${lagTimeMs} ms) had passed`);
      const shrunk = await cluster.partition('guarded', 0);
      assert.deepEqual(shrunk?.isr, [1], 'the leader removed the stalled follower in etcd');
      assert.equal(shrunk.leaderEpoch, 0, 'shrinking the ISR keeps the leader');
      assert.equal(await highWatermark('guarded'), 2n, 'the batch answered AFTER_APPEND is in the log');
      await broker(1).waitForLog(/replicas left the ISR: not caught up within replica\.lag\.time\.max\.ms/, 1000);

      // ISR 1 < 2: refused before anything is appended (the next acks=1 batch gets offset 2).
      const refused = await produce('guarded', -1, 'refused');
      assert.equal(refused.errorCode, ErrorCode.notEnoughReplicas, refused.errorMessage ?? '');
      assert.equal(refused.baseOffset, -1n);
      // KafkaJS retries the retriable error (no retries here), then reports it as the cause.
      await rejectsWith(producer.send({ topic: 'guarded', acks: -1, messages: [{ value: 'kafkajs refused' }] }), 'NOT_ENOUGH_REPLICAS');
      assert.equal(await highWatermark('guarded'), 2n, 'nothing refused was appended');
      const unaffected = await produce('guarded', 1, 'acks=1 is not affected');
      assert.equal(unaffected.errorCode, ErrorCode.none);
      assert.equal(unaffected.baseOffset, 2n);

      // A topic override of 1 wins over the broker setting: acks=all with the leader alone in the ISR
      // (broker 2 is still paused, so it cannot join).
      await create('override-one', [1, 2], [{ name: 'min.insync.replicas', value: '1' }]);
      const one = await produce('override-one', -1, 'min 1');
      assert.equal(one.errorCode, ErrorCode.none, one.errorMessage ?? '');
      assert.deepEqual((await cluster.partition('override-one', 0))?.isr, [1]);

    } finally {
      process.kill(broker(2).pid, 'SIGCONT');
      await producer.disconnect();
    }
    // Resumed: it catches up, the leader adds it back, and acks=all is accepted again.
    await cluster.waitForPartition('guarded', 0, (state) => state.isr.length === 2, 'broker 2 to rejoin the ISR');
    const accepted = await produce('guarded', -1, 'both again');
    assert.equal(accepted.errorCode, ErrorCode.none, accepted.errorMessage ?? '');
    assert.equal(accepted.baseOffset, 3n);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'guarded', configNames: ['min.insync.replicas'] }] });
      assert.equal(described.resources[0]?.configEntries[0]?.configValue, '2', 'DescribeConfigs gives the broker setting');
    } finally {
      await admin.disconnect();
    }
  });

  test('a partition with fewer replicas than min.insync.replicas needs only as many as it has, as in Kafka', async () => {
    await create('single-replica', [1], [{ name: 'min.insync.replicas', value: '3' }]);
    const single = await produce('single-replica', -1, 'min 3 of 1 replica');
    assert.equal(single.errorCode, ErrorCode.none, single.errorMessage ?? '');
  });

  test('every broker answers the one cluster id etcd holds; a broker configured with another is refused', async () => {
    const entry = await cluster.store.get(clusterIdKey);
    assert.ok(entry !== null, `${clusterIdKey} exists`);
    const clusterId = decodeClusterId(entry.value);
    assert.ok(typeof clusterId === 'string', String(clusterId));
    for (const nodeId of [1, 2, 3]) {
      const described = await withConnection(broker(nodeId), (connection) => connection.call(describeClusterApi, 0, { includeClusterAuthorizedOperations: false, includeFencedBrokers: false }));
      assert.equal(described.clusterId, clusterId, `DescribeCluster on broker ${nodeId}`);
      const admin = new Kafka({ clientId: 'osprey-cluster-id', brokers: [broker(nodeId).bootstrap], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        assert.equal((await admin.describeCluster()).clusterId, clusterId, `Metadata on broker ${nodeId}`);
      } finally {
        await admin.disconnect();
      }
    }
    await assert.rejects(cluster.startBroker(4, { extra: ['--cluster-id', 'another-cluster'] }), /the cluster in etcd has cluster id .* but clusterId is configured as another-cluster/);
    assert.equal(await cluster.store.get('/osprey/brokers/4'), null, 'the refused broker never registered');
  });

  /** The topic's configs as broker `nodeId` itself describes them (KafkaJS would ask the controller). */
  async function describedConfigs(nodeId: number, topic: string): Promise<Record<string, string | null>> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(describeConfigsApi, 4, { resources: [{ resourceType: topicResourceType, resourceName: topic, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }),
    );
    const result = answer.results[0];
    assert.equal(result?.errorCode, ErrorCode.none, result?.errorMessage ?? '');
    return Object.fromEntries(result.configs.map((config) => [config.name, config.value]));
  }

  /** How many partitions broker `nodeId` itself lists for the topic (Metadata). */
  async function listedPartitions(nodeId: number, topic: string): Promise<number> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(metadataApi, 12, { topics: [{ topicId: zeroTopicId, name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }),
    );
    return answer.topics[0]?.partitions.length ?? 0;
  }

  /** A broker that is not the controller (KafkaJS's admin sends CreatePartitions and AlterConfigs to the controller). */
  async function notController(): Promise<number> {
    const controller = await cluster.controller();
    return [1, 2, 3].find((nodeId) => nodeId !== controller?.nodeId) ?? 1;
  }

  /** The topic's record as etcd holds it. */
  async function topicRecord(topic: string): Promise<TopicRecord> {
    const entry = await cluster.store.get(topicKey(topic));
    assert.ok(entry !== null, `topic ${topic} in etcd`);
    const record = decodeTopic(entry.value);
    assert.ok(!(record instanceof Error), String(record));
    return record;
  }

  test('CreatePartitions on any broker: the new partitions are placed in etcd (or on the assignment given), and every broker holds and serves them', async () => {
    await create('grown', [1, 2]);
    const admin = new Kafka({ clientId: 'osprey-grow', brokers: [broker(2).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await admin.connect();
    try {
      await admin.createPartitions({ topicPartitions: [{ topic: 'grown', count: 3 }] });
      const grown = await topicRecord('grown');
      assert.equal(grown.partitionCount, 3);
      assert.deepEqual(grown.replicaAssignment[0], [1, 2], 'the first partition keeps its replicas');
      for (const index of [1, 2]) {
        const replicas = grown.replicaAssignment[index]!;
        assert.equal(replicas.length, 2, 'the topic replication factor');
        assert.equal(new Set(replicas).size, 2);
        const state = await cluster.partition('grown', index);
        assert.deepEqual(state?.replicas, replicas, `partition ${index} has a state in etcd`);
        assert.equal(state.leader, replicas[0], 'led by its first replica, as CreateTopics does');
        assert.equal(state.leaderEpoch, 0);
      }
      // An explicit assignment, sent (raw) to a broker that is not the controller; then the refusals.
      const answer = await withConnection(broker(await notController()), (connection) =>
        connection.call(createPartitionsApi, 3, { topics: [{ name: 'grown', count: 4, assignments: [{ brokerIds: [3, 1] }] }], timeoutMs: 10_000, validateOnly: false }),
      );
      assert.equal(answer.results[0]?.errorCode, ErrorCode.none, answer.results[0]?.errorMessage ?? '');
      assert.deepEqual((await topicRecord('grown')).replicaAssignment[3], [3, 1]);
      await rejectsWith(admin.createPartitions({ topicPartitions: [{ topic: 'grown', count: 4 }] }), 'INVALID_PARTITIONS');
      await rejectsWith(admin.createPartitions({ topicPartitions: [{ topic: 'grown', count: 5, assignments: [[3, 9]] }] }), 'INVALID_REPLICA_ASSIGNMENT');
      await rejectsWith(admin.createPartitions({ topicPartitions: [{ topic: 'grown', count: 5, assignments: [[3]] }] }), 'INVALID_REPLICA_ASSIGNMENT');
      await admin.createPartitions({ validateOnly: true, topicPartitions: [{ topic: 'grown', count: 6 }] });
      assert.equal((await topicRecord('grown')).partitionCount, 4, 'validateOnly changes nothing');
    } finally {
      await admin.disconnect();
    }
    // Every broker follows: each lists 4 partitions, and the leader of the last serves it.
    for (const nodeId of [1, 2, 3]) await waitUntil(async () => (await listedPartitions(nodeId, 'grown')) === 4, `broker ${nodeId} to list 4 partitions`);
    await cluster.waitForPartition('grown', 3, (state) => state.isr.length === 2, 'broker 1 to join the ISR of the new partition');
    const produced = await produce('grown', -1, 'to a new partition', 5000, 3, 3);
    assert.equal(produced.errorCode, ErrorCode.none, produced.errorMessage ?? '');
    assert.equal(produced.baseOffset, 0n);
  });

  test('AlterConfigs and IncrementalAlterConfigs on any broker: the overrides change in etcd, every broker describes them, and the leader acts on them', async () => {
    await create('configured', [1, 2], [{ name: 'retention.ms', value: '600000' }]);
    // AlterConfigs (KafkaJS, which sends it to the controller): replaces every override.
    const admin = new Kafka({ clientId: 'osprey-configs', brokers: [broker(3).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await admin.connect();
    try {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configEntries: [{ name: 'max.message.bytes', value: '200' }] }] });
      assert.deepEqual([...(await topicRecord('configured')).configs], [['max.message.bytes', '200']], 'AlterConfigs replaces the overrides');
      await rejectsWith(admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }), 'INVALID_CONFIG');
      await admin.alterConfigs({ validateOnly: true, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configEntries: [{ name: 'retention.ms', value: '1000' }] }] });
      assert.deepEqual([...(await topicRecord('configured')).configs], [['max.message.bytes', '200']], 'validateOnly changes nothing');
    } finally {
      await admin.disconnect();
    }
    // The leader, broker 1, applied it from its watch: a larger batch is refused.
    await waitUntil(async () => (await produce('configured', 1, 'x'.repeat(300))).errorCode === ErrorCode.messageTooLarge, 'the leader to refuse a batch over max.message.bytes 200');

    // IncrementalAlterConfigs (raw) through a broker that is not the controller: sets one key, keeps the other.
    const through = await notController();
    const answer = await withConnection(broker(through), (connection) =>
      connection.call(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: topicResourceType, resourceName: 'configured', configs: [{ name: 'retention.ms', configOperation: setOperation, value: '90000' }] }], validateOnly: false }),
    );
    assert.equal(answer.responses[0]?.errorCode, ErrorCode.none, answer.responses[0]?.errorMessage ?? '');
    assert.deepEqual(Object.fromEntries((await topicRecord('configured')).configs), { 'max.message.bytes': '200', 'retention.ms': '90000' });
    const conflict = await withConnection(broker(through), (connection) =>
      connection.call(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: topicResourceType, resourceName: 'configured', configs: [{ name: 'min.compaction.lag.ms', configOperation: setOperation, value: '10' }, { name: 'max.compaction.lag.ms', configOperation: setOperation, value: '5' }] }], validateOnly: false }),
    );
    assert.equal(conflict.responses[0]?.errorCode, ErrorCode.invalidConfig, 'a conflict across keys, checked on the overrides etcd holds');

    // Every broker describes the same overrides.
    for (const nodeId of [1, 2, 3]) {
      await waitUntil(async () => {
        const values = await describedConfigs(nodeId, 'configured');
        return values['retention.ms'] === '90000' && values['max.message.bytes'] === '200';
      }, `broker ${nodeId} to describe the new overrides`);
    }
  });

  /** IncrementalAlterConfigs SET of one key on one resource, sent to broker `nodeId`; its error code. */
  async function setConfig(nodeId: number, resourceType: number, resourceName: string, name: string, value: string): Promise<number> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(incrementalAlterConfigsApi, 1, { resources: [{ resourceType, resourceName, configs: [{ name, configOperation: setOperation, value }] }], validateOnly: false }),
    );
    return answer.responses[0]?.errorCode ?? -1;
  }

  /** One config of one resource as broker `nodeId` itself describes it: value and source. */
  async function describedConfig(nodeId: number, resourceType: number, resourceName: string, name: string): Promise<{ value: string | null; source: number } | undefined> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(describeConfigsApi, 4, { resources: [{ resourceType, resourceName, configurationKeys: [name] }], includeSynonyms: false, includeDocumentation: false }),
    );
    const config = answer.results[0]?.configs.find((entry) => entry.name === name);
    return config === undefined ? undefined : { value: config.value, source: config.configSource };
  }

  test('cluster-wide broker defaults and group configs set on one broker are held in etcd: every broker describes and applies them, one joining later too', async () => {
    const brokerResourceType = 4;
    const groupResourceType = 32;
    const dynamicDefaultBrokerConfig = 3;
    // The cluster-wide default (broker resource '') through broker 2.
    assert.equal(await setConfig(2, brokerResourceType, '', 'log.retention.ms', '4321000'), ErrorCode.none);
    assert.ok((await cluster.store.get('/osprey/configs/broker:')) !== null, 'held in etcd');
    await create('defaulted', [3, 1]);
    for (const nodeId of [1, 2, 3]) {
      await waitUntil(async () => (await describedConfig(nodeId, brokerResourceType, '', 'log.retention.ms'))?.value === '4321000', `broker ${nodeId} to describe the cluster-wide default`);
      // A topic without an override takes it (Kafka: retention.ms from log.retention.ms, DYNAMIC_DEFAULT_BROKER_CONFIG).
      await waitUntil(async () => {
        const described = await describedConfig(nodeId, topicResourceType, 'defaulted', 'retention.ms');
        return described?.value === '4321000' && described.source === dynamicDefaultBrokerConfig;
      }, `broker ${nodeId} to apply it to a topic`);
    }
    // A group's own config through broker 3, described by broker 1.
    assert.equal(await setConfig(3, groupResourceType, 'shared-group', 'consumer.session.timeout.ms', '50000'), ErrorCode.none);
    await waitUntil(async () => (await describedConfig(1, groupResourceType, 'shared-group', 'consumer.session.timeout.ms'))?.value === '50000', 'broker 1 to describe the group config set on broker 3');
    // A broker that was away when the default changed takes it on its return.
    await broker(1).stop();
    assert.equal(await setConfig(2, brokerResourceType, '', 'log.retention.ms', '5432000'), ErrorCode.none);
    await cluster.restart(1);
    await waitUntil(async () => (await describedConfig(1, topicResourceType, 'defaulted', 'retention.ms'))?.value === '5432000', 'broker 1, restarted, to apply the default changed while it was away');
    // Removing the last key deletes it from etcd.
    const removed = await withConnection(broker(3), (connection) =>
      connection.call(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: brokerResourceType, resourceName: '', configs: [{ name: 'log.retention.ms', configOperation: 1, value: null }] }], validateOnly: false }),
    );
    assert.equal(removed.responses[0]?.errorCode, ErrorCode.none);
    assert.equal(await cluster.store.get('/osprey/configs/broker:'), null);
    await waitUntil(async () => (await describedConfig(2, topicResourceType, 'defaulted', 'retention.ms'))?.value === '604800000', 'broker 2 back on the static default');
  });

  test('a broker that was stopped while a topic changed applies the change when it returns', async () => {
    await create('returning', [1, 3], [{ name: 'retention.ms', value: '600000' }]);
    await broker(3).stop();
    const admin = new Kafka({ clientId: 'osprey-returning', brokers: [broker(1).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await admin.connect();
    try {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'returning', configEntries: [{ name: 'retention.ms', value: '123000' }] }] });
      await admin.createPartitions({ topicPartitions: [{ topic: 'returning', count: 2 }] });
    } finally {
      await admin.disconnect();
    }
    await waitUntil(async () => (await describedConfigs(2, 'returning'))['retention.ms'] === '123000', 'broker 2, which was up, to apply the change');
    await cluster.restart(3);
    await waitUntil(async () => (await listedPartitions(3, 'returning')) === 2, 'broker 3 to list the added partition');
    assert.equal((await describedConfigs(3, 'returning'))['retention.ms'], '123000');
  });
});
