/**
 * Ticks on a fine, fixed schedule for the latency harness. The event loop's timers fire on whole
 * milliseconds and drift: a setInterval of 1 ms fires at a uniformly random point of each
 * millisecond (measured here: p50 0.50 ms past the schedule, p90 0.90), so a message due at k/rate
 * waited half a millisecond on average before its send call, and that wait was counted as latency.
 * A worker thread sleeping in Atomics.wait (sub-millisecond timeouts) and posting each tick puts
 * the main thread's tick p50 0.09 ms, p99 0.2–0.5 ms past the schedule on this machine.
 */
import { Worker } from 'node:worker_threads';

/**
 * Ticks no closer than this: each one wakes two threads, and each send call becomes a produce
 * request of its own at linger 0. At 10k msg/s, ticks of 0.3 ms (3 messages each) against 1 ms
 * (10 each), two quick runs of each, one after the other on a quiet machine: p99 3.0–3.6 ms against
 * 3.0 ms through our client, 5.1–5.3 ms against 3.0–3.3 ms through kcat. The finer ticks cost the
 * shared cores more than they take off the wait, and 1 ms keeps the 10k rows comparable with
 * earlier runs (whose timer also sent 10 per millisecond).
 */
const minimumTickMs = 1;

export class Pacer {
  private readonly stop = new Int32Array(new SharedArrayBuffer(4));
  private closed: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {}

  static async open(): Promise<Pacer> {
    const worker = new Worker(new URL('./pacer-thread.js', import.meta.url));
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    return new Pacer(worker);
  }

  /**
   * The tick period for messages due every 1000/rate ms: a whole number of message intervals, at
   * least minimumTickMs (1 ms at 1k, 10k and 50k msg/s).
   */
  static tickMsFor(ratePerSecond: number): number {
    const intervalMs = 1000 / ratePerSecond;
    return intervalMs * Math.ceil(minimumTickMs / intervalMs - 1e-9);
  }

  /** Calls onTick at startMs (performance.now() of this thread) + n × tickMs, n = 0, 1, …, until close(). */
  start(startMs: number, tickMs: number, onTick: () => void): void {
    this.worker.on('message', onTick);
    this.worker.postMessage({ firstTickMs: performance.timeOrigin + startMs, tickMs, stop: this.stop });
  }

  /** Stops the ticks and the thread; later calls return the same promise. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      Atomics.store(this.stop, 0, 1);
      Atomics.notify(this.stop, 0);
      this.worker.removeAllListeners('message');
      this.worker.once('exit', () => resolve());
      // A worker still waiting for its schedule (start() never called) is stopped from outside.
      void this.worker.terminate();
    });
    return this.closed;
  }
}
