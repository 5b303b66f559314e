import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../../src/metrics/metrics.js';

test('counters and gauges render in Prometheus text format, labels escaped', () => {
  const metrics = new Metrics();
  const errors = metrics.counter('osprey_test_errors_total', 'Errors "counted".');
  errors.inc({ api: 'Produce' });
  errors.inc({ api: 'Produce' }, 2);
  errors.inc({ api: 'a"b\\c' });
  metrics.gauge('osprey_test_partitions', 'Partitions open.', () => 7);
  metrics.gauge('osprey_test_marked', 'Per partition.', () => [{ labels: { topic: 't', partition: 0 }, value: 1 }]);
  assert.equal(metrics.counter('osprey_test_errors_total', 'again').get({ api: 'Produce' }), 3);
  assert.equal(
    metrics.render(),
    [
      '# HELP osprey_test_errors_total Errors "counted".',
      '# TYPE osprey_test_errors_total counter',
      'osprey_test_errors_total{api="Produce"} 3',
      'osprey_test_errors_total{api="a\\"b\\\\c"} 1',
      '# HELP osprey_test_partitions Partitions open.',
      '# TYPE osprey_test_partitions gauge',
      'osprey_test_partitions 7',
      '# HELP osprey_test_marked Per partition.',
      '# TYPE osprey_test_marked gauge',
      'osprey_test_marked{topic="t",partition="0"} 1',
      '',
    ].join('\n'),
  );
});

test('a name is either a counter or a gauge', () => {
  const metrics = new Metrics();
  metrics.gauge('osprey_test_x', 'x', () => 1);
  assert.throws(() => metrics.counter('osprey_test_x', 'x'), /already registered/);
  assert.throws(() => metrics.gauge('osprey_test_x', 'x', () => 1), /registered twice/);
});
