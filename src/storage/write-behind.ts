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
  bytes: number;
  sinceMs: number;
  /** Asked to write out, and not reported since: not asked again meanwhile. */
  asked: boolean;
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
  /** Logs holding unwritten bytes, in the order they began to (a Map keeps insertion order). */
  private readonly holdings = new Map<WriteBehindLog, Holding>();
  private bytes = 0;
  /** Bytes of the logs not asked to write out (askOldest's measure, kept as logs report: no walk over every log). */
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
    const holding = this.holdings.get(log);
    if (holding === undefined) {
      if (bytes === 0) return;
      this.holdings.set(log, { bytes, sinceMs: this.nowMs(), asked: false });
      this.bytes += bytes;
      this.unaskedBytes += bytes;
      this.startTimer();
    } else if (bytes === 0) {
      this.bytes -= holding.bytes;
      if (!holding.asked) this.unaskedBytes -= holding.bytes;
      this.holdings.delete(log);
    } else {
      this.bytes += bytes - holding.bytes;
      if (holding.asked) this.unaskedBytes += bytes;
      else this.unaskedBytes += bytes - holding.bytes;
      holding.bytes = bytes;
      if (holding.asked) {
        // The write-out it was asked for has run (its next cycle did it, then reported): what is
        // left came in since, and counts from now, at the end of the order.
        holding.asked = false;
        holding.sinceMs = this.nowMs();
        this.holdings.delete(log);
        this.holdings.set(log, holding);
      }
    }
    if (this.bytes > this.options.maxBytes) this.askOldest();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Asks the logs holding bytes longest to write out, until what is left unasked is half the budget. */
  private askOldest(): void {
    if (this.unaskedBytes <= this.options.maxBytes / 2) return;
    for (const [log, holding] of this.holdings) {
      if (this.unaskedBytes <= this.options.maxBytes / 2) return;
      if (!holding.asked) this.ask(log, holding);
    }
  }

  private askAged(): void {
    const limitMs = this.nowMs() - this.options.maxAgeMs;
    for (const [log, holding] of this.holdings) {
      if (holding.sinceMs > limitMs) break; // the rest began later
      if (!holding.asked) this.ask(log, holding);
    }
    if (this.holdings.size === 0) this.close();
  }

  private ask(log: WriteBehindLog, holding: Holding): void {
    holding.asked = true;
    this.unaskedBytes -= holding.bytes;
    // The log reports the outcome through update(); a failure it keeps and retries itself.
    void log.writeOut().catch(() => {});
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.askAged(), Math.max(1, Math.floor(this.options.maxAgeMs / 4)));
    this.timer.unref();
  }
}
