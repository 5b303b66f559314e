/**
 * The disk alarm, after RabbitMQ's: the free space of the data directory's file system is measured
 * with one statfs call every diskCheckIntervalMs, and right after a write failed; while it is under
 * minFreeDiskBytes the alarm is raised and Produce is refused early (KAFKA_STORAGE_ERROR, which
 * clients retry), so that the writes that must still happen (offset commits, indexes, checkpoints,
 * producer state) have room and the disk never fills up under a steady producer.
 *
 *   free ≥ reserve ──(a check finds free < reserve)──► raised: WARN line, osprey_disk_alarm 1,
 *        ▲                                               produce refused
 *        └──────────(a check finds free ≥ reserve)──── INFO line, osprey_disk_alarm 0
 *
 * Nothing is measured per request: the produce path reads one boolean and adds the bytes it
 * appended to a running count. A producer can write faster than one check per interval can see, so
 * the last measurement minus the bytes appended since is an estimate of free space: once that falls
 * under the reserve the alarm is raised at once and a measurement is taken, which then confirms or
 * clears it. A reserve of 0 turns the alarm off (free space is still measured, for the gauge).
 */
import { statfs } from 'node:fs/promises';
import type { Logger } from '../logging/logger.js';

/** Free bytes of the file system holding `directory`, as an unprivileged writer sees them. */
export type FreeSpaceProbe = (directory: string) => Promise<number>;

export const statfsFreeBytes: FreeSpaceProbe = async (directory) => {
  const stats = await statfs(directory);
  return stats.bavail * stats.bsize;
};

export interface DiskAlarmSettings {
  readonly directory: string;
  readonly minFreeDiskBytes: number;
  readonly checkIntervalMs: number;
  /** Disk bytes one appended byte costs: 2 when the journal also writes it (storage/journal.ts), else 1. */
  readonly bytesWrittenPerAppendedByte?: number;
}

export class DiskAlarm {
  private alarmRaised = false;
  private lastFreeBytes: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private probeFailing = false;
  /** Bytes appended since the measurement in `lastFreeBytes` began. */
  private appendedSinceCheckBytes = 0;
  private readonly changeListeners: Array<(raised: boolean) => void> = [];

  constructor(
    private readonly settings: DiskAlarmSettings,
    private readonly logger: Logger,
    private readonly probe: FreeSpaceProbe = statfsFreeBytes,
  ) {}

  /** True while free space is under the reserve: produce is refused. */
  get raised(): boolean {
    return this.alarmRaised;
  }

  /** Calls back each time the alarm is raised or cleared (AMQP's connection.blocked / unblocked). */
  onChange(listener: (raised: boolean) => void): void {
    this.changeListeners.push(listener);
  }

  /** Free bytes at the last check; null before the first one succeeded. */
  get freeBytes(): number | null {
    return this.lastFreeBytes;
  }

  /** What a refused Produce is told. */
  get refusalMessage(): string {
    return `free disk space (${this.lastFreeBytes ?? 0} bytes) is below the broker's reserve of ${this.settings.minFreeDiskBytes} bytes (minFreeDiskBytes); retry once space is freed`;
  }

  /**
   * The produce path appended `bytes`: if the free space left by the last measurement is used up
   * down to the reserve, raise the alarm now rather than at the next interval, and measure.
   */
  noteAppended(bytes: number): void {
    this.appendedSinceCheckBytes += bytes * (this.settings.bytesWrittenPerAppendedByte ?? 1);
    if (this.alarmRaised || this.lastFreeBytes === null || this.settings.minFreeDiskBytes === 0) return;
    const estimatedFreeBytes = this.lastFreeBytes - this.appendedSinceCheckBytes;
    if (estimatedFreeBytes >= this.settings.minFreeDiskBytes) return;
    this.setRaised(true, estimatedFreeBytes, 'estimated');
    this.checkSoon();
  }

  /** Measures once, then every checkIntervalMs. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => this.checkSoon(), this.settings.checkIntervalMs);
    this.timer.unref();
  }

  /** Measures now unless a measurement is under way (after a failed write, say). */
  checkSoon(): void {
    void this.check();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One measurement at a time; callers during one share it. */
  check(): Promise<void> {
    this.checking ??= this.measure().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async measure(): Promise<void> {
    // Bytes appended before the probe are in what it sees; those appended while it runs are not.
    const appendedBeforeBytes = this.appendedSinceCheckBytes;
    let freeBytes: number;
    try {
      freeBytes = await this.probe(this.settings.directory);
    } catch (error) {
      // Keep the last state: a probe that fails once says nothing about the disk.
      if (!this.probeFailing) this.logger.warn('cannot measure free disk space', { directory: this.settings.directory, error: error instanceof Error ? error.message : String(error) });
      this.probeFailing = true;
      return;
    }
    this.probeFailing = false;
    this.lastFreeBytes = freeBytes;
    this.appendedSinceCheckBytes -= appendedBeforeBytes;
    this.setRaised(freeBytes < this.settings.minFreeDiskBytes, freeBytes, 'measured');
  }

  private setRaised(low: boolean, freeBytes: number, how: 'measured' | 'estimated'): void {
    if (low === this.alarmRaised) return;
    this.alarmRaised = low;
    const fields = { directory: this.settings.directory, freeBytes, how, minFreeDiskBytes: this.settings.minFreeDiskBytes };
    if (low) this.logger.warn('disk alarm raised: free space is below minFreeDiskBytes; produce is refused (KAFKA_STORAGE_ERROR) until space is freed', fields);
    else this.logger.info('disk alarm cleared: free space is back above minFreeDiskBytes; produce is accepted again', fields);
    for (const listener of this.changeListeners) listener(low);
  }
}
