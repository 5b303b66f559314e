import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, formatLogValue } from '../../../src/logging/logger.js';
import { waitUntil } from '../../helpers/waiting.js';

test('control, format and other non-printable characters are escaped in values and messages', () => {
  assert.equal(formatLogValue('plain'), 'plain');
  assert.equal(formatLogValue('two words'), '"two words"');
  assert.equal(formatLogValue('a\nb'), '"a\\nb"');
  assert.equal(formatLogValue('\x1b[31mred'), '"\\x1b[31mred"');
  assert.equal(formatLogValue('del\x7f'), '"del\\x7f"');
  assert.equal(formatLogValue('c1\u0085'), '"c1\\x85"');
  assert.equal(formatLogValue('bidi\u202eoverride'), '"bidi\\u{202e}override"');
  assert.equal(formatLogValue('line\u2028separator'), '"line\\u{2028}separator"');
  assert.equal(formatLogValue('lone\ud800surrogate'), '"lone\\u{d800}surrogate"');
  assert.equal(formatLogValue('say "hi"'), '"say \\"hi\\""');
  assert.equal(formatLogValue('back\\slash'), '"back\\\\slash"');
  assert.equal(formatLogValue('ünïcødé✓'), 'ünïcødé✓', 'printable non-ASCII is kept');
  assert.equal(formatLogValue(''), '""');
  const lines: string[] = [];
  createLogger('info', (line) => lines.push(line)).warn('bad\nmessage', { id: 'x\ry' });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, / WARN bad\\nmessage id="x\\ry"\n$/);
  assert.equal(lines[0]!.split('\n').length, 2, 'one line');
});

test('each message writes at most its budget per window; the rest are counted in one line when the window ends', async () => {
  const lines: string[] = [];
  const logger = createLogger('info', (line) => lines.push(line), {}, { linesPerMessage: 3, windowMs: 100 });
  const child = logger.with({ connection: 1 });
  for (let index = 0; index < 10; index++) child.warn('closing connection', { index });
  logger.warn('another message');
  assert.equal(lines.filter((line) => line.includes('closing connection')).length, 3);
  assert.equal(lines.filter((line) => line.includes('another message')).length, 1, 'budgets are per message');
  // The window's end is a timer: wait for the line it writes rather than a guess at when it fires.
  await waitUntil(() => lines.some((line) => line.includes('similar lines suppressed')), 'the summary line at the end of the window', 5_000);
  const summary = lines.filter((line) => line.includes('similar lines suppressed'));
  assert.equal(summary.length, 1);
  assert.match(summary[0]!, / WARN similar lines suppressed count=7 message="closing connection" windowMs=100\n$/);
  child.warn('closing connection');
  assert.equal(lines.filter((line) => / WARN closing connection/.test(line)).length, 4, 'a new window has a new budget');
});
