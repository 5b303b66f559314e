/**
 * The heartbeat monitor on an injected clock and timer: a heartbeat whenever nothing was
 * sent for half an interval, the connection given up after two intervals of silence from the
 * client, and no silence counted while the broker itself holds off reading.
 */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { HeartbeatMonitor } from '../../../../src/server/amqp/heartbeat.js';
import type { RepeatingTimer } from '../../../../src/server/amqp/heartbeat.js';

let nowMs = 0;
let heartbeatsSent = 0;
let timedOut = 0;
const peer = { lastWriteMs: 0, readingPaused: false, sendHeartbeat: () => heartbeatsSent++, timedOut: () => timedOut++ };

/** One repeating timer, run by advance() as the clock passes its due times. */
let timer: { tick: () => void; periodMs: number; dueMs: number } | null = null;
const repeat: RepeatingTimer = (tick, periodMs) => {
  const entry = { tick, periodMs, dueMs: nowMs + periodMs };
  timer = entry;
  return () => {
    if (timer === entry) timer = null;
  };
};

beforeEach(() => {
  timer = null;
  nowMs = 0;
  heartbeatsSent = 0;
  timedOut = 0;
  Object.assign(peer, { lastWriteMs: 0, readingPaused: false });
});

/** Moves the clock in 100 ms steps, firing the timer when due. */
function advance(ms: number): void {
  for (let step = 0; step < ms; step += 100) {
    nowMs += 100;
    const current = timer;
    if (current !== null && nowMs >= current.dueMs) {
      current.dueMs += current.periodMs;
      current.tick();
    }
  }
}

test('an idle connection gets a heartbeat every half interval and is given up after two silent intervals', () => {
  const monitor = new HeartbeatMonitor(2, peer, () => nowMs, repeat);
  advance(1000);
  assert.equal(heartbeatsSent, 1);
  advance(2000);
  assert.equal(heartbeatsSent, 3);
  assert.equal(timedOut, 0);
  advance(1000);
  assert.equal(timedOut, 1, 'four seconds of silence: two intervals of 2 s');
  assert.equal(timer, null, 'the timer is cancelled');
  monitor.stop();
});

test('traffic either way keeps it quiet: no heartbeat after a recent write, no timeout while data arrives', () => {
  const monitor = new HeartbeatMonitor(2, peer, () => nowMs, repeat);
  for (let second = 0; second < 10; second++) {
    advance(500);
    peer.lastWriteMs = nowMs;
    monitor.received();
  }
  assert.equal(heartbeatsSent, 0);
  assert.equal(timedOut, 0);
  monitor.stop();
});

test('silence is not counted while the broker holds off reading', () => {
  const monitor = new HeartbeatMonitor(1, peer, () => nowMs, repeat);
  peer.readingPaused = true;
  advance(10_000);
  assert.equal(timedOut, 0);
  peer.readingPaused = false;
  advance(2500);
  assert.equal(timedOut, 1);
  monitor.stop();
});
