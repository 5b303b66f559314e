/**
 * Bounds the batches that are durable in the journal but not yet written to their segment files.
 *
 * Under flush=always with the journal (journal.ts), a log's flush cycle only hands its batches to
 * the journal: that commit acknowledges them. The segment write follows later, many cycles' batches
 * in one positional writev (flush.ts, "write-behind"), so a broker with 1,000 partitions taking
 * writes makes one write per partition now and then instead of 1,000 writes per cycle. Until then
 * the batches live in memory (the log serves reads of them from there) and in the journal.
 *
 * A log writes its batches out by itself once it holds `logBytes` of them, and when it rolls,
 * flushes or closes. This budget adds the broker-wide bounds:
 *
 *   logs holding unwritten batches, oldest first:  [ p7: 40 KiB, 3 s ][ p2: 8 KiB ] … [ p5: 200 KiB ]
 *     - past `maxBytes` in all, the oldest are asked to write out until half the budget is left;
 *     - a log whose oldest unwritten batch is `maxAgeMs` old is asked to write out (so an idle
 *       partition's batches reach its files, and a crash replays little).
 */

/** A log as the budget sees it. */
export interface WriteBehindLog {
  /** Writes every unwritten batch to the segment files (a failure is the log's to report and retry). */
  writeOut(): Promise<void>;
}

interface Holding {
  readonly log: WriteBehindLog;
  bytes: number;
  sinceMs: number;
}

export interface WriteBehindOptions {
  /** Unwritten bytes one log gathers before it writes them out by itself. */
  readonly logBytes: number;
  /** Unwritten bytes of all logs together. */
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly nowMs?: () => number;
}

export class WriteBehindBudget {
  /**
   * Logs holding unwritten bytes that were not asked to write out, in the order they began to (a Map
   * keeps insertion order): the oldest are asked first, so asking walks only over the logs it asks.
   */
  private readonly waiting = new Map<WriteBehindLog, Holding>();
  /** Logs asked to write out and not reported since: not asked again meanwhile. */
  private readonly asked = new Map<WriteBehindLog, Holding>();
  private bytes = 0;
  /** Bytes of the waiting logs (askOldest's measure, kept as logs report: no walk over every log). */
  private unaskedBytes = 0;
  private readonly nowMs: () => number;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly options: WriteBehindOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  get byteCount(): number {
    return this.bytes;
  }

  get logBytes(): number {
    return this.options.logBytes;
  }

  /** `log` now holds `bytes` unwritten (0: it wrote everything out, or closed). */
  update(log: WriteBehindLog, bytes: number): void {
    const waiting = this.waiting.get(log);
    if (waiting !== undefined) {
      this.bytes += bytes - waiting.bytes;
      this.unaskedBytes += bytes - waiting.bytes;
      if (bytes === 0) this.waiting.delete(log);
      else waiting.bytes = bytes;
    } else {
      const asked = this.asked.get(log);
      if (asked !== undefined) {
        // The write-out it was asked for has run (its next cycle did it, then reported): what is
        // left came in since, and counts from now, at the end of the order.
        this.asked.delete(log);
        this.bytes -= asked.bytes;
      }
      if (bytes === 0) return;
      this.waiting.set(log, { log, bytes, sinceMs: this.nowMs() });
      this.bytes += bytes;
      this.unaskedBytes += bytes;
      this.startTimer();
    }
    if (this.bytes > this.options.maxBytes) this.askOldest();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Asks the logs holding bytes longest to write out, until what is left unasked is half the budget. */
  private askOldest(): void {
    for (const holding of this.waiting.values()) {
      if (this.unaskedBytes <= this.options.maxBytes / 2) return;
      this.ask(holding);
    }
  }

  private askAged(): void {
    const limitMs = this.nowMs() - this.options.maxAgeMs;
    for (const holding of this.waiting.values()) {
      if (holding.sinceMs > limitMs) break; // the rest began later
      this.ask(holding);
    }
    if (this.waiting.size === 0 && this.asked.size === 0) this.close();
  }

  private ask(holding: Holding): void {
    this.waiting.delete(holding.log); // deleting the entry being visited is safe in a Map's iteration
    this.asked.set(holding.log, holding);
    this.unaskedBytes -= holding.bytes;
    // The log reports the outcome through update(); a failure it keeps and retries itself.
    void holding.log.writeOut().catch(() => {});
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.askAged(), Math.max(1, Math.floor(this.options.maxAgeMs / 4)));
    this.timer.unref();
  }
}
