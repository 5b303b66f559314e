/**
 * Flag value parsers and table layout of the client commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, parseDuration, parseSize } from '../../../src/cli/command-kit.js';
import { compileFormat, parseStartPosition } from '../../../src/cli/consume-command.js';
import { table } from '../../../src/cli/output.js';

test('durations and sizes', () => {
  assert.equal(parseDuration('--linger', '5'), 5);
  assert.equal(parseDuration('--linger', '250ms'), 250);
  assert.equal(parseDuration('--duration', '1.5s'), 1500);
  assert.equal(parseDuration('--duration', '2m'), 120_000);
  assert.throws(() => parseDuration('--duration', 'soon'), UsageError);
  assert.equal(parseSize('--batch-size', '16KiB'), 16384);
  assert.equal(parseSize('--batch-size', '1MB'), 1_000_000);
  assert.equal(parseSize('--record-size', '100'), 100);
  assert.throws(() => parseSize('--record-size', '1 parsec'), /expected a size/);
});

test('start positions', () => {
  assert.deepEqual(parseStartPosition('--from', 'beginning'), { kind: 'earliest' });
  assert.deepEqual(parseStartPosition('--from', 'latest'), { kind: 'latest' });
  assert.deepEqual(parseStartPosition('--from', '42'), { kind: 'offset', offset: 42 });
  assert.deepEqual(parseStartPosition('--from', '-10'), { kind: 'fromEnd', count: 10 });
  assert.deepEqual(parseStartPosition('--from', '@1700000000000'), { kind: 'timestamp', timestampMs: 1_700_000_000_000 });
  assert.deepEqual(parseStartPosition('--from', '2024-05-01T00:00:00Z'), { kind: 'timestamp', timestampMs: Date.parse('2024-05-01T00:00:00Z') });
  assert.throws(() => parseStartPosition('--from', 'tomorrow'), UsageError);
});

test('format templates', () => {
  const render = compileFormat('{topic}/{partition}@{offset} {key}={value} [{headers}] {timestamp}\\n');
  const text = render({ topic: 't', partition: 1, offset: 7, timestampMs: 99, key: Buffer.from('k'), value: null, headers: [{ key: 'a', value: Buffer.from('1') }, { key: 'b', value: null }] });
  assert.equal(text, 't/1@7 k= [a=1,b=] 99\n');
});

test('tables align columns, numbers to the right', () => {
  assert.equal(table([{ header: 'NAME' }, { header: 'N', align: 'right' }], [['alpha', '1'], ['b', '100']]), 'NAME     N\nalpha    1\nb      100\n');
});
