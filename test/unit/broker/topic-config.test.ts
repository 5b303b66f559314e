/**
 * Topic configs (src/broker/topic-config.ts), broker settings (broker-settings.ts) and group
 * configs (group-config.ts): Kafka's validation rules for each key, longs beyond 2^53 checked
 * exactly, the effective value taken from the override, then the dynamic broker configs, then
 * the broker's defaults, and which broker configs may change at run time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { DynamicBrokerConfigs, dynamicBrokerConfigProblem } from '../../../src/broker/broker-settings.js';
import { effectiveGroupConfig, groupConfigsProblem } from '../../../src/broker/group-config.js';
import { effectiveTopicConfig, topicConfigKeys, topicConfigsProblem, validateTopicConfig } from '../../../src/broker/topic-config.js';

test('each topic config is validated as Kafka validates it', () => {
  const accepted: Array<[string, string]> = [
    ['flush.messages', '9223372036854775807'],
    ['retention.ms', '-1'],
    ['local.retention.ms', '-2'],
    ['preallocate', 'True'],
    ['compression.gzip.level', '-1'],
    ['compression.gzip.level', '9'],
    ['compression.zstd.level', '-131072'],
    ['leader.replication.throttled.replicas', '*'],
    ['follower.replication.throttled.replicas', '0:1, 1:1'],
    ['follower.replication.throttled.replicas', ''],
    ['remote.storage.enable', 'false'],
    ['min.cleanable.dirty.ratio', '0.25'],
  ];
  for (const [name, value] of accepted) assert.equal(validateTopicConfig(name, value), null, `${name}=${value}`);
  const refused: Array<[string, string]> = [
    ['flush.messages', '0'],
    ['flush.messages', '9223372036854775808'],
    ['retention.ms', '-2'],
    ['local.retention.bytes', '-3'],
    ['preallocate', 'yes'],
    ['compression.gzip.level', '0'],
    ['compression.lz4.level', '18'],
    ['segment.bytes', '2147483648'],
    ['leader.replication.throttled.replicas', '0'],
    ['remote.storage.enable', 'true'],
    ['remote.storage.enable', 'TRUE'],
    ['message.timestamp.after.max.ms', '-1'],
  ];
  for (const [name, value] of refused) assert.notEqual(validateTopicConfig(name, value), null, `${name}=${value}`);
  assert.match(validateTopicConfig('no.such.config', '1') ?? '', /unknown topic config/);
});

test('min.compaction.lag.ms above max.compaction.lag.ms conflicts, on the effective values', () => {
  const defaults = defaultBrokerConfig.topicDefaults;
  assert.equal(topicConfigsProblem(new Map([['min.compaction.lag.ms', '9223372036854775807']]), defaults), null, 'equal to the default maximum');
  assert.match(topicConfigsProblem(new Map([['min.compaction.lag.ms', '5000'], ['max.compaction.lag.ms', '4000']]), defaults) ?? '', /conflict topic config setting/);
  assert.notEqual(topicConfigsProblem(new Map([['min.compaction.lag.ms', '5000']]), defaults, new Map([['max.compaction.lag.ms', '1000']])), null, 'against a dynamic broker value');
});

test('every key has a valid default and a distinct name', () => {
  const names = topicConfigKeys().map((key) => key.name);
  assert.equal(new Set(names).size, names.length);
  assert.equal(names.length, 33);
  for (const key of topicConfigKeys()) assert.equal(key.validate(key.defaultValue(defaultBrokerConfig.topicDefaults)), null, key.name);
});

test('the effective value: override, then per-broker, then cluster-wide dynamic config, then the config file', () => {
  const defaults = { ...defaultBrokerConfig.topicDefaults, retentionMs: 5000 };
  assert.equal(effectiveTopicConfig(new Map(), defaults).retentionMs, 5000);
  const dynamic = new DynamicBrokerConfigs(new Map([['log.retention.ms', '3000']]), new Map([['log.retention.ms', '4000'], ['message.max.bytes', '900']]));
  const brokerValues = dynamic.topicValues();
  assert.equal(effectiveTopicConfig(new Map(), defaults, brokerValues).retentionMs, 3000);
  assert.equal(effectiveTopicConfig(new Map(), defaults, brokerValues).maxMessageBytes, 900);
  assert.equal(effectiveTopicConfig(new Map([['retention.ms', '2000']]), defaults, brokerValues).retentionMs, 2000);
  dynamic.replace('broker', new Map());
  assert.equal(effectiveTopicConfig(new Map(), defaults, dynamic.topicValues()).retentionMs, 4000);
  const effective = effectiveTopicConfig(new Map(), defaults);
  assert.equal(effective.messageTimestampAfterMaxMs, 3_600_000);
  assert.equal(effective.messageTimestampBeforeMaxMs, Number.MAX_SAFE_INTEGER, 'Long.MAX_VALUE, capped');
});

test('dynamic broker configs: the log.* topic defaults may change, the rest is refused as Kafka refuses it', () => {
  assert.equal(dynamicBrokerConfigProblem('log.retention.ms', '1000'), null);
  assert.equal(dynamicBrokerConfigProblem('log.cleaner.min.cleanable.ratio', '0.9'), null);
  assert.equal(dynamicBrokerConfigProblem('compression.type', 'zstd'), null);
  assert.equal(dynamicBrokerConfigProblem('log.retention.ms', null), null, 'DELETE');
  assert.equal(dynamicBrokerConfigProblem('log.cleaner.threads', '2'), null, "the cleaner's own, accepted without effect");
  assert.match(dynamicBrokerConfigProblem('log.cleaner.backoff.ms', '-1') ?? '', /^log\.cleaner\.backoff\.ms: /);
  assert.match(dynamicBrokerConfigProblem('num.partitions', '3') ?? '', /Cannot update these configs dynamically: \[num\.partitions\]/);
  assert.match(dynamicBrokerConfigProblem('group.consumer.session.timeout.ms', '3') ?? '', /Cannot update these configs dynamically/);
  assert.match(dynamicBrokerConfigProblem('log.retention.ms', '-5') ?? '', /^log\.retention\.ms: /);
  assert.match(dynamicBrokerConfigProblem('listeners', 'PLAINTEXT://:1') ?? '', /unknown broker config/);
});

test('group configs: bounded by the broker, the session above the heartbeat, unknown names refused', () => {
  const settings = defaultBrokerConfig.groups;
  assert.equal(groupConfigsProblem(new Map([['consumer.session.timeout.ms', '50000']]), settings), null);
  assert.match(groupConfigsProblem(new Map([['consumer.session.timeout.ms', '44999']]), settings) ?? '', /group\.consumer\.min\.session\.timeout\.ms/);
  assert.match(groupConfigsProblem(new Map([['consumer.heartbeat.interval.ms', '15001']]), settings) ?? '', /group\.consumer\.max\.heartbeat\.interval\.ms/);
  assert.match(groupConfigsProblem(new Map([['consumer.heartbeat.interval.ms', 'x']]), settings) ?? '', /expected an integer/);
  assert.match(groupConfigsProblem(new Map([['share.record.lock.duration.ms', '30000']]), settings) ?? '', /Unknown group config name/);
  const relaxed = { ...settings, consumerMinSessionTimeoutMs: 1000 };
  assert.match(groupConfigsProblem(new Map([['consumer.session.timeout.ms', '5000']]), relaxed) ?? '', /must be greater than consumer\.heartbeat\.interval\.ms/);
  assert.deepEqual(effectiveGroupConfig(new Map([['consumer.heartbeat.interval.ms', '6000']]), settings), { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 6000 });
});
