/**
 * The heartbeat monitor on a mocked timer and an injected clock: a heartbeat whenever nothing was
 * sent for half an interval, the connection given up after two intervals of silence from the
 * client, and no silence counted while the broker itself holds off reading.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { HeartbeatMonitor } from '../../../../src/server/amqp/heartbeat.js';

let nowMs = 0;
let heartbeatsSent = 0;
let timedOut = 0;
const peer = { lastWriteMs: 0, readingPaused: false, sendHeartbeat: () => heartbeatsSent++, timedOut: () => timedOut++ };

beforeEach(() => {
  mock.timers.enable({ apis: ['setInterval'] });
  nowMs = 0;
  heartbeatsSent = 0;
  timedOut = 0;
  Object.assign(peer, { lastWriteMs: 0, readingPaused: false });
});

afterEach(() => mock.timers.reset());

/** Moves the clock and the mocked timers together. */
function advance(ms: number): void {
  for (let step = 0; step < ms; step += 100) {
    nowMs += 100;
    mock.timers.tick(100);
  }
}

test('an idle connection gets a heartbeat every half interval and is given up after two silent intervals', () => {
  const monitor = new HeartbeatMonitor(2, peer, () => nowMs);
  advance(1000);
  assert.equal(heartbeatsSent, 1);
  advance(2000);
  assert.equal(heartbeatsSent, 3);
  assert.equal(timedOut, 0);
  advance(1000);
  assert.equal(timedOut, 1, 'four seconds of silence: two intervals of 2 s');
  advance(5000);
  assert.equal(timedOut, 1, 'once');
  monitor.stop();
});

test('traffic either way keeps it quiet: no heartbeat after a recent write, no timeout while data arrives', () => {
  const monitor = new HeartbeatMonitor(2, peer, () => nowMs);
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
  const monitor = new HeartbeatMonitor(1, peer, () => nowMs);
  peer.readingPaused = true;
  advance(10_000);
  assert.equal(timedOut, 0);
  peer.readingPaused = false;
  advance(2500);
  assert.equal(timedOut, 1);
  monitor.stop();
});
