/**
 * A live progress line for long runs, redrawn in place on a terminal (and silent elsewhere):
 *
 *   [██████████░░░░░░░░░░]  52%  520,000 records  498,210 rec/s  47.5 MiB/s  p99 3.10 ms
 *
 * Rates are over the last interval, not the whole run, so a stall shows at once.
 */
export interface ProgressSnapshot {
  readonly records: number;
  readonly bytes: number;
  /** Fraction done, 0-1, when the end is known. */
  readonly fraction: number | null;
  /** Extra text at the end (a latency figure). */
  readonly note?: string;
}

export class ProgressLine {
  private timer: NodeJS.Timeout | null = null;
  private lastRecords = 0;
  private lastBytes = 0;
  private lastAt = performance.now();
  private drawn = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly enabled: boolean,
    private readonly sample: () => ProgressSnapshot,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    if (!this.enabled || this.timer !== null) return;
    this.lastAt = performance.now();
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops and erases the line. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.drawn) this.write('\r\u001b[2K');
    this.drawn = false;
  }

  private draw(): void {
    const now = performance.now();
    const snapshot = this.sample();
    const seconds = Math.max((now - this.lastAt) / 1000, 1e-3);
    const recordsPerSecond = (snapshot.records - this.lastRecords) / seconds;
    const bytesPerSecond = (snapshot.bytes - this.lastBytes) / seconds;
    this.lastAt = now;
    this.lastRecords = snapshot.records;
    this.lastBytes = snapshot.bytes;
    this.write(`\r\u001b[2K${formatProgress(snapshot, recordsPerSecond, bytesPerSecond)}`);
    this.drawn = true;
  }
}

export function formatProgress(snapshot: ProgressSnapshot, recordsPerSecond: number, bytesPerSecond: number): string {
  const width = 20;
  const bar = snapshot.fraction === null ? '' : `[${'█'.repeat(Math.round(Math.min(1, snapshot.fraction) * width)).padEnd(width, '░')}] ${String(Math.floor(Math.min(1, snapshot.fraction) * 100)).padStart(3)}%  `;
  return `${bar}${Math.round(snapshot.records).toLocaleString('en-US')} records  ${Math.round(recordsPerSecond).toLocaleString('en-US')} rec/s  ${(bytesPerSecond / 1048576).toFixed(1)} MiB/s${snapshot.note ? `  ${snapshot.note}` : ''}`;
}
