import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/loader.js';

/** The problems of the ConfigError that `attempt` (loading a configuration) throws; fails the test when it loads. */
export function rejectionProblems(attempt: () => unknown): readonly string[] {
  try {
    attempt();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected the configuration to be rejected');
}
