import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { assertSucceeded, osprey } from '../helpers/osprey-cli.js';

test('the HTTP listener serves Prometheus metrics at /metrics and 404 elsewhere', async () => {
  const broker = await startBrokerProcess();
  try {
    assertSucceeded(await osprey(broker, ['topic', 'create', 'metered', '--partitions', '3']));
    const text = await broker.metricsText();
    assert.match(text, /^# TYPE osprey_topics gauge$/m);
    assert.match(text, /^osprey_topics 1$/m);
    assert.match(text, /^osprey_partitions 3$/m);
    const missing = await fetch(`http://${broker.host}:${String(broker.httpPort)}/nothing`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await broker.stop();
  }
});

test('--http-port -1 turns the HTTP listener off', async () => {
  const broker = await startBrokerProcess({ args: ['--http-port', '-1'] });
  try {
    assert.equal(broker.httpPort, null);
    assert.doesNotMatch(broker.logs(), /http listener ready/);
  } finally {
    await broker.stop();
  }
});
