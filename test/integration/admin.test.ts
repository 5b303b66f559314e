/**
 * Topic and config administration against a real broker process, driven by clients we did not write:
 * KafkaJS 2.2.4's admin (CreateTopics v3, DeleteTopics v1, CreatePartitions v1, DescribeConfigs v2,
 * AlterConfigs v1, DeleteRecords v1) and @platformatic/kafka 1.35's Admin (CreateTopics v7,
 * DeleteTopics v6, CreatePartitions v3, DescribeConfigs v4, AlterConfigs v2,
 * IncrementalAlterConfigs v1, DeleteRecords v2), plus its low-level DescribeCluster v1 and
 * DeleteTopics v6 by topic id, which its Admin does not expose.
 *
 * Each case checks the answer the client decodes, then the broker's state through another request
 * (Metadata, DescribeConfigs, ListOffsets), and the error cases answer the Kafka error code a real
 * Kafka would. The last case restarts the broker: topics, partition counts and config overrides
 * come back from its data directory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { childErrors, errorTreeHas, errorTreeText, rejectsWith } from '../helpers/client-errors.js';
import kafkajs from 'kafkajs';
import type { Admin as KafkaJsAdmin, Kafka as KafkaJsClient } from 'kafkajs';
import { Admin, Connection, deleteRecordsV2, deleteTopicsV6, describeClusterV1 } from '@platformatic/kafka';
import type { ConfigDescription } from '@platformatic/kafka';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';

const { Kafka, logLevel } = kafkajs;

/** The broker's num.partitions: what CreateTopics with -1 partitions gets. */
const defaultPartitions = 3;
const brokerArgs = ['--num-partitions', String(defaultPartitions)];
const topicResource = 2;
const brokerResource = 4;
const ConfigSource = { topic: 1, staticBroker: 4, default: 5 } as const;
const Operation = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

function kafkaJsClient(broker: BrokerProcess, clientId: string): KafkaJsClient {
  return new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 300 } });
}

function platformaticAdmin(broker: BrokerProcess, clientId: string): Admin {
  return new Admin({ clientId, bootstrapBrokers: [broker.bootstrap], retries: 1, retryDelay: 100 });
}

function tail(broker: BrokerProcess, lines = 40): string {
  return broker.logs().split('\n').slice(-lines).join('\n');
}

/** Wraps a test body: on failure the broker's last log lines are added to the message. */
function withBrokerLogs(broker: () => BrokerProcess, work: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await work();
    } catch (error) {
      if (error instanceof Error) {
        const wrapped = childErrors(error).map((child) => errorTreeText(child)).join('\n').trim();
        error.message += `${wrapped === '' ? '' : `\n--- wrapped errors ---\n${wrapped}`}\n--- broker log (last lines) ---\n${tail(broker())}`;
      }
      throw error;
    }
  };
}

/** KafkaJS's view of one topic's configs: name → { value, source, readOnly }. */
async function kafkaJsTopicConfigs(admin: KafkaJsAdmin, topic: string): Promise<Map<string, { value: string; source: number; isDefault: boolean; readOnly: boolean }>> {
  const described = await admin.describeConfigs({ resources: [{ type: topicResource, name: topic }], includeSynonyms: false });
  const resource = described.resources[0];
  assert.ok(resource !== undefined);
  assert.equal(resource.errorCode, 0);
  return new Map(resource.configEntries.map((entry) => [entry.configName, { value: entry.configValue, source: entry.configSource as number, isDefault: entry.isDefault, readOnly: entry.readOnly }]));
}

async function partitionCountOf(admin: KafkaJsAdmin, topic: string): Promise<number> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const found = metadata.topics.find((entry) => entry.name === topic);
  assert.ok(found !== undefined, `${topic} missing from metadata`);
  return found.partitions.length;
}

function configsOf(descriptions: readonly ConfigDescription[], topic: string): Map<string, ConfigDescription['configs'][number]> {
  const description = descriptions.find((entry) => entry.resourceName === topic);
  assert.ok(description !== undefined, `no description of ${topic}`);
  return new Map(description.configs.map((config) => [config.name, config]));
}

describe('topic and config administration', () => {
  let broker: BrokerProcess;
  let kafkaJs: KafkaJsClient;
  let kafkaJsAdmin: KafkaJsAdmin;
  let admin: Admin;
  const currentBroker = () => broker;

  before(async () => {
    broker = await startBrokerProcess({ args: brokerArgs });
    kafkaJs = kafkaJsClient(broker, 'admin-test-kafkajs');
    kafkaJsAdmin = kafkaJs.admin();
    await kafkaJsAdmin.connect();
    admin = platformaticAdmin(broker, 'admin-test-platformatic');
  });

  after(async () => {
    await kafkaJsAdmin?.disconnect();
    await admin?.close();
    await broker?.stop();
  });

  test(
    'KafkaJS creates a topic with partitions and config overrides, and reads them back',
    withBrokerLogs(currentBroker, async () => {
      const created = await kafkaJsAdmin.createTopics({
        topics: [{ topic: 'kj-orders', numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
      });
      assert.equal(created, true);
      const metadata = await kafkaJsAdmin.fetchTopicMetadata({ topics: ['kj-orders'] });
      assert.deepEqual(
        metadata.topics[0]?.partitions.map((partition) => [partition.partitionId, partition.leader, partition.replicas]).sort(),
        [
          [0, 0, [0]],
          [1, 0, [0]],
        ],
      );
      const configs = await kafkaJsTopicConfigs(kafkaJsAdmin, 'kj-orders');
      assert.deepEqual(configs.get('retention.ms'), { value: '3600000', source: ConfigSource.topic, isDefault: false, readOnly: false });
      assert.deepEqual(configs.get('cleanup.policy'), { value: 'delete', source: ConfigSource.default, isDefault: true, readOnly: false });
      assert.ok(configs.has('segment.bytes') && configs.has('max.message.bytes') && configs.has('message.timestamp.type'));
      assert.ok((await kafkaJsAdmin.listTopics()).includes('kj-orders'));
    }),
  );

  test(
    'KafkaJS: an existing topic is TOPIC_ALREADY_EXISTS (createTopics answers false)',
    withBrokerLogs(currentBroker, async () => {
      assert.equal(await kafkaJsAdmin.createTopics({ topics: [{ topic: 'kj-orders', numPartitions: 5 }] }), false);
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'kj-orders'), 2, 'the existing topic is unchanged');
    }),
  );

  test(
    'KafkaJS: invalid name, replication factor 3, bad config value and unknown config key are refused, and create nothing',
    withBrokerLogs(currentBroker, async () => {
      await rejectsWith(kafkaJsAdmin.createTopics({ topics: [{ topic: 'no spaces allowed' }] }), 'INVALID_TOPIC_EXCEPTION');
      await rejectsWith(kafkaJsAdmin.createTopics({ topics: [{ topic: 'kj-replicated', numPartitions: 1, replicationFactor: 3 }] }), 'INVALID_REPLICATION_FACTOR');
      await rejectsWith(
        kafkaJsAdmin.createTopics({ topics: [{ topic: 'kj-bad-value', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        kafkaJsAdmin.createTopics({ topics: [{ topic: 'kj-unknown-key', configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        kafkaJsAdmin.createTopics({ topics: [{ topic: 'kj-elsewhere', replicaAssignment: [{ partition: 0, replicas: [7] }] }] }),
        'INVALID_REPLICA_ASSIGNMENT',
      );
      const topics = await kafkaJsAdmin.listTopics();
      for (const name of ['kj-replicated', 'kj-bad-value', 'kj-unknown-key', 'kj-elsewhere']) assert.ok(!topics.includes(name), `${name} was created`);
    }),
  );

  test(
    'KafkaJS: validateOnly checks and creates nothing; a manual assignment to this broker is accepted',
    withBrokerLogs(currentBroker, async () => {
      await kafkaJsAdmin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kj-dry-run', numPartitions: 4 }] });
      assert.ok(!(await kafkaJsAdmin.listTopics()).includes('kj-dry-run'));
      await rejectsWith(kafkaJsAdmin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kj-dry-run', replicationFactor: 2 }] }), 'INVALID_REPLICATION_FACTOR');
      const created = await kafkaJsAdmin.createTopics({
        topics: [
          {
            topic: 'kj-assigned',
            replicaAssignment: [
              { partition: 1, replicas: [0] },
              { partition: 0, replicas: [0] },
            ],
          },
        ],
      });
      assert.equal(created, true);
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'kj-assigned'), 2);
    }),
  );

  test(
    'KafkaJS: createPartitions raises the count; a lower count and an unknown topic are refused',
    withBrokerLogs(currentBroker, async () => {
      await kafkaJsAdmin.createPartitions({ topicPartitions: [{ topic: 'kj-orders', count: 4 }] });
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'kj-orders'), 4);
      await rejectsWith(kafkaJsAdmin.createPartitions({ topicPartitions: [{ topic: 'kj-orders', count: 3 }] }), 'INVALID_PARTITIONS');
      await rejectsWith(kafkaJsAdmin.createPartitions({ topicPartitions: [{ topic: 'kj-orders', count: 6, assignments: [[0], [5]] }] }), 'INVALID_REPLICA_ASSIGNMENT');
      await rejectsWith(kafkaJsAdmin.createPartitions({ topicPartitions: [{ topic: 'kj-nowhere', count: 2 }] }), 'UNKNOWN_TOPIC_OR_PARTITION');
      await kafkaJsAdmin.createPartitions({ validateOnly: true, topicPartitions: [{ topic: 'kj-orders', count: 8 }] });
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'kj-orders'), 4, 'validateOnly changed nothing');
    }),
  );

  test(
    'KafkaJS: alterConfigs replaces the whole set of overrides; bad keys, bad values and broker resources are refused',
    withBrokerLogs(currentBroker, async () => {
      await kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: topicResource, name: 'kj-orders', configEntries: [{ name: 'retention.bytes', value: '1048576' }] }] });
      let configs = await kafkaJsTopicConfigs(kafkaJsAdmin, 'kj-orders');
      assert.equal(configs.get('retention.bytes')?.value, '1048576');
      assert.equal(configs.get('retention.bytes')?.source, ConfigSource.topic);
      assert.deepEqual(configs.get('retention.ms'), { value: String(7 * 24 * 60 * 60 * 1000), source: ConfigSource.default, isDefault: true, readOnly: false });

      await rejectsWith(
        kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: topicResource, name: 'kj-orders', configEntries: [{ name: 'segment.bytes', value: 'big' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: topicResource, name: 'kj-orders', configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: brokerResource, name: '0', configEntries: [{ name: 'num.partitions', value: '9' }] }] }),
        'INVALID_REQUEST',
      );
      await rejectsWith(
        kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: topicResource, name: 'kj-nowhere', configEntries: [{ name: 'retention.ms', value: '1' }] }] }),
        'UNKNOWN_TOPIC_OR_PARTITION',
      );
      configs = await kafkaJsTopicConfigs(kafkaJsAdmin, 'kj-orders');
      assert.equal(configs.get('retention.bytes')?.value, '1048576', 'refused changes left the overrides alone');
      assert.equal(configs.get('segment.bytes')?.source, ConfigSource.default);

      await kafkaJsAdmin.alterConfigs({ validateOnly: true, resources: [{ type: topicResource, name: 'kj-orders', configEntries: [] }] });
      assert.equal((await kafkaJsTopicConfigs(kafkaJsAdmin, 'kj-orders')).get('retention.bytes')?.value, '1048576', 'validateOnly changed nothing');
    }),
  );

  test(
    'KafkaJS: describeConfigs of the broker lists its settings (the log.* topic defaults dynamic, the rest read-only); an unknown topic is UNKNOWN_TOPIC_OR_PARTITION',
    withBrokerLogs(currentBroker, async () => {
      const described = await kafkaJsAdmin.describeConfigs({ resources: [{ type: brokerResource, name: '0' }], includeSynonyms: false });
      const entries = new Map(described.resources[0]?.configEntries.map((entry) => [entry.configName, entry]));
      assert.equal(entries.get('num.partitions')?.configValue, String(defaultPartitions));
      assert.equal(entries.get('num.partitions')?.configSource, ConfigSource.staticBroker, 'set on the command line');
      assert.equal(entries.get('log.retention.ms')?.configSource, ConfigSource.default);
      for (const name of ['auto.create.topics.enable', 'log.retention.bytes', 'log.segment.bytes', 'log.roll.ms', 'message.max.bytes', 'log.message.timestamp.type', 'log.index.interval.bytes']) {
        assert.ok(entries.has(name), `${name} missing`);
      }
      assert.ok([...entries.values()].every((entry) => !entry.isSensitive));
      assert.equal(entries.get('num.partitions')?.readOnly, true);
      assert.equal(entries.get('auto.create.topics.enable')?.readOnly, true);
      assert.equal(entries.get('log.retention.ms')?.readOnly, false, 'a dynamic broker config');

      const filtered = await kafkaJsAdmin.describeConfigs({ resources: [{ type: topicResource, name: 'kj-orders', configNames: ['retention.bytes', 'no.such.config'] }], includeSynonyms: true });
      assert.deepEqual(
        filtered.resources[0]?.configEntries.map((entry) => [entry.configName, entry.configValue, entry.configSynonyms.map((synonym) => [synonym.configName, synonym.configSource])]),
        [
          [
            'retention.bytes',
            '1048576',
            [
              ['retention.bytes', ConfigSource.topic],
              ['log.retention.bytes', ConfigSource.default],
            ],
          ],
        ],
      );
      await rejectsWith(kafkaJsAdmin.describeConfigs({ resources: [{ type: topicResource, name: 'kj-nowhere' }], includeSynonyms: false }), 'UNKNOWN_TOPIC_OR_PARTITION');
    }),
  );

  test(
    'KafkaJS: deleteTopicRecords moves the low watermark; -1 means the high watermark; beyond it is OFFSET_OUT_OF_RANGE',
    withBrokerLogs(currentBroker, async () => {
      await kafkaJsAdmin.createTopics({ topics: [{ topic: 'kj-records', numPartitions: 2 }] });
      const producer = kafkaJs.producer();
      await producer.connect();
      try {
        for (const partition of [0, 1]) {
          await producer.send({ topic: 'kj-records', acks: -1, messages: Array.from({ length: 10 }, (_, index) => ({ partition, value: `record ${index}` })) });
        }
      } finally {
        await producer.disconnect();
      }
      // KafkaJS finds partition leaders in its metadata cache, which learns a topic when it is asked about.
      await kafkaJsAdmin.fetchTopicMetadata({ topics: ['kj-records'] });
      await kafkaJsAdmin.deleteTopicRecords({ topic: 'kj-records', partitions: [{ partition: 0, offset: '4' }] });
      await kafkaJsAdmin.deleteTopicRecords({ topic: 'kj-records', partitions: [{ partition: 1, offset: '-1' }] });
      const offsets = (await kafkaJsAdmin.fetchTopicOffsets('kj-records')).sort((left, right) => left.partition - right.partition);
      assert.deepEqual(
        offsets.map((entry) => [entry.partition, entry.low, entry.high]),
        [
          [0, '4', '10'],
          [1, '10', '10'],
        ],
      );
      await rejectsWith(kafkaJsAdmin.deleteTopicRecords({ topic: 'kj-records', partitions: [{ partition: 0, offset: '11' }] }), 'OFFSET_OUT_OF_RANGE');
      const after = await kafkaJsAdmin.fetchTopicOffsets('kj-records');
      assert.equal(after.find((entry) => entry.partition === 0)?.low, '4', 'a refused deletion moved nothing');
    }),
  );

  test(
    'KafkaJS: deleteTopics removes a topic; deleting it again is UNKNOWN_TOPIC_OR_PARTITION',
    withBrokerLogs(currentBroker, async () => {
      await kafkaJsAdmin.deleteTopics({ topics: ['kj-assigned'] });
      assert.ok(!(await kafkaJsAdmin.listTopics()).includes('kj-assigned'));
      await rejectsWith(kafkaJsAdmin.deleteTopics({ topics: ['kj-assigned'] }), 'UNKNOWN_TOPIC_OR_PARTITION');
    }),
  );

  test(
    '@platformatic/kafka creates topics with the broker defaults and gets back id, partitions, replicas and configs (CreateTopics v7)',
    withBrokerLogs(currentBroker, async () => {
      const created = await admin.createTopics({ topics: ['pk-events', 'pk-audit'], configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] });
      assert.deepEqual(
        created.map((topic) => [topic.name, topic.partitions, topic.replicas]),
        [
          ['pk-events', defaultPartitions, 1],
          ['pk-audit', defaultPartitions, 1],
        ],
      );
      for (const topic of created) {
        assert.match(topic.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        assert.notEqual(topic.id, '00000000-0000-0000-0000-000000000000');
        assert.equal(topic.configuration['message.timestamp.type'], 'LogAppendTime');
        assert.equal(topic.configuration['cleanup.policy'], 'delete');
        assert.equal(topic.configuration['segment.bytes'], String(1024 * 1024 * 1024));
      }
      assert.ok((await admin.listTopics()).includes('pk-events'));

      await rejectsWith(admin.createTopics({ topics: ['pk-events'] }), 'TOPIC_ALREADY_EXISTS');
      await rejectsWith(admin.createTopics({ topics: ['pk-triple'], partitions: 1, replicas: 3 }), 'INVALID_REPLICATION_FACTOR', /one broker/);
      await rejectsWith(admin.createTopics({ topics: ['pk-bad'], configs: [{ name: 'max.message.bytes', value: '-5' }] }), 'INVALID_CONFIG');
      await rejectsWith(admin.createTopics({ topics: ['pk-zero'], partitions: 0 }), 'INVALID_PARTITIONS');
      await rejectsWith(admin.createTopics({ topics: ['pk-twice', 'pk-twice'], partitions: 1 }), 'INVALID_REQUEST', /more than once/);
      await rejectsWith(admin.createTopics({ topics: ['pk-elsewhere'], assignments: [{ partition: 0, brokers: [0] }, { partition: 2, brokers: [0] }] }), 'INVALID_REPLICA_ASSIGNMENT');
      assert.ok(!(await admin.listTopics()).some((name) => ['pk-triple', 'pk-bad', 'pk-zero', 'pk-twice', 'pk-elsewhere'].includes(name)));
    }),
  );

  test(
    '@platformatic/kafka: incrementalAlterConfigs SET, DELETE, APPEND and SUBTRACT; describeConfigs v4 with types, synonyms and documentation',
    withBrokerLogs(currentBroker, async () => {
      await admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: topicResource,
            resourceName: 'pk-events',
            configs: [
              { name: 'retention.ms', configOperation: Operation.set, value: '60000' },
              { name: 'message.timestamp.type', configOperation: Operation.delete },
              { name: 'cleanup.policy', configOperation: Operation.append, value: 'delete' },
            ],
          },
        ],
      });
      const described = await admin.describeConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-events', configurationKeys: null }], includeSynonyms: true, includeDocumentation: true });
      const configs = configsOf(described, 'pk-events');
      assert.equal(configs.get('retention.ms')?.value, '60000');
      assert.equal(configs.get('retention.ms')?.configSource, ConfigSource.topic);
      assert.equal(configs.get('retention.ms')?.configType, 5, 'LONG');
      assert.deepEqual(
        configs.get('retention.ms')?.synonyms.map((synonym) => [synonym.name, synonym.value, synonym.source]),
        [
          ['retention.ms', '60000', ConfigSource.topic],
          ['log.retention.ms', String(7 * 24 * 60 * 60 * 1000), ConfigSource.default],
        ],
      );
      assert.equal(configs.get('message.timestamp.type')?.value, 'CreateTime');
      assert.equal(configs.get('message.timestamp.type')?.configSource, ConfigSource.default);
      assert.equal(configs.get('cleanup.policy')?.value, 'delete', 'appending an item already there changes nothing');
      assert.equal(configs.get('cleanup.policy')?.configType, 7, 'LIST');
      assert.ok((configs.get('segment.bytes')?.documentation ?? '').length > 0);

      await rejectsWith(
        admin.incrementalAlterConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-events', configs: [{ name: 'retention.ms', configOperation: Operation.append, value: '5' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        admin.incrementalAlterConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-events', configs: [{ name: 'cleanup.policy', configOperation: Operation.set, value: 'archive' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        admin.incrementalAlterConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-events', configs: [{ name: 'cleanup.policy', configOperation: Operation.subtract, value: 'delete' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWith(
        admin.incrementalAlterConfigs({ resources: [{ resourceType: brokerResource, resourceName: '0', configs: [{ name: 'num.partitions', configOperation: Operation.set, value: '1' }] }] }),
        'INVALID_REQUEST',
        /Cannot update these configs dynamically/,
      );
      const unchanged = configsOf(await admin.describeConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-events', configurationKeys: ['cleanup.policy'] }] }), 'pk-events');
      assert.deepEqual([...unchanged.keys()], ['cleanup.policy']);
      assert.equal(unchanged.get('cleanup.policy')?.value, 'delete');

      await admin.incrementalAlterConfigs({
        resources: [{ resourceType: topicResource, resourceName: 'pk-events', configs: [{ name: 'retention.ms', configOperation: Operation.delete }] }],
      });
      const reset = configsOf(await admin.describeConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-events', configurationKeys: ['retention.ms'] }] }), 'pk-events');
      assert.equal(reset.get('retention.ms')?.configSource, ConfigSource.default);
    }),
  );

  test(
    '@platformatic/kafka: alterConfigs v2, createPartitions v3, deleteRecords v2',
    withBrokerLogs(currentBroker, async () => {
      await admin.alterConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-audit', configs: [{ name: 'segment.ms', value: '600000' }] }] });
      const configs = configsOf(await admin.describeConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-audit', configurationKeys: null }] }), 'pk-audit');
      assert.equal(configs.get('segment.ms')?.value, '600000');
      assert.equal(configs.get('message.timestamp.type')?.value, 'CreateTime', 'the override given at creation was replaced');

      await admin.createPartitions({ topics: [{ name: 'pk-audit', count: 5, assignments: [{ brokerIds: [0] }, { brokerIds: [0] }] }] });
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'pk-audit'), 5);
      await rejectsWith(admin.createPartitions({ topics: [{ name: 'pk-audit', count: 5, assignments: [] }] }), 'INVALID_PARTITIONS');

      const deleted = await admin.deleteRecords({ topics: [{ name: 'pk-audit', partitions: [{ partition: 0, offset: -1n }] }] });
      assert.deepEqual(deleted, [{ name: 'pk-audit', partitions: [{ partition: 0, lowWatermark: 0n }] }]);

      const broker0 = configsOf(await admin.describeConfigs({ resources: [{ resourceType: brokerResource, resourceName: '0', configurationKeys: ['log.roll.ms', 'num.partitions'] }] }), '0');
      assert.deepEqual([...broker0.keys()].sort(), ['log.roll.ms', 'num.partitions']);
      assert.equal(broker0.get('log.roll.ms')?.readOnly, false, 'a dynamic broker config');
      assert.equal(broker0.get('num.partitions')?.readOnly, true);
      await rejectsWith(admin.describeConfigs({ resources: [{ resourceType: 16, resourceName: 'metrics', configurationKeys: null }] }), 'INVALID_REQUEST');
    }),
  );

  test(
    '@platformatic/kafka: DeleteRecords v2 for a partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION',
    withBrokerLogs(currentBroker, async () => {
      // Its Admin looks the leader up first and cannot send this: the low-level API can.
      const connection = new Connection('admin-test-delete-records');
      await connection.connect(broker.host, broker.port);
      try {
        await rejectsWith(
          deleteRecordsV2.api.async(connection, [{ name: 'pk-audit', partitions: [{ partitionIndex: 9, offset: 0n }] }], 5000),
          'UNKNOWN_TOPIC_OR_PARTITION',
        );
        await rejectsWith(
          deleteRecordsV2.api.async(connection, [{ name: 'pk-audit', partitions: [{ partitionIndex: 0, offset: 1n }] }], 5000),
          'OFFSET_OUT_OF_RANGE',
        );
      } finally {
        await connection.close();
      }
    }),
  );

  test(
    '@platformatic/kafka: DescribeCluster v1 lists this broker for brokers and controllers',
    withBrokerLogs(currentBroker, async () => {
      const connection = new Connection('admin-test-describe-cluster');
      await connection.connect(broker.host, broker.port);
      try {
        for (const endpointType of [1, 2]) {
          const cluster = await describeClusterV1.api.async(connection, false, endpointType);
          assert.equal(cluster.errorCode, 0);
          assert.equal(cluster.endpointType, endpointType);
          assert.equal(cluster.controllerId, 0);
          assert.match(cluster.clusterId, /^\S+$/);
          assert.deepEqual(cluster.brokers, [{ brokerId: 0, host: broker.host, port: broker.port, rack: null }]);
        }
      } finally {
        await connection.close();
      }
      const connectionForUnknownType = new Connection('admin-test-describe-cluster-unknown');
      await connectionForUnknownType.connect(broker.host, broker.port);
      try {
        await rejectsWith(describeClusterV1.api.async(connectionForUnknownType, false, 3), 'INVALID_REQUEST');
      } finally {
        await connectionForUnknownType.close();
      }
      const viaMetadata = await kafkaJsAdmin.describeCluster();
      assert.equal(viaMetadata.controller, 0);
    }),
  );

  test(
    '@platformatic/kafka: deleteTopics by name, and DeleteTopics v6 by topic id; an unknown id is UNKNOWN_TOPIC_ID',
    withBrokerLogs(currentBroker, async () => {
      const [created] = await admin.createTopics({ topics: ['pk-by-id'], partitions: 1 });
      assert.ok(created !== undefined);
      const connection = new Connection('admin-test-delete-by-id');
      await connection.connect(broker.host, broker.port);
      try {
        const unknownId = 'c0ffee00-0000-4000-8000-000000000001';
        await rejectsWith(deleteTopicsV6.api.async(connection, [{ name: null as unknown as string, topicId: unknownId }], 5000), 'UNKNOWN_TOPIC_ID');
        const answer = await deleteTopicsV6.api.async(connection, [{ name: null as unknown as string, topicId: created.id }], 5000);
        assert.deepEqual(answer.responses, [{ name: 'pk-by-id', topicId: created.id, errorCode: 0, errorMessage: null }]);
      } finally {
        await connection.close();
      }
      await admin.deleteTopics({ topics: ['pk-events'] });
      const remaining = await admin.listTopics();
      assert.ok(!remaining.includes('pk-by-id') && !remaining.includes('pk-events'));
      await rejectsWith(admin.deleteTopics({ topics: ['pk-events'] }), 'UNKNOWN_TOPIC_OR_PARTITION');
    }),
  );

  test(
    'a topic deleted and re-created at once from two clients: the new topic starts empty, takes records, and keeps them',
    withBrokerLogs(currentBroker, async () => {
      const topic = 'kj-recreated';
      const partitions = 16;
      const producer = kafkaJs.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const otherAdmin = platformaticAdmin(broker, 'admin-test-recreate');
      try {
        for (let round = 0; round < 4; round++) {
          if (round === 0) await kafkaJsAdmin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
          const messages = Array.from({ length: partitions * 20 }, (_, index) => ({ partition: index % partitions, value: `round ${round} record ${index}` }));
          await producer.send({ topic, acks: -1, messages });
          // The deletion goes first; the creation follows on another connection while its folders are removed.
          const deletion = kafkaJsAdmin.deleteTopics({ topics: [topic] });
          let created = false;
          for (let attempt = 0; attempt < 50 && !created; attempt++) {
            try {
              await otherAdmin.createTopics({ topics: [topic], partitions, replicas: 1 });
              created = true;
            } catch (error) {
              if (!errorTreeHas(error, 'TOPIC_ALREADY_EXISTS') && !errorTreeHas(error, 'TopicAlreadyExistsError')) throw error;
            }
          }
          await deletion;
          assert.ok(created, `round ${round}: the topic could not be re-created`);
          const offsets = await kafkaJsAdmin.fetchTopicOffsets(topic);
          assert.deepEqual(
            offsets.map((entry) => [entry.low, entry.high]),
            Array.from({ length: partitions }, () => ['0', '0']),
            `round ${round}: the re-created topic starts empty`,
          );
        }
        await producer.send({ topic, acks: -1, messages: Array.from({ length: partitions * 3 }, (_, index) => ({ partition: index % partitions, value: `kept ${index}` })) });
      } finally {
        await producer.disconnect();
        await otherAdmin.close();
      }
    }),
  );

  test(
    'topics, partition counts and config overrides survive a restart; deleted topics stay deleted',
    withBrokerLogs(currentBroker, async () => {
      await kafkaJsAdmin.disconnect();
      await admin.close();
      broker = await broker.restart();
      kafkaJs = kafkaJsClient(broker, 'admin-test-kafkajs-after-restart');
      kafkaJsAdmin = kafkaJs.admin();
      await kafkaJsAdmin.connect();
      admin = platformaticAdmin(broker, 'admin-test-platformatic-after-restart');

      const topics = await kafkaJsAdmin.listTopics();
      for (const name of ['kj-orders', 'kj-records', 'pk-audit', 'kj-recreated']) assert.ok(topics.includes(name), `${name} is gone`);
      const recreated = await kafkaJsAdmin.fetchTopicOffsets('kj-recreated');
      assert.deepEqual(
        recreated.map((entry) => [entry.low, entry.high]),
        Array.from({ length: 16 }, () => ['0', '3']),
        'the re-created topic holds exactly what was written after its last re-creation',
      );
      for (const name of ['kj-assigned', 'pk-events', 'pk-by-id']) assert.ok(!topics.includes(name), `${name} came back`);
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'kj-orders'), 4);
      assert.equal(await partitionCountOf(kafkaJsAdmin, 'pk-audit'), 5);

      const orders = await kafkaJsTopicConfigs(kafkaJsAdmin, 'kj-orders');
      assert.equal(orders.get('retention.bytes')?.value, '1048576');
      assert.equal(orders.get('retention.bytes')?.source, ConfigSource.topic);
      const audit = configsOf(await admin.describeConfigs({ resources: [{ resourceType: topicResource, resourceName: 'pk-audit', configurationKeys: ['segment.ms'] }] }), 'pk-audit');
      assert.equal(audit.get('segment.ms')?.value, '600000');

      const offsets = (await kafkaJsAdmin.fetchTopicOffsets('kj-records')).sort((left, right) => left.partition - right.partition);
      assert.deepEqual(
        offsets.map((entry) => [entry.partition, entry.low, entry.high]),
        [
          [0, '4', '10'],
          [1, '10', '10'],
        ],
        'deleted records stay deleted',
      );
    }),
  );
});
