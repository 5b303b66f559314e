import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionAdmission } from '../../../src/server/kafka/connection-admission.js';

test('connections are limited in all and per address; a closed one frees its slot', () => {
  const admission = new ConnectionAdmission(4, 2);
  assert.equal(admission.admit('10.0.0.1'), null);
  assert.equal(admission.admit('10.0.0.1'), null);
  assert.deepEqual(admission.admit('10.0.0.1'), { limitName: 'limits.maxConnectionsPerAddress', limit: 2 });
  assert.equal(admission.admit('10.0.0.2'), null);
  assert.equal(admission.admit('10.0.0.3'), null);
  assert.deepEqual(admission.admit('10.0.0.4'), { limitName: 'limits.maxConnections', limit: 4 }, 'a refused connection took no slot');
  admission.release('10.0.0.1');
  assert.equal(admission.admit('10.0.0.1'), null);
});
