/**
 * The deadline of the frame a connection is receiving (`limits.frameReceiveTimeoutMs`): a frame
 * must arrive whole within the timeout of its first byte, so a client that trickles a frame (a byte
 * a second) cannot hold a connection's memory and slot for the ten-minute idle timeout.
 *
 * Time the broker itself holds off reading (request memory spent, in-flight limits, a client not
 * reading its responses) does not count: the deadline restarts when reading resumes. One timer per
 * connection at most, armed when a frame is left unfinished and checked when it fires, so a busy
 * connection pays no timer per frame.
 */
export interface FrameProgress {
  /** Increases by one every time a frame is completed. */
  readonly completedFrames: number;
  /** True while bytes of an unfinished frame are buffered. */
  readonly receivingFrame: boolean;
  /** True while the broker holds off reading this connection. */
  readonly readingPaused: boolean;
  /** When reading last resumed after a pause (Date.now() milliseconds), 0 if never paused. */
  readonly readingResumedAtMs: number;
}

export class FrameDeadline {
  private timer: NodeJS.Timeout | undefined;
  private armedForFrame = -1;
  private armedAtMs = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly progress: FrameProgress,
    private readonly onExpired: (elapsedMs: number) => void,
  ) {}

  /** Call after bytes arrive: arms the timer when a frame is left unfinished and none is armed. */
  noteBytes(): void {
    if (this.timer !== undefined || !this.progress.receivingFrame) return;
    this.arm(this.timeoutMs, Date.now());
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number, startedAtMs: number): void {
    this.armedForFrame = this.progress.completedFrames;
    this.armedAtMs = startedAtMs;
    this.timer = setTimeout(() => this.check(), delayMs);
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    const progress = this.progress;
    if (!progress.receivingFrame) return;
    const nowMs = Date.now();
    // Another frame than the one armed for: it gets its own full timeout.
    if (progress.completedFrames !== this.armedForFrame) return this.arm(this.timeoutMs, nowMs);
    if (progress.readingPaused) return this.arm(this.timeoutMs, this.armedAtMs);
    const countedFromMs = Math.max(this.armedAtMs, progress.readingResumedAtMs);
    const elapsedMs = nowMs - countedFromMs;
    if (elapsedMs < this.timeoutMs) return this.arm(this.timeoutMs - elapsedMs, this.armedAtMs);
    this.onExpired(nowMs - this.armedAtMs);
  }
}
