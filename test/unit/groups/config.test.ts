/** The `groups` settings: defaults, names by the loader's rule, and the session timeout bounds checked together. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadBrokerConfig } from '../../../src/config/loader.js';

test('groups settings: Kafka defaults, set by flag, environment or YAML section', () => {
  const defaults = loadBrokerConfig({ argv: [], env: {} }).config.groups;
  assert.equal(defaults.minSessionTimeoutMs, 6000);
  assert.equal(defaults.maxSessionTimeoutMs, 1_800_000);
  assert.equal(defaults.initialRebalanceDelayMs, 3000);
  assert.equal(defaults.maxMetadataBytes, 4096);
  assert.equal(defaults.offsetsRetentionMs, 7 * 24 * 3600 * 1000);
  const { config } = loadBrokerConfig({ argv: ['--groups.initial-rebalance-delay-ms', '0', '--groups.max-group-size', '5'], env: { OSPREY_GROUPS_MAX_METADATA_BYTES: '100' } });
  assert.deepEqual([config.groups.initialRebalanceDelayMs, config.groups.maxGroupSize, config.groups.maxMetadataBytes], [0, 5, 100]);
});

test('a minimum session timeout above the maximum is refused, naming both sources', () => {
  assert.throws(
    () => loadBrokerConfig({ argv: ['--groups.min-session-timeout-ms', '10000', '--groups.max-session-timeout-ms', '9000'], env: {} }),
    (error: unknown) => error instanceof ConfigError && /groups\.minSessionTimeoutMs 10000 \(from --groups\.min-session-timeout-ms\) exceeds groups\.maxSessionTimeoutMs 9000/.test(error.message),
  );
  assert.throws(() => loadBrokerConfig({ argv: ['--groups.max-metadata-bytes', '40000'], env: {} }), ConfigError);
});
