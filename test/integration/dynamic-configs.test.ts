/**
 * Configs as Kafka 4.1 has them, against a real broker process, through clients we did not write:
 * KafkaJS 2.2.4 (CreateTopics, DescribeConfigs v2, AlterConfigs v1, Produce) and @platformatic/kafka
 * 1.35's Admin (DescribeConfigs v4, IncrementalAlterConfigs v1, GROUP resources), plus a raw
 * ConsumerGroupHeartbeat to see what a KIP-848 member is told.
 *
 * - every topic config Kafka 4.1 lists, with Kafka's defaults, types and validation;
 * - message.timestamp.before/after.max.ms refusing produce with INVALID_TIMESTAMP;
 * - dynamic broker configs per broker and cluster-wide: sources, synonyms in Kafka's order, applied
 *   to topics at once, DELETE back to the config file's value, refusals as Kafka answers them;
 * - GROUP config resources applied to a consumer group's heartbeat interval and session timeout;
 * - both kinds surviving a restart and a kill -9.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../helpers/client-errors.js';
import kafkajs from 'kafkajs';
import type { Admin as KafkaJsAdmin, Kafka as KafkaJsClient } from 'kafkajs';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import type { ConfigDescription, ConfigResourceTypeValue, IncrementalAlterConfigOperationTypeValue, IncrementalAlterConfigsOptions } from '@platformatic/kafka';

type ConfigOperations = IncrementalAlterConfigsOptions['resources'][number]['configs'];
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { RawKafkaConnection, rawApi } from '../helpers/raw-kafka-client.js';
import { consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse } from '../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../../src/protocol/kafka/messages/incremental-alter-configs.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';

const { Kafka, logLevel } = kafkajs;

const heartbeatApi = rawApi(consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse);
const incrementalAlterApi = rawApi(incrementalAlterConfigsRequest, incrementalAlterConfigsResponse);
const topicResource = ConfigResourceTypes.TOPIC;
const brokerResource = ConfigResourceTypes.BROKER;
const groupResource = ConfigResourceTypes.GROUP;
const Source = { topic: 1, dynamicBroker: 2, dynamicDefaultBroker: 3, staticBroker: 4, default: 5, group: 8 } as const;
const Operation = { set: 0, delete: 1, append: 2, subtract: 3 } as const satisfies Record<string, IncrementalAlterConfigOperationTypeValue>;

/** log.retention.ms from the command line, so that STATIC_BROKER_CONFIG shows among the synonyms. */
const staticRetentionMs = '3600000';
const builtInRetentionMs = String(7 * 24 * 60 * 60 * 1000);
const staticHeartbeatIntervalMs = 2000;
const brokerArgs = [
  '--log-level', 'debug', // the handlers' 'invalid request' lines
  '--topic-defaults.retention-ms', staticRetentionMs,
  '--groups.consumer-session-timeout-ms', '10000',
  '--groups.consumer-heartbeat-interval-ms', String(staticHeartbeatIntervalMs),
  '--groups.consumer-min-session-timeout-ms', '1000',
  '--groups.consumer-min-heartbeat-interval-ms', '100',
];

/** The topic configs Kafka 4.1 lists for a topic. */
const kafkaTopicConfigs = [
  'cleanup.policy', 'compression.gzip.level', 'compression.lz4.level', 'compression.type', 'compression.zstd.level', 'delete.retention.ms',
  'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'follower.replication.throttled.replicas', 'index.interval.bytes',
  'leader.replication.throttled.replicas', 'local.retention.bytes', 'local.retention.ms', 'max.compaction.lag.ms', 'max.message.bytes',
  'message.timestamp.after.max.ms', 'message.timestamp.before.max.ms', 'message.timestamp.type', 'min.cleanable.dirty.ratio',
  'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate', 'remote.log.copy.disable', 'remote.log.delete.on.disable',
  'remote.storage.enable', 'retention.bytes', 'retention.ms', 'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms',
  'unclean.leader.election.enable',
];

function configsOf(descriptions: readonly ConfigDescription[], name: string): Map<string, ConfigDescription['configs'][number]> {
  const description = descriptions.find((entry) => entry.resourceName === name);
  assert.ok(description !== undefined, `no description of ${name}`);
  return new Map(description.configs.map((config) => [config.name, config]));
}

function synonymsOf(config: ConfigDescription['configs'][number] | undefined): Array<[string, string | null | undefined, number]> {
  assert.ok(config !== undefined);
  return config.synonyms.map((synonym): [string, string | null | undefined, number] => [synonym.name, synonym.value, synonym.source]);
}

describe('configs as Kafka 4.1 has them', () => {
  let broker: BrokerProcess;
  let kafkaJs: KafkaJsClient;
  let kafkaJsAdmin: KafkaJsAdmin;
  let admin: Admin;

  function connect(): void {
    kafkaJs = new Kafka({ clientId: 'configs-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    kafkaJsAdmin = kafkaJs.admin();
    admin = new Admin({ clientId: 'configs-test-platformatic', bootstrapBrokers: [broker.bootstrap], retries: 1, retryDelay: 100 });
  }

  async function disconnect(): Promise<void> {
    await kafkaJsAdmin.disconnect().catch(() => undefined);
    await admin.close().catch(() => undefined);
  }

  async function describeOne(resourceType: ConfigResourceTypeValue, resourceName: string, keys: string[] | null = null): Promise<Map<string, ConfigDescription['configs'][number]>> {
    const described: ConfigDescription[] = await admin.describeConfigs({ resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: true });
    return configsOf(described, resourceName);
  }

  function alter(
    resourceType: ConfigResourceTypeValue,
    resourceName: string,
    configs: ConfigOperations,
    validateOnly = false,
  ): Promise<unknown> {
    return admin.incrementalAlterConfigs({ resources: [{ resourceType, resourceName, configs }], validateOnly });
  }

  before(async () => {
    broker = await startBrokerProcess({ args: brokerArgs });
    connect();
    await kafkaJsAdmin.connect();
  });

  after(async () => {
    await disconnect();
    await broker.stop();
  });

  test('DescribeConfigs of a topic lists every topic config Kafka 4.1 lists, with its default, type and documentation', async () => {
    await kafkaJsAdmin.createTopics({ topics: [{ topic: 'cfg-all', numPartitions: 1 }] });
    const configs = await describeOne(topicResource, 'cfg-all');
    assert.deepEqual([...configs.keys()].sort(), [...kafkaTopicConfigs].sort());
    const expected: Array<[string, string, number]> = [
      ['message.timestamp.after.max.ms', '3600000', 5],
      ['message.timestamp.before.max.ms', '9223372036854775807', 5],
      ['flush.messages', '9223372036854775807', 5],
      ['remote.storage.enable', 'false', 1],
      ['segment.index.bytes', String(10 * 1024 * 1024), 3],
      ['compression.zstd.level', '3', 3],
      ['follower.replication.throttled.replicas', '', 7],
      ['local.retention.ms', '-2', 5],
      ['min.cleanable.dirty.ratio', '0.5', 6],
      ['retention.ms', staticRetentionMs, 5],
    ];
    for (const [name, value, type] of expected) {
      assert.equal(configs.get(name)?.value, value, `${name} value`);
      assert.equal(configs.get(name)?.configType, type, `${name} type`);
    }
    assert.equal(configs.get('retention.ms')?.configSource, Source.staticBroker);
    assert.equal(configs.get('segment.jitter.ms')?.configSource, Source.default);
    // unclean.leader.election.enable acts in a cluster (the controller's election), not on a single broker.
    assert.match(configs.get('unclean.leader.election.enable')?.documentation ?? '', /in a cluster the controller then elects one .*no effect there/);
    for (const name of ['follower.replication.throttled.replicas', 'flush.ms', 'preallocate']) {
      assert.match(configs.get(name)?.documentation ?? '', /no effect on this broker/, `${name} says it has no effect`);
    }
    assert.deepEqual(synonymsOf(configs.get('segment.ms')), [['log.roll.ms', String(7 * 24 * 60 * 60 * 1000), Source.default]]);
    assert.deepEqual(synonymsOf(configs.get('remote.storage.enable')), [['remote.storage.enable', 'false', Source.default]], 'no broker default');
  });

  test('CreateTopics and AlterConfigs validate the new keys as Kafka does; remote.storage.enable=true is INVALID_CONFIG', async () => {
    const create = (configEntries: Array<{ name: string; value: string }>) => kafkaJsAdmin.createTopics({ topics: [{ topic: 'cfg-validated', numPartitions: 1, configEntries }] });
    await rejectsWith(create([{ name: 'remote.storage.enable', value: 'true' }]), 'INVALID_CONFIG');
    await rejectsWith(create([{ name: 'unclean.leader.election.enable', value: 'yes' }]), 'INVALID_CONFIG');
    await rejectsWith(create([{ name: 'flush.messages', value: '0' }]), 'INVALID_CONFIG');
    await rejectsWith(create([{ name: 'compression.gzip.level', value: '0' }]), 'INVALID_CONFIG');
    await rejectsWith(create([{ name: 'leader.replication.throttled.replicas', value: '0-0' }]), 'INVALID_CONFIG');
    await rejectsWith(create([{ name: 'min.compaction.lag.ms', value: '5000' }, { name: 'max.compaction.lag.ms', value: '4000' }]), 'INVALID_CONFIG');
    await create([
      { name: 'preallocate', value: 'TRUE' },
      { name: 'follower.replication.throttled.replicas', value: '0:0' },
      { name: 'flush.ms', value: '9223372036854775807' },
      { name: 'remote.storage.enable', value: 'false' },
    ]);
    const configs = await describeOne(topicResource, 'cfg-validated');
    assert.equal(configs.get('preallocate')?.value, 'TRUE');
    assert.equal(configs.get('preallocate')?.configSource, Source.topic);
    assert.equal(configs.get('flush.ms')?.value, '9223372036854775807');
    await rejectsWith(
      kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: topicResource, name: 'cfg-validated', configEntries: [{ name: 'remote.storage.enable', value: 'true' }] }] }),
      'INVALID_CONFIG',
    );
    await rejectsWith(alter(topicResource, 'cfg-validated', [{ name: 'remote.storage.enable', configOperation: Operation.set, value: 'true' }]), 'INVALID_CONFIG');
  });

  test('message.timestamp.after.max.ms and message.timestamp.before.max.ms refuse produce with INVALID_TIMESTAMP under CreateTime', async () => {
    await kafkaJsAdmin.createTopics({
      topics: [
        { topic: 'cfg-times', numPartitions: 1, configEntries: [{ name: 'message.timestamp.before.max.ms', value: '60000' }] },
        { topic: 'cfg-times-append', numPartitions: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
      ],
    });
    const producer = kafkaJs.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const send = (topic: string, timestampMs: number) => producer.send({ topic, acks: -1, messages: [{ value: 'v', timestamp: String(timestampMs) }] });
      // KafkaJS speaks Produce v7, which carries no error message: the code tells.
      await rejectsWith(send('cfg-times', Date.now() + 2 * 3_600_000), 'INVALID_TIMESTAMP');
      await rejectsWith(send('cfg-times', Date.now() - 3_600_000), 'INVALID_TIMESTAMP');
      await send('cfg-times', Date.now() - 1000);
      await send('cfg-times', Date.now() + 60_000);
      await send('cfg-times-append', Date.now() + 2 * 3_600_000); // LogAppendTime: the broker's clock replaces it
      await alter(topicResource, 'cfg-times', [{ name: 'message.timestamp.after.max.ms', configOperation: Operation.set, value: '9223372036854775807' }]);
      await send('cfg-times', Date.now() + 2 * 3_600_000);
    } finally {
      await producer.disconnect();
    }
  });

  test('dynamic broker configs: per broker over cluster-wide over the config file, synonyms in Kafka order, applied to topics at once, DELETE back', async () => {
    await kafkaJsAdmin.createTopics({ topics: [{ topic: 'cfg-dynamic', numPartitions: 1 }, { topic: 'cfg-overridden', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] }] });
    await alter(brokerResource, '', [{ name: 'log.retention.ms', configOperation: Operation.set, value: '7200000' }]);
    let topic = await describeOne(topicResource, 'cfg-dynamic', ['retention.ms']);
    assert.equal(topic.get('retention.ms')?.value, '7200000');
    assert.equal(topic.get('retention.ms')?.configSource, Source.dynamicDefaultBroker);

    await kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: brokerResource, name: '0', configEntries: [{ name: 'log.retention.ms', value: '1800000' }] }] });
    topic = await describeOne(topicResource, 'cfg-dynamic', ['retention.ms']);
    assert.equal(topic.get('retention.ms')?.configSource, Source.dynamicBroker);
    assert.deepEqual(synonymsOf(topic.get('retention.ms')), [
      ['log.retention.ms', '1800000', Source.dynamicBroker],
      ['log.retention.ms', '7200000', Source.dynamicDefaultBroker],
      ['log.retention.ms', staticRetentionMs, Source.staticBroker],
      ['log.retention.ms', builtInRetentionMs, Source.default],
    ]);
    const overridden = await describeOne(topicResource, 'cfg-overridden', ['retention.ms']);
    assert.deepEqual(synonymsOf(overridden.get('retention.ms'))[0], ['retention.ms', '1000', Source.topic], 'a topic override still wins');

    const brokerConfigs = await describeOne(brokerResource, '0', ['log.retention.ms', 'num.partitions']);
    assert.equal(brokerConfigs.get('log.retention.ms')?.value, '1800000');
    assert.equal(brokerConfigs.get('log.retention.ms')?.configSource, Source.dynamicBroker);
    assert.equal(brokerConfigs.get('log.retention.ms')?.readOnly, false);
    const clusterWide = await describeOne(brokerResource, '');
    assert.deepEqual([...clusterWide.keys()], ['log.retention.ms'], "the '' resource lists only the cluster-wide dynamic configs");
    assert.equal(clusterWide.get('log.retention.ms')?.configSource, Source.dynamicDefaultBroker);

    // Applied at once: a lower message.max.bytes refuses a batch it accepted a moment ago.
    const producer = kafkaJs.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const send = () => producer.send({ topic: 'cfg-dynamic', acks: -1, messages: [{ value: Buffer.alloc(5000, 1) }] });
      await send();
      await alter(brokerResource, '0', [{ name: 'message.max.bytes', configOperation: Operation.set, value: '1000' }]);
      await rejectsWith(send(), 'MESSAGE_TOO_LARGE');
      await alter(brokerResource, '0', [{ name: 'message.max.bytes', configOperation: Operation.delete }]);
      await send();
    } finally {
      await producer.disconnect();
    }

    await alter(brokerResource, '0', [{ name: 'log.cleanup.policy', configOperation: Operation.append, value: 'compact' }], true);
    assert.equal((await describeOne(brokerResource, '0', ['log.cleanup.policy'])).get('log.cleanup.policy')?.value, 'delete', 'validateOnly changed nothing');

    await alter(brokerResource, '0', [{ name: 'log.retention.ms', configOperation: Operation.delete }]);
    assert.equal((await describeOne(topicResource, 'cfg-dynamic', ['retention.ms'])).get('retention.ms')?.configSource, Source.dynamicDefaultBroker);
    await alter(brokerResource, '', [{ name: 'log.retention.ms', configOperation: Operation.delete }]);
    topic = await describeOne(topicResource, 'cfg-dynamic', ['retention.ms']);
    assert.equal(topic.get('retention.ms')?.value, staticRetentionMs, 'back to the config file');
    assert.equal(topic.get('retention.ms')?.configSource, Source.staticBroker);
  });

  test('dynamic broker configs Kafka refuses are INVALID_REQUEST (APPEND to a key that is not a list INVALID_CONFIG)', async () => {
    await rejectsWith(alter(brokerResource, '0', [{ name: 'num.partitions', configOperation: Operation.set, value: '4' }]), 'INVALID_REQUEST', /Cannot update these configs dynamically/);
    await broker.waitForLog(/invalid request .*api=IncrementalAlterConfigs field=configs reason=.*num\.partitions/);
    await rejectsWith(
      kafkaJsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: brokerResource, name: '0', configEntries: [{ name: 'auto.create.topics.enable', value: 'false' }] }] }),
      'INVALID_REQUEST',
    );
    await rejectsWith(alter(brokerResource, '0', [{ name: 'log.retention.ms', configOperation: Operation.set, value: 'soon' }]), 'INVALID_REQUEST');
    await rejectsWith(
      alter(brokerResource, '0', [
        { name: 'log.cleaner.min.compaction.lag.ms', configOperation: Operation.set, value: '5000' },
        { name: 'log.cleaner.max.compaction.lag.ms', configOperation: Operation.set, value: '4000' },
      ]),
      'INVALID_REQUEST',
      /conflict/,
    );
    await rejectsWith(alter(brokerResource, '0', [{ name: 'no.such.broker.config', configOperation: Operation.set, value: '1' }]), 'INVALID_REQUEST');
    // Another broker's id (the clients route it to that broker, so a raw request sends it here).
    const raw = await RawKafkaConnection.open(broker.host, broker.port);
    try {
      const answer = await raw.call(incrementalAlterApi, 1, { resources: [{ resourceType: brokerResource, resourceName: '7', configs: [{ name: 'log.retention.ms', configOperation: Operation.set, value: '1' }] }], validateOnly: false });
      assert.equal(answer.responses[0]?.errorCode, ErrorCode.invalidRequest);
      await broker.waitForLog(/invalid request .*api=IncrementalAlterConfigs field=resourceName/);
    } finally {
      raw.socket.destroy();
    }
    await rejectsWith(alter(brokerResource, '0', [{ name: 'log.retention.ms', configOperation: Operation.append, value: '1' }]), 'INVALID_CONFIG', /not a list/);
    assert.equal((await describeOne(brokerResource, '0', ['log.retention.ms'])).get('log.retention.ms')?.configSource, Source.staticBroker, 'nothing changed');
  });

  test('GROUP config resources: described, bounded by group.consumer.min/max.*, applied to the heartbeat interval and the session timeout', async () => {
    const raw = await RawKafkaConnection.open(broker.host, broker.port);
    try {
      await kafkaJsAdmin.createTopics({ topics: [{ topic: 'cfg-group-topic', numPartitions: 1 }] });
      const heartbeat = (memberEpoch: number) =>
        raw.call(heartbeatApi, 1, { groupId: 'cfg-group', memberId: 'cfg-member', memberEpoch, rebalanceTimeoutMs: memberEpoch === 0 ? 5000 : -1, subscribedTopicNames: memberEpoch === 0 ? ['cfg-group-topic'] : null, topicPartitions: memberEpoch === 0 ? [] : null });
      const joined = await heartbeat(0);
      assert.equal(joined.errorCode, ErrorCode.none);
      assert.equal(joined.heartbeatIntervalMs, staticHeartbeatIntervalMs);

      let configs = await describeOne(groupResource, 'cfg-group');
      assert.deepEqual([...configs.keys()].sort(), ['consumer.heartbeat.interval.ms', 'consumer.session.timeout.ms']);
      assert.equal(configs.get('consumer.heartbeat.interval.ms')?.configSource, Source.staticBroker);

      await alter(groupResource, 'cfg-group', [
        { name: 'consumer.heartbeat.interval.ms', configOperation: Operation.set, value: '700' },
        { name: 'consumer.session.timeout.ms', configOperation: Operation.set, value: '1500' },
      ]);
      configs = await describeOne(groupResource, 'cfg-group');
      assert.equal(configs.get('consumer.heartbeat.interval.ms')?.value, '700');
      assert.equal(configs.get('consumer.heartbeat.interval.ms')?.configSource, Source.group);
      assert.deepEqual(synonymsOf(configs.get('consumer.session.timeout.ms')), [
        ['consumer.session.timeout.ms', '1500', Source.group],
        ['group.consumer.session.timeout.ms', '10000', Source.staticBroker],
        ['group.consumer.session.timeout.ms', '45000', Source.default],
      ]);
      const told = await heartbeat(joined.memberEpoch);
      assert.equal(told.errorCode, ErrorCode.none);
      assert.equal(told.heartbeatIntervalMs, 700, "the group's own interval");
      // The session restarted with this heartbeat lasts 1.5 s, not the broker's 10 s.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal((await heartbeat(joined.memberEpoch)).errorCode, ErrorCode.unknownMemberId, "removed after the group's session timeout");

      await rejectsWith(alter(groupResource, 'cfg-group', [{ name: 'consumer.session.timeout.ms', configOperation: Operation.set, value: '600000' }]), 'INVALID_CONFIG', /group\.consumer\.max\.session\.timeout\.ms/);
      await rejectsWith(alter(groupResource, 'cfg-group', [{ name: 'consumer.heartbeat.interval.ms', configOperation: Operation.set, value: '1500' }]), 'INVALID_CONFIG', /must be greater than/);
      await rejectsWith(alter(groupResource, 'cfg-group', [{ name: 'share.session.timeout.ms', configOperation: Operation.set, value: '1500' }]), 'INVALID_CONFIG');
      await rejectsWith(alter(groupResource, '', [{ name: 'consumer.session.timeout.ms', configOperation: Operation.set, value: '1500' }]), 'INVALID_REQUEST');
      await rejectsWith(admin.describeConfigs({ resources: [{ resourceType: groupResource, resourceName: '', configurationKeys: null }] }), 'INVALID_REQUEST');

      // Back to the broker's interval (2 s) with a 1.5 s session would leave no time to heartbeat: refused as a whole.
      await rejectsWith(alter(groupResource, 'cfg-group', [{ name: 'consumer.heartbeat.interval.ms', configOperation: Operation.delete }]), 'INVALID_CONFIG');
      await alter(groupResource, 'cfg-group', [
        { name: 'consumer.heartbeat.interval.ms', configOperation: Operation.delete },
        { name: 'consumer.session.timeout.ms', configOperation: Operation.delete },
      ]);
      configs = await describeOne(groupResource, 'cfg-group');
      assert.equal(configs.get('consumer.heartbeat.interval.ms')?.value, String(staticHeartbeatIntervalMs));
      assert.equal(configs.get('consumer.session.timeout.ms')?.configSource, Source.staticBroker);
    } finally {
      raw.socket.destroy();
    }
  });

  test('dynamic broker configs and group configs come back after a restart and after kill -9', async () => {
    await alter(brokerResource, '0', [{ name: 'log.segment.bytes', configOperation: Operation.set, value: '2097152' }]);
    await alter(brokerResource, '', [{ name: 'log.message.timestamp.type', configOperation: Operation.set, value: 'LogAppendTime' }]);
    await alter(groupResource, 'cfg-kept', [{ name: 'consumer.heartbeat.interval.ms', configOperation: Operation.set, value: '900' }]);
    const check = async (when: string) => {
      const topic = await describeOne(topicResource, 'cfg-dynamic', ['segment.bytes', 'message.timestamp.type']);
      assert.equal(topic.get('segment.bytes')?.value, '2097152', `${when}: per-broker value`);
      assert.equal(topic.get('segment.bytes')?.configSource, Source.dynamicBroker);
      assert.equal(topic.get('message.timestamp.type')?.value, 'LogAppendTime', `${when}: cluster-wide value`);
      assert.equal(topic.get('message.timestamp.type')?.configSource, Source.dynamicDefaultBroker);
      const group = await describeOne(groupResource, 'cfg-kept');
      assert.equal(group.get('consumer.heartbeat.interval.ms')?.value, '900', `${when}: group config`);
      assert.equal(group.get('consumer.heartbeat.interval.ms')?.configSource, Source.group);
    };
    await disconnect();
    broker = await broker.restart();
    connect();
    await check('after a restart');
    await alter(groupResource, 'cfg-kept', [{ name: 'consumer.session.timeout.ms', configOperation: Operation.set, value: '20000' }]);
    await disconnect();
    await broker.kill9();
    broker = await broker.restart();
    connect();
    await kafkaJsAdmin.connect();
    await check('after kill -9');
    assert.equal((await describeOne(groupResource, 'cfg-kept')).get('consumer.session.timeout.ms')?.value, '20000', 'the change made just before the crash');
  });
});
