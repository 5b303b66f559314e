/**
 * The disk alarm (src/broker/disk-alarm.ts) with an injected free-space probe: raised under the
 * reserve with one WARN line, cleared at or above it with one INFO line, nothing logged while the
 * state holds, a failing probe keeps the state, a reserve of 0 never raises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiskAlarm } from '../../../src/broker/disk-alarm.js';
import { createLogger } from '../../../src/logging/logger.js';

function alarmWith(readings: Array<number | Error>, minFreeDiskBytes: number): { alarm: DiskAlarm; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger('debug', (line) => void lines.push(line));
  const probe = async (): Promise<number> => {
    const reading = readings.shift();
    if (reading === undefined) throw new Error('no more readings');
    if (reading instanceof Error) throw reading;
    return reading;
  };
  return { alarm: new DiskAlarm({ directory: '/data', minFreeDiskBytes, checkIntervalMs: 60_000 }, logger, probe), lines };
}

test('raised under the reserve, cleared at or above it, one line for each change', async () => {
  const { alarm, lines } = alarmWith([5_000, 999, 500, new Error('EIO'), 1_000, 2_000], 1_000);
  await alarm.check();
  assert.equal(alarm.raised, false);
  assert.equal(alarm.freeBytes, 5_000);
  await alarm.check();
  assert.equal(alarm.raised, true);
  assert.match(alarm.refusalMessage, /999 bytes.*1000 bytes \(minFreeDiskBytes\)/);
  await alarm.check();
  await alarm.check(); // the probe fails: the alarm stays raised
  assert.equal(alarm.raised, true);
  await alarm.check();
  assert.equal(alarm.raised, false, 'exactly the reserve is enough');
  await alarm.check();
  assert.equal(lines.filter((line) => /disk alarm raised/.test(line) && / WARN /.test(line)).length, 1);
  assert.equal(lines.filter((line) => /disk alarm cleared/.test(line) && / INFO /.test(line)).length, 1);
  assert.equal(lines.filter((line) => /cannot measure free disk space/.test(line)).length, 1);
  alarm.stop();
});

test('a reserve of 0 never raises the alarm; measurements in flight are shared', async () => {
  const { alarm } = alarmWith([0, 0], 0);
  await Promise.all([alarm.check(), alarm.check(), alarm.check()]);
  assert.equal(alarm.raised, false);
  assert.equal(alarm.freeBytes, 0);
  await alarm.check();
  alarm.stop();
});

test('bytes appended since the last measurement raise the alarm at once when they use up the space above the reserve; the next measurement decides', async () => {
  const { alarm, lines } = alarmWith([5_000, 600, 4_500], 1_000);
  await alarm.check();
  alarm.noteAppended(3_000);
  assert.equal(alarm.raised, false, '2,000 estimated free: above the reserve');
  alarm.noteAppended(1_500);
  assert.equal(alarm.raised, true, '500 estimated free: raised without waiting for the interval');
  assert.equal(lines.filter((line) => /disk alarm raised/.test(line) && /how=estimated/.test(line)).length, 1);
  await alarm.check(); // the measurement it started: 600 free, the alarm holds
  assert.equal(alarm.raised, true);
  await alarm.check(); // space freed elsewhere: cleared
  assert.equal(alarm.raised, false);
  alarm.noteAppended(3_000);
  assert.equal(alarm.raised, false, 'counted from the last measurement only: 1,500 estimated free');
  alarm.stop();
});
