import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer } from '../../../bench/lib/pacer.js';

test('tick periods are whole message intervals of at least 1 ms', () => {
  assert.equal(Pacer.tickMsFor(1_000), 1);
  assert.ok(Math.abs(Pacer.tickMsFor(10_000) - 1) < 1e-9);
  assert.ok(Math.abs(Pacer.tickMsFor(50_000) - 1) < 1e-9);
  assert.equal(Pacer.tickMsFor(400), 2.5);
});

test('the pacer ticks on its schedule, never before its time, and close() can be called twice', async () => {
  const pacer = await Pacer.open();
  const startMs = performance.now() + 5;
  const lateMs: number[] = [];
  await new Promise<void>((resolve) => {
    pacer.start(startMs, 1, () => {
      lateMs.push(performance.now() - (startMs + lateMs.length));
      if (lateMs.length === 200) resolve();
    });
  });
  await pacer.close();
  await pacer.close();
  assert.ok(lateMs.every((late) => late >= -0.01), `a tick came early: ${Math.min(...lateMs)} ms`);
});

test('a pacer closed before it started stops its thread', async () => {
  const pacer = await Pacer.open();
  await pacer.close();
});
