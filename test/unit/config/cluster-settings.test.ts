/**
 * The cluster settings (nodeId, etcdEndpoints, advertisedHost, advertisedKafkaPort, rack, the etcd
 * lease TTL and request deadline) through the config loader: every source, the values refused, and
 * the check that a broker joining a cluster names its node id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { loadBrokerConfig } from '../../../src/config/loader.js';
import { rejectionProblems } from './config-problems.js';
import type { LoadedConfig } from '../../../src/config/loader.js';
import { temporaryDirectory } from '../../helpers/broker-process.js';

function load(argv: string[] = [], env: Record<string, string> = {}): LoadedConfig {
  return loadBrokerConfig({ argv, env, cwd: '/srv/osprey' });
}

function problemsOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  return rejectionProblems(() => load(argv, env));
}

test('without etcdEndpoints the broker is a single broker: no etcd, no node id needed', () => {
  const { config } = load();
  assert.equal(config.etcdEndpoints, '');
  assert.equal(config.nodeId, defaultBrokerConfig.nodeId);
  assert.equal(config.advertisedKafkaPort, 0);
  assert.equal(config.rack, '');
});

test('each cluster setting from flags', () => {
  const { config, sources } = load([
    '--node-id', '3',
    '--etcd-endpoints', 'http://10.0.0.1:2379,http://etcd-2.example:2379',
    '--advertised-host', 'broker-3.example',
    '--advertised-kafka-port', '19092',
    '--rack', 'eu-west-1a',
    '--etcd-lease-ttl-seconds', '2',
    '--etcd-request-timeout-ms', '1500',
  ]);
  assert.equal(config.nodeId, 3);
  assert.equal(config.etcdEndpoints, 'http://10.0.0.1:2379,http://etcd-2.example:2379');
  assert.equal(config.advertisedHost, 'broker-3.example');
  assert.equal(config.advertisedKafkaPort, 19092);
  assert.equal(config.rack, 'eu-west-1a');
  assert.equal(config.etcdLeaseTtlSeconds, 2);
  assert.equal(config.etcdRequestTimeoutMs, 1500);
  assert.equal(sources.get('etcdEndpoints'), '--etcd-endpoints');
});

test('each cluster setting from the environment and from YAML', () => {
  const env = {
    OSPREY_NODE_ID: '4',
    OSPREY_ETCD_ENDPOINTS: 'http://127.0.0.1:2379',
    OSPREY_ADVERTISED_KAFKA_PORT: '9094',
    OSPREY_RACK: 'r1',
    OSPREY_ETCD_LEASE_TTL_SECONDS: '5',
  };
  const fromEnv = load([], env).config;
  assert.deepEqual([fromEnv.nodeId, fromEnv.etcdEndpoints, fromEnv.advertisedKafkaPort, fromEnv.rack, fromEnv.etcdLeaseTtlSeconds], [4, 'http://127.0.0.1:2379', 9094, 'r1', 5]);

  const file = join(temporaryDirectory('osprey-config-test-'), 'osprey.yaml');
  writeFileSync(file, "nodeId: 5\netcdEndpoints: 'http://[::1]:2379'\nadvertisedKafkaPort: 9095\nrack: r2\netcdLeaseTtlSeconds: 7\n");
  const fromFile = load(['--config', file]).config;
  assert.deepEqual([fromFile.nodeId, fromFile.etcdEndpoints, fromFile.advertisedKafkaPort, fromFile.rack, fromFile.etcdLeaseTtlSeconds], [5, 'http://[::1]:2379', 9095, 'r2', 7]);
});

test('joining a cluster without a node id of its own is refused, naming the flag', () => {
  const problems = problemsOf(['--etcd-endpoints', 'http://127.0.0.1:2379']);
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /etcdEndpoints \(from --etcd-endpoints\) .*set --node-id/);
  assert.equal(load(['--etcd-endpoints', 'http://127.0.0.1:2379', '--node-id', '0']).config.nodeId, 0, 'node id 0 is fine when given');
});

test('malformed etcd endpoints, racks and TTLs are refused with what was expected', () => {
  for (const endpoints of ['127.0.0.1:2379', 'https://127.0.0.1:2379', 'http://127.0.0.1', 'http://127.0.0.1:2379/', 'http://127.0.0.1:0', 'http://127.0.0.1:2379,', 'http://bad_host:2379']) {
    const problems = problemsOf(['--node-id', '1', '--etcd-endpoints', endpoints]);
    assert.equal(problems.length, 1, endpoints);
    assert.match(problems[0] ?? '', /^--etcd-endpoints: expected http:\/\/HOST:PORT, several separated by commas/, endpoints);
  }
  assert.match(problemsOf(['--rack', 'rack one'])[0] ?? '', /^--rack: expected letters, digits/);
  assert.match(problemsOf(['--etcd-lease-ttl-seconds', '1'])[0] ?? '', /^--etcd-lease-ttl-seconds: expected an integer 2-3600/);
  assert.match(problemsOf(['--advertised-kafka-port', '70000'])[0] ?? '', /^--advertised-kafka-port: expected an integer 0-65535/);
});
