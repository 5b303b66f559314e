import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { configurationReferenceMarkdown } from '../../../src/config/help-text.js';
import { loadBrokerConfig } from '../../../src/config/loader.js';
import { rejectionProblems } from './config-problems.js';
import type { LoadedConfig } from '../../../src/config/loader.js';
import { configOptions } from '../../../src/config/settings-table.js';
import { temporaryDirectory } from '../../helpers/broker-process.js';
import { repositoryRoot } from '../../helpers/tools.js';

const cwd = '/srv/osprey';

function load(argv: string[] = [], env: Record<string, string> = {}): LoadedConfig {
  return loadBrokerConfig({ argv, env, cwd });
}

function yamlFile(contents: string): string {
  const file = join(temporaryDirectory('osprey-config-test-'), 'osprey.yaml');
  writeFileSync(file, contents);
  return file;
}

/** The problems of the ConfigError that loading throws. */
function problemsOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  return rejectionProblems(() => load(argv, env));
}

test('with nothing given, the defaults hold, with dataDir resolved against the working directory', () => {
  const { config, sources, configFile, warnings } = load();
  assert.deepEqual(config, { ...defaultBrokerConfig, dataDir: '/srv/osprey/data' });
  assert.equal(sources.size, 0);
  assert.equal(configFile, null);
  assert.deepEqual(warnings, []);
});

test('precedence: defaults < file < environment < flags', () => {
  const file = yamlFile('kafkaPort: 1001\nhost: 10.0.0.1\nnodeId: 7\ntopicDefaults:\n  numPartitions: 2\n');
  const env = { OSPREY_CONFIG: file, OSPREY_KAFKA_PORT: '1002', OSPREY_HOST: '10.0.0.2' };

  const fromFile = load([], { OSPREY_CONFIG: file });
  assert.equal(fromFile.config.kafkaPort, 1001);
  assert.equal(fromFile.config.topicDefaults.numPartitions, 2);
  assert.equal(fromFile.sources.get('kafkaPort'), `${file}:1`);
  assert.equal(fromFile.configFile, file);

  const fromEnv = load([], env);
  assert.equal(fromEnv.config.kafkaPort, 1002);
  assert.equal(fromEnv.config.host, '10.0.0.2');
  assert.equal(fromEnv.config.nodeId, 7, 'the file still supplies what the environment does not');
  assert.equal(fromEnv.sources.get('kafkaPort'), 'OSPREY_KAFKA_PORT');

  const fromFlags = load(['--kafka-port', '1003'], env);
  assert.equal(fromFlags.config.kafkaPort, 1003);
  assert.equal(fromFlags.config.host, '10.0.0.2');
  assert.equal(fromFlags.config.nodeId, 7);
  assert.equal(fromFlags.config.flush, defaultBrokerConfig.flush);
  assert.equal(fromFlags.sources.get('kafkaPort'), '--kafka-port');
  assert.equal(fromFlags.sources.has('flush'), false);
});

test('nested settings: YAML section, dotted flag, short alias, environment variable', () => {
  const file = yamlFile('topicDefaults:\n  numPartitions: 2\n  retentionMs: -1\nlimits:\n  maxConnections: 5\n');
  const fromFile = load(['--config', file]);
  assert.equal(fromFile.config.topicDefaults.numPartitions, 2);
  assert.equal(fromFile.config.topicDefaults.retentionMs, -1);
  assert.equal(fromFile.config.limits.maxConnections, 5);
  assert.equal(fromFile.config.topicDefaults.segmentBytes, defaultBrokerConfig.topicDefaults.segmentBytes, 'untouched keys of a section keep their defaults');

  const env = { OSPREY_TOPIC_DEFAULTS_NUM_PARTITIONS: '3', OSPREY_LIMITS_MAX_CONNECTIONS: '6' };
  assert.equal(load(['--config', file], env).config.topicDefaults.numPartitions, 3);
  assert.equal(load(['--config', file], env).config.limits.maxConnections, 6);
  assert.equal(load(['--topic-defaults.num-partitions', '4'], env).config.topicDefaults.numPartitions, 4);
  assert.equal(load(['--num-partitions=5'], env).config.topicDefaults.numPartitions, 5);
  assert.equal(load(['--limits.max-connections', '7'], env).config.limits.maxConnections, 7);
});

test('cluster settings: min.insync.replicas (a topic default, with its short alias) and replica.lag.time.max.ms', () => {
  assert.equal(defaultBrokerConfig.topicDefaults.minInsyncReplicas, 1, "Kafka's default");
  assert.equal(defaultBrokerConfig.replicaLagTimeMaxMs, 30_000, "Kafka's default");
  assert.equal(load(['--min-insync-replicas', '2']).config.topicDefaults.minInsyncReplicas, 2);
  assert.equal(load([], { OSPREY_TOPIC_DEFAULTS_MIN_INSYNC_REPLICAS: '3' }).config.topicDefaults.minInsyncReplicas, 3);
  assert.equal(load(['--config', yamlFile('topicDefaults:\n  minInsyncReplicas: 2\nreplicaLagTimeMaxMs: 5000\n')]).config.replicaLagTimeMaxMs, 5000);
  assert.equal(load([], { OSPREY_REPLICA_LAG_TIME_MAX_MS: '2000' }).config.replicaLagTimeMaxMs, 2000);
  assert.match(problemsOf(['--min-insync-replicas', '0'])[0] ?? '', /^--min-insync-replicas: expected an integer 1-/);
});

test('the last of repeated flags wins, aliases included', () => {
  assert.equal(load(['--kafka-port', '1', '--kafka-port=2']).config.kafkaPort, 2);
  assert.equal(load(['--num-partitions', '3', '--topic-defaults.num-partitions', '4']).config.topicDefaults.numPartitions, 4);
});

test('--config wins over OSPREY_CONFIG', () => {
  const fromFlag = yamlFile('kafkaPort: 1\n');
  const fromEnv = yamlFile('kafkaPort: 2\n');
  assert.equal(load(['--config', fromFlag], { OSPREY_CONFIG: fromEnv }).config.kafkaPort, 1);
});

test('boolean flags: bare, =false, --no-, and from the environment', () => {
  assert.equal(load(['--auto-create-topics']).config.autoCreateTopics, true);
  assert.equal(load(['--auto-create-topics=false']).config.autoCreateTopics, false);
  assert.equal(load(['--no-auto-create-topics']).config.autoCreateTopics, false);
  assert.equal(load([], { OSPREY_AUTO_CREATE_TOPICS: 'no' }).config.autoCreateTopics, false);
  assert.equal(load(['--auto-create-topics'], { OSPREY_AUTO_CREATE_TOPICS: 'false' }).config.autoCreateTopics, true);
});

test('kafkaPort 0 (pick a free port) and negative numbers as flag values are accepted', () => {
  assert.equal(load(['--kafka-port', '0']).config.kafkaPort, 0);
  assert.equal(load(['--topic-defaults.retention-bytes', '-1']).config.topicDefaults.retentionBytes, -1);
});

test('empty environment variables count as unset', () => {
  assert.equal(load([], { OSPREY_KAFKA_PORT: '' }).config.kafkaPort, defaultBrokerConfig.kafkaPort);
});

test('a bad value names its source: flag, environment variable, file and line', () => {
  assert.deepEqual(problemsOf(['--kafka-port', 'abc']), ["--kafka-port: expected an integer 0-65535, got 'abc'"]);
  assert.deepEqual(problemsOf(['--kafka-port=65536']), ["--kafka-port: expected an integer 0-65535, got '65536'"]);
  assert.deepEqual(problemsOf([], { OSPREY_KAFKA_PORT: '-1' }), ["OSPREY_KAFKA_PORT: expected an integer 0-65535, got '-1'"]);
  const file = yamlFile('host: 127.0.0.1\nkafkaPort: abc\n');
  assert.deepEqual(problemsOf(['--config', file]), [`${file}:2: kafkaPort: expected an integer 0-65535, got 'abc'`]);
});

test('every kind of value is checked', () => {
  assert.match(problemsOf(['--flush', 'sometimes'])[0] ?? '', /^--flush: expected one of always, interval, never, got 'sometimes'$/);
  assert.match(problemsOf(['--log-level', 'INFO'])[0] ?? '', /^--log-level: expected one of debug, info, warn, error/);
  assert.match(problemsOf(['--auto-create-topics=maybe'])[0] ?? '', /^--auto-create-topics: expected true or false/);
  assert.match(problemsOf(['--host', 'not a host'])[0] ?? '', /^--host: expected an IP address or host name/);
  assert.match(problemsOf(['--data-dir='])[0] ?? '', /^--data-dir: expected a non-empty path, got ''$/);
  assert.match(problemsOf(['--topic-defaults.retention-ms', '-2'])[0] ?? '', /^--topic-defaults.retention-ms: expected an integer >= -1/);
  assert.match(problemsOf(['--num-partitions', '0'])[0] ?? '', /^--num-partitions: expected an integer 1-/);
  assert.match(problemsOf(['--limits.idle-timeout-ms', '4294967296'])[0] ?? '', /expected an integer 1-2147483647/);
  assert.match(problemsOf(['--node-id', '1.5'])[0] ?? '', /^--node-id: expected an integer/);
  assert.match(problemsOf(['--kafka-port', ' 9092'])[0] ?? '', /^--kafka-port: expected an integer/);
});

test('YAML values must have the YAML type of the setting', () => {
  const file = yamlFile('kafkaPort: "9092"\nautoCreateTopics: yes\nclusterId: 123\nhost: [a, b]\n');
  assert.deepEqual(problemsOf(['--config', file]), [
    `${file}:1: kafkaPort: expected an integer 0-65535, got '9092'`,
    `${file}:2: autoCreateTopics: expected true or false, got 'yes'`,
    `${file}:3: clusterId: expected letters, digits, - and _ only (or empty), got 123 (a number); put it in quotes`,
    `${file}:4: host: expected an IP address or host name, got a list`,
  ]);
});

test('unknown YAML keys are errors naming the key and the file, with the likely key', () => {
  const file = yamlFile('kafka_port: 1\nnum.partitions: 3\ntopicDefaults:\n  retention.ms: 5\n  maxFrameBytes: 5\n  colour: blue\n');
  assert.deepEqual(problemsOf(['--config', file]), [
    `${file}:1: unknown key 'kafka_port'; did you mean 'kafkaPort'?`,
    `${file}:2: unknown key 'num.partitions'; did you mean 'numPartitions' under 'topicDefaults:' (Kafka's num.partitions; keys here are camelCase)?`,
    `${file}:4: unknown key 'topicDefaults.retention.ms'; did you mean 'retentionMs' (Kafka's retention.ms; keys here are camelCase)?`,
    `${file}:5: unknown key 'topicDefaults.maxFrameBytes'; did you mean 'maxFrameBytes' under 'limits:'?`,
    `${file}:6: unknown key 'topicDefaults.colour'`,
  ]);
});

test('YAML structure: empty file and empty sections are fine; other shapes and syntax errors are not', () => {
  assert.equal(load(['--config', yamlFile('')]).config.kafkaPort, defaultBrokerConfig.kafkaPort);
  assert.equal(load(['--config', yamlFile('# nothing\ntopicDefaults:\nlimits: {}\n')]).config.kafkaPort, defaultBrokerConfig.kafkaPort);
  const list = yamlFile('- kafkaPort: 1\n');
  assert.deepEqual(problemsOf(['--config', list]), [`${list}:1: expected a mapping of settings at the top level, got a list`]);
  const section = yamlFile('limits: 5\n');
  assert.deepEqual(problemsOf(['--config', section]), [`${section}:1: expected a mapping of settings at 'limits', got 5 (a number)`]);
  const broken = yamlFile('kafkaPort: [1\n');
  assert.match(problemsOf(['--config', broken])[0] ?? '', new RegExp(`^${broken}:\\d+: invalid YAML: `));
  const duplicate = yamlFile('kafkaPort: 1\nkafkaPort: 2\n');
  assert.match(problemsOf(['--config', duplicate])[0] ?? '', /invalid YAML: .*unique/i);
});

test('a missing config file is an error naming the flag or variable that named it', () => {
  assert.deepEqual(problemsOf(['--config', '/nonexistent/osprey.yaml']), ['--config /nonexistent/osprey.yaml: cannot read the config file: no such file (ENOENT)']);
  assert.deepEqual(problemsOf([], { OSPREY_CONFIG: '/nonexistent/osprey.yaml' }), ['OSPREY_CONFIG /nonexistent/osprey.yaml: cannot read the config file: no such file (ENOENT)']);
});

test('flag mistakes: unknown flags with suggestions, missing values, stray arguments', () => {
  assert.deepEqual(problemsOf(['--kafka-prot', '1']), ['unknown flag --kafka-prot (did you mean --kafka-port?); see osprey broker --help']);
  assert.deepEqual(problemsOf(['--port', '1']), ['unknown flag --port (did you mean --kafka-port?); see osprey broker --help']);
  assert.deepEqual(problemsOf(['--retention-ms', '-1']), ['unknown flag --retention-ms (did you mean --topic-defaults.retention-ms?); see osprey broker --help']);
  assert.deepEqual(problemsOf(['--kafka-port']), ['--kafka-port: expected a value (an integer 0-65535)']);
  assert.deepEqual(problemsOf(['--kafka-port', '--host', 'x']), ['--kafka-port: expected a value (an integer 0-65535), got the flag --host', "unexpected argument 'x'"]);
  assert.deepEqual(problemsOf(['--auto-create-topics', 'false']), ["unexpected argument 'false' (write --auto-create-topics=false)"]);
  assert.deepEqual(problemsOf(['--config']), ['--config: expected a file name']);
});

test('every problem is reported at once, from every layer', () => {
  const file = yamlFile('kafkaPort: x\n');
  const problems = problemsOf(['--config', file, '--node-id', 'y'], { OSPREY_FLUSH: 'z' });
  assert.equal(problems.length, 3);
  assert.match(problems[0] ?? '', /osprey\.yaml:1: kafkaPort/);
  assert.match(problems[1] ?? '', /^OSPREY_FLUSH: /);
  assert.match(problems[2] ?? '', /^--node-id: /);
});

test('unknown OSPREY_ variables are warnings, not errors', () => {
  const { warnings, config } = load([], { OSPREY_KAFKAPORT: '1', OSPREY_SOMETHING: 'x', OSPREY_BROKERS: '127.0.0.1:9092', HOME: '/root' });
  assert.equal(config.kafkaPort, defaultBrokerConfig.kafkaPort);
  assert.deepEqual(warnings, [
    'OSPREY_KAFKAPORT is not an Osprey setting and is ignored (did you mean OSPREY_KAFKA_PORT?)',
    'OSPREY_SOMETHING is not an Osprey setting and is ignored',
  ]); // OSPREY_BROKERS belongs to the client commands: no warning
});

test('settings are checked against each other, naming where each came from', () => {
  assert.deepEqual(problemsOf(['--num-partitions', '5', '--limits.max-partitions-per-topic', '4']), [
    'topicDefaults.numPartitions 5 (from --num-partitions) exceeds limits.maxPartitionsPerTopic 4 (from --limits.max-partitions-per-topic)',
  ]);
  assert.match(load(['--host', '0.0.0.0']).warnings[0] ?? '', /--advertised-host/);
  assert.deepEqual(load(['--host', '0.0.0.0', '--advertised-host', 'broker.example']).warnings, []);
});

test('--help short-circuits everything else', () => {
  assert.equal(load(['--kafka-port', 'abc', '--help']).help, true);
  assert.equal(load(['-h']).help, true);
});

test('every key of BrokerConfig has exactly one option, named by the rule', () => {
  const keys = [
    ...Object.keys(defaultBrokerConfig).filter((key) => key !== 'topicDefaults' && key !== 'limits' && key !== 'groups' && key !== 'amqp'),
    ...Object.keys(defaultBrokerConfig.topicDefaults).map((key) => `topicDefaults.${key}`),
    ...Object.keys(defaultBrokerConfig.limits).map((key) => `limits.${key}`),
    ...Object.keys(defaultBrokerConfig.groups).map((key) => `groups.${key}`),
    ...Object.keys(defaultBrokerConfig.amqp).map((key) => `amqp.${key}`),
  ];
  assert.deepEqual(configOptions.map((option) => option.key).sort(), keys.sort());
  for (const option of configOptions) {
    const kebab = option.key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    assert.equal(option.flag, `--${kebab}`);
    assert.equal(option.env, `OSPREY_${kebab.replace(/[-.]/g, '_').toUpperCase()}`);
  }
});

test('docs/configuration.md holds the table generated from the code', () => {
  const document = readFileSync(join(repositoryRoot(), 'docs', 'configuration.md'), 'utf8');
  const start = '<!-- generated: configuration table -->\n';
  const end = '<!-- end of generated table -->';
  const table = document.slice(document.indexOf(start) + start.length, document.indexOf(end));
  assert.ok(document.includes(start) && document.includes(end), 'docs/configuration.md lacks the table markers');
  assert.equal(
    table.trim(),
    configurationReferenceMarkdown().trim(),
    'docs/configuration.md is out of date; regenerate the table with: npm run docs:config (or node scripts/generate-configuration-doc.mjs <build dir>)',
  );
});

test('amqpPort: 5672 by default, from a flag, the environment or YAML; 0 and -1 accepted, below -1 refused', () => {
  assert.equal(load().config.amqpPort, 5672);
  assert.equal(load(['--amqp-port', '0']).config.amqpPort, 0);
  assert.equal(load([], { OSPREY_AMQP_PORT: '-1' }).config.amqpPort, -1);
  assert.equal(load([], { OSPREY_CONFIG: yamlFile('amqpPort: 5673\n') }).config.amqpPort, 5673);
  assert.deepEqual(problemsOf(['--amqp-port', '-2']), ["--amqp-port: expected an integer from -1 to 65535, got '-2'"]);
});

test('the amqp section: defaults, flags, environment and YAML mapping, with its bounds', () => {
  const defaults = load().config.amqp;
  assert.deepEqual(defaults, {
    enabled: true,
    frameMaxBytes: 131_072,
    channelMax: 2047,
    heartbeatSeconds: 60,
    handshakeTimeoutMs: 10_000,
    maxUnackedMessagesPerConnection: 10_000,
    maxBufferedBytesPerConnection: 16 * 1024 * 1024,
    maxContentBytes: 128 * 1024 * 1024,
    connectionMax: 10_000,
    queueSegmentBytes: 64 * 1024 * 1024,
    maxReadyBytesInMemoryPerQueue: 8 * 1024 * 1024,
    topicConfirmTimeoutMs: 30_000,
    maxQueues: 10_000,
    maxExchanges: 10_000,
    maxBindings: 100_000,
    maxDelayedMessages: 1_000_000,
  });
  assert.equal(load(['--amqp.max-delayed-messages', '5']).config.amqp.maxDelayedMessages, 5);
  assert.equal(load([], { OSPREY_AMQP_TOPIC_CONFIRM_TIMEOUT_MS: '5000' }).config.amqp.topicConfirmTimeoutMs, 5000);
  assert.equal(load(['--amqp.queue-segment-bytes', '1048576']).config.amqp.queueSegmentBytes, 1_048_576);
  assert.deepEqual(problemsOf(['--amqp.queue-segment-bytes', '100']), ["--amqp.queue-segment-bytes: expected an integer 4096-2147483647, got '100'"]);
  assert.equal(load(['--no-amqp.enabled']).config.amqp.enabled, false);
  assert.equal(load(['--amqp.enabled=false']).config.amqp.enabled, false);
  assert.equal(load([], { OSPREY_AMQP_ENABLED: 'false' }).config.amqp.enabled, false);
  assert.equal(load(['--amqp.heartbeat-seconds', '0']).config.amqp.heartbeatSeconds, 0);
  assert.equal(load([], { OSPREY_AMQP_FRAME_MAX_BYTES: '8192' }).config.amqp.frameMaxBytes, 8192);
  const file = yamlFile('amqp:\n  enabled: false\n  channelMax: 16\n  maxContentBytes: 1000\n');
  const fromFile = load([], { OSPREY_CONFIG: file }).config.amqp;
  assert.equal(fromFile.enabled, false);
  assert.equal(fromFile.channelMax, 16);
  assert.equal(fromFile.maxContentBytes, 1000);
  assert.equal(fromFile.frameMaxBytes, 131_072, 'keys the file leaves out keep their defaults');
  assert.deepEqual(problemsOf(['--amqp.frame-max-bytes', '4095']), ["--amqp.frame-max-bytes: expected an integer 4096-2147483647, got '4095'"]);
  assert.deepEqual(problemsOf(['--amqp.channel-max', '65536']), ["--amqp.channel-max: expected an integer 1-65535, got '65536'"]);
  const unknown = problemsOf([], { OSPREY_CONFIG: yamlFile('amqp:\n  frameMax: 4096\n') });
  assert.equal(unknown.length, 1);
  assert.match(unknown[0] ?? '', /unknown key 'amqp\.frameMax'/);
});
