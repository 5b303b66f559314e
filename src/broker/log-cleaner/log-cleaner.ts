/**
 * The background log cleaner: every `backoffMs` (log.cleaner.backoff.ms) it looks at the
 * partitions of topics whose cleanup.policy includes compact and cleans those that need it
 * (clean-partition.ts), the filthiest first, one partition at a time, until none needs it; then it
 * sleeps again. Off when log.cleaner.enable is false. `stop()` ends the pass under way at its next
 * chunk (its files are discarded) and waits for it, so logs can be closed after it.
 */
import type { Logger } from '../../logging/logger.js';
import { cleanPartition, cleaningNeed, KeyMapTooSmallError, type CleanerLimits, type CleaningOutcome, type CompactableLog, type CompactionConfig } from './clean-partition.js';

/** One partition the cleaner may clean, as the broker lists them. */
export interface CleanablePartition {
  readonly topic: string;
  readonly index: number;
  readonly config: CompactionConfig;
  readonly log: CompactableLog;
  /** Last offsets of each remembered producer's latest batch. */
  producerLastOffsets(): ReadonlySet<number>;
  /** The partition is still served (not deleted, not closing). */
  isCurrent(): boolean;
}

export interface LogCleanerOptions {
  readonly backoffMs: number;
  readonly limits: CleanerLimits;
  readonly nowMs: () => number;
  /** Test hook (test-hooks.ts): awaited with a pass's cleaned files written, before its swap. */
  readonly beforeSwap?: (shouldStop: () => boolean) => Promise<void>;
  /** Told of every pass that swapped cleaned segments in (metrics). */
  readonly onPass?: (outcome: CleaningOutcome) => void;
}

export class LogCleaner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  /** Partitions told about a too small key map, so the warning is not repeated every pass. */
  private readonly warnedTooSmall = new Set<string>();
  /** Passes completed since start (observability, tests). */
  passes = 0;
  /** The partition being cleaned and the end of that pass. */
  private current: { partition: CleanablePartition; done: Promise<void> } | null = null;

  constructor(
    private readonly partitions: () => Iterable<CleanablePartition>,
    private readonly options: LogCleanerOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.cleanWhileNeeded().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, this.options.backoffMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * Waits for the pass over `partition`, if one is under way, to end (a partition being deleted:
   * `isCurrent()` already says no, so the pass stops at its next chunk and removes its files).
   */
  async released(partition: CleanablePartition | undefined): Promise<void> {
    const current = this.current;
    if (current !== null && current.partition === partition) await current.done;
  }

  /** Cleans the partition that needs it most, again and again, until none does. */
  private async cleanWhileNeeded(): Promise<void> {
    const tried = new Set<CleanablePartition>();
    while (!this.stopping) {
      const next = this.filthiest(tried);
      if (next === null) return;
      tried.add(next);
      const done = this.clean(next);
      this.current = { partition: next, done };
      await done;
      this.current = null;
    }
  }

  private filthiest(tried: ReadonlySet<CleanablePartition>): CleanablePartition | null {
    const nowMs = this.options.nowMs();
    let best: CleanablePartition | null = null;
    let bestRatio = -1;
    for (const partition of this.partitions()) {
      if (tried.has(partition) || !partition.isCurrent()) continue;
      const need = cleaningNeed(partition.log.compactionView(), partition.config, nowMs);
      if (need !== null && need.dirtyRatio > bestRatio) {
        best = partition;
        bestRatio = need.dirtyRatio;
      }
    }
    return best;
  }

  private async clean(partition: CleanablePartition): Promise<void> {
    const fields = { topic: partition.topic, partition: partition.index };
    const startedMs = this.options.nowMs();
    try {
      const outcome = await cleanPartition({
        log: partition.log,
        config: partition.config,
        limits: this.options.limits,
        nowMs: startedMs,
        producerLastOffsets: partition.producerLastOffsets(),
        shouldStop: () => this.stopping || !partition.isCurrent(),
        ...(this.options.beforeSwap === undefined ? {} : { beforeSwap: this.options.beforeSwap }),
      });
      if (outcome === null) return;
      this.passes++;
      this.options.onPass?.(outcome);
      this.logger.info('log cleaned', { ...fields, ...outcome, durationMs: this.options.nowMs() - startedMs });
    } catch (error) {
      if (error instanceof KeyMapTooSmallError) {
        const key = `${partition.topic}-${partition.index}`;
        if (!this.warnedTooSmall.has(key)) this.logger.warn('log not cleaned', { ...fields, reason: error.message });
        this.warnedTooSmall.add(key);
        return;
      }
      if (!partition.isCurrent() || this.stopping) return; // the log closed under the pass
      this.logger.error('log cleaning failed', { ...fields, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
