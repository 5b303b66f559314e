/**
 * The latency round's bound on what it holds unacknowledged (bench/workloads/workloads.ts,
 * latencyRun). A harness-only test: the driver below stands for a client whose send calls are
 * slower than the rate and never acknowledged, as nats.js was at 50k msg/s when the harness went
 * from 83 MB to past its heap limit within two seconds.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Driver, Producer } from '../../../bench/drivers/driver.js';
import { Progress } from '../../../bench/lib/progress.js';
import { latencyRun } from '../../../bench/workloads/workloads.js';

function busyWaitMs(durationMs: number): void {
  const endMs = performance.now() + durationMs;
  while (performance.now() < endMs) {
    // a send call that takes this long on the event loop
  }
}

function slowDriver(onSend: (count: number) => void): Driver {
  return {
    id: 'slow',
    label: 'slow',
    client: 'none',
    clientVersion: '0',
    durability: 'none',
    workloads: new Set(['latency']),
    settleMs: 0,
    async createDestination() {},
    async deleteDestination() {},
    async openProducer(): Promise<Producer> {
      return {
        send(payloads) {
          busyWaitMs(2);
          onSend(payloads.length);
          return new Promise<void>(() => {}); // never acknowledged
        },
        async close() {},
      };
    },
    async openConsumer() {
      return { async close() {} };
    },
    async close() {},
  };
}

test('a latency round stops sending at its cap of unacknowledged messages, even when one tick never catches up', async () => {
  let sent = 0;
  const ratePerSecond = 50_000;
  const batchMessages = 100;
  const flow = { batchMessages, batchesInFlight: 1, stallTimeoutMs: 5_000 };
  // 100 messages per 2 ms send call = 50k/s at best, on a schedule of 50k/s: the tick that starts
  // sending is never done, and no acknowledgement could be handled meanwhile.
  await assert.rejects(latencyRun(slowDriver((count) => (sent += count)), { name: 'd', partitions: 1 }, ratePerSecond, 10, 0, 16, flow, new Progress()), /fell behind/);
  const maxUnacknowledged = Math.max(10_000, ratePerSecond);
  assert.ok(sent >= maxUnacknowledged, `sent ${sent}`);
  assert.ok(sent < maxUnacknowledged + batchMessages, `sent ${sent}, more than the cap of ${maxUnacknowledged} and one send call`);
});
