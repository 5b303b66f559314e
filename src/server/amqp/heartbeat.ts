/**
 * Heartbeats of one connection, once tune-ok has set an interval above 0 (AMQP 0-9-1 §4.2.7):
 * a heartbeat frame goes out whenever nothing else was sent for half an interval (so the client,
 * which may check at every interval, always sees traffic in time), and the connection is given up
 * when nothing at all has arrived for two intervals, as RabbitMQ does ("missed heartbeats from
 * client"). One timer ticks every half interval; the clock and the timer are injected.
 */
export interface HeartbeatPeer {
  /** When anything was last handed to the socket. */
  readonly lastWriteMs: number;
  /** The broker itself holds off reading (handlers busy): the client's silence is then not counted. */
  readonly readingPaused: boolean;
  sendHeartbeat(): void;
  /** Nothing arrived for two intervals. */
  timedOut(): void;
}

/** Calls tick every periodMs until the returned function is called. */
export type RepeatingTimer = (tick: () => void, periodMs: number) => () => void;

const nodeRepeatingTimer: RepeatingTimer = (tick, periodMs) => {
  const timer = setInterval(tick, periodMs);
  timer.unref();
  return () => clearInterval(timer);
};

export class HeartbeatMonitor {
  private readonly cancelTimer: () => void;
  private lastReadMs: number;
  private stopped = false;

  constructor(
    private readonly intervalSeconds: number,
    private readonly peer: HeartbeatPeer,
    private readonly now: () => number = Date.now,
    repeat: RepeatingTimer = nodeRepeatingTimer,
  ) {
    this.lastReadMs = now();
    const tickMs = (intervalSeconds * 1000) / 2;
    this.cancelTimer = repeat(() => this.tick(tickMs), tickMs);
  }

  /** Any bytes from the client count, not only heartbeat frames. */
  received(): void {
    this.lastReadMs = this.now();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  private tick(tickMs: number): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.peer.readingPaused) this.lastReadMs = now;
    if (now - this.lastReadMs >= 2 * this.intervalSeconds * 1000) {
      this.stop();
      this.peer.timedOut();
      return;
    }
    // A little slack, so a write just under half an interval ago does not skip a heartbeat the client needs.
    if (now - this.peer.lastWriteMs >= tickMs * 0.9) this.peer.sendHeartbeat();
  }
}
