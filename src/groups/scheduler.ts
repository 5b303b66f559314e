/**
 * Time for the group coordinator: the clock and timers enter through this interface, so unit tests
 * drive session timeouts, rebalance timeouts and the initial rebalance delay with a manual clock
 * (DESIGN.md, decision 10).
 */

export interface Timer {
  cancel(): void;
}

export interface Scheduler {
  nowMs(): number;
  /** Runs `action` once after `delayMs`; cancelling a timer that fired or was cancelled does nothing. */
  schedule(delayMs: number, action: () => void): Timer;
}

/** setTimeout fires at once beyond 2^31−1 ms, so longer delays are clamped (24.8 days). */
const maxTimerDelayMs = 2 ** 31 - 1;

/** Real time; timers do not keep the process alive (the listener does while the broker runs). */
export const systemScheduler: Scheduler = {
  nowMs: () => Date.now(),
  schedule(delayMs, action) {
    const handle = setTimeout(action, Math.max(0, Math.min(delayMs, maxTimerDelayMs)));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface ManualTimer {
  readonly dueMs: number;
  readonly sequence: number;
  readonly action: () => void;
  cancelled: boolean;
}

/**
 * Time that moves only when told to. `advance(ms)` runs every timer due by then, earliest first
 * (timers due at the same time in the order they were scheduled), including timers scheduled by
 * the actions themselves if they fall within the window.
 */
export class ManualScheduler implements Scheduler {
  private timers: ManualTimer[] = [];
  private sequence = 0;

  constructor(private now = 1_700_000_000_000) {}

  nowMs(): number {
    return this.now;
  }

  schedule(delayMs: number, action: () => void): Timer {
    const timer: ManualTimer = { dueMs: this.now + Math.max(0, delayMs), sequence: this.sequence++, action, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  advance(delayMs: number): void {
    const target = this.now + delayMs;
    for (;;) {
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      let next: ManualTimer | undefined;
      for (const timer of this.timers) {
        if (timer.dueMs > target) continue;
        if (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.sequence < next.sequence)) next = timer;
      }
      if (next === undefined) break;
      next.cancelled = true;
      this.now = Math.max(this.now, next.dueMs);
      next.action();
    }
    this.now = target;
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimerCount(): number {
    return this.timers.filter((timer) => !timer.cancelled).length;
  }
}
