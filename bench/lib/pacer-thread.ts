/**
 * The pacer's thread (see pacer.ts): waits for its schedule, then posts tick n at
 * firstTickMs + n × tickMs (absolute ms: timeOrigin + now, the same clock in every thread),
 * sleeping in Atomics.wait, whose timeout is not rounded to whole milliseconds as the event loop's
 * timers are. Stops when the main thread sets stop[0].
 */
import { parentPort } from 'node:worker_threads';

interface Schedule {
  readonly firstTickMs: number;
  readonly tickMs: number;
  readonly stop: Int32Array;
}

const clockMs = () => performance.timeOrigin + performance.now();

parentPort!.once('message', ({ firstTickMs, tickMs, stop }: Schedule) => {
  for (let tick = 0; Atomics.load(stop, 0) === 0; tick += 1) {
    const waitMs = firstTickMs + tick * tickMs - clockMs();
    if (waitMs > 0) Atomics.wait(stop, 0, 0, waitMs);
    if (Atomics.load(stop, 0) !== 0) break;
    parentPort!.postMessage(tick);
  }
  parentPort!.close();
});
