/**
 * Live progress on the terminal: one line rewritten in place (on a TTY) with what runs and how far
 * it is; elsewhere (CI logs) only the finished lines.
 */
import { formatCount } from './stats.js';

const interactive = process.stdout.isTTY === true;

export class Progress {
  private label = '';
  private done = 0;
  private total = 0;
  private startedMs = 0;
  private timer: NodeJS.Timeout | undefined;

  /** Starts a counted phase: "osprey-kafkajs publish 100 B round 2/3". */
  begin(label: string, total: number): void {
    this.label = label;
    this.done = 0;
    this.total = total;
    this.startedMs = performance.now();
    if (interactive && this.timer === undefined) this.timer = setInterval(() => this.draw(), 200).unref();
  }

  advance(count: number): void {
    this.done += count;
  }

  /** Messages counted in the current phase. */
  get count(): number {
    return this.done;
  }

  /** Ends the phase with a result line. */
  end(summary: string): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (interactive) process.stdout.write('\r\x1b[2K');
    process.stdout.write(`  ${this.label}: ${summary}\n`);
  }

  note(text: string): void {
    if (interactive) process.stdout.write('\r\x1b[2K');
    process.stdout.write(`${text}\n`);
  }

  private draw(): void {
    const seconds = (performance.now() - this.startedMs) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const percent = this.total > 0 ? Math.min(100, (100 * this.done) / this.total).toFixed(0) : '?';
    process.stdout.write(`\r\x1b[2K  ${this.label}: ${formatCount(this.done)}/${formatCount(this.total)} (${percent}%) ${formatCount(rate)} msg/s ${seconds.toFixed(1)} s`);
  }
}
