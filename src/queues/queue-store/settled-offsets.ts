import { strict as assert } from 'node:assert';
import { OffsetRanges } from './offset-ranges.js';

/**
 * The settled offsets of a queue's log (acknowledged, rejected, purged, dropped, or no message at
 * all: a state batch): every offset below `below`, and the ranges above it.
 *
 *   0 ……………………………… below ·· [ranges] ···· [ranges] ·· ▶
 *   all settled           first unsettled offset
 *
 * The first range is absorbed into `below` as soon as the gap before it closes, so `below` is always
 * the first unsettled offset (segments wholly below it can go).
 */
export class SettledOffsets {
  private belowOffset: number;

  constructor(
    below: number,
    /** Settled offsets above `below` (any at or below it are dropped). */
    readonly ranges: OffsetRanges,
  ) {
    this.belowOffset = below;
    ranges.removeBelow(below);
    this.absorbFirst();
  }

  /** Every offset below it is settled; it is not. */
  get below(): number {
    return this.belowOffset;
  }

  contains(offset: number): boolean {
    return offset < this.belowOffset || this.ranges.contains(offset);
  }

  /** `offset`, or the first offset after it that is not settled when it is. */
  skipFrom(offset: number): number {
    return this.ranges.skipFrom(Math.max(offset, this.belowOffset));
  }

  /** Adds [start, end); returns how many of its offsets were not settled before. */
  add(start: number, end: number): number {
    let added: number;
    if (start <= this.belowOffset) {
      if (end <= this.belowOffset) return 0;
      added = end - this.belowOffset - this.ranges.countIn(this.belowOffset, end);
      this.ranges.removeBelow(end);
      this.belowOffset = end;
    } else {
      added = this.ranges.add(start, end);
    }
    this.absorbFirst();
    return added;
  }

  /** The log lost every offset from `endOffset` on: nothing there is settled any more. */
  removeFrom(endOffset: number): void {
    this.ranges.removeFrom(endOffset);
    this.belowOffset = Math.min(this.belowOffset, endOffset);
  }

  invariants(logEndOffset: number): void {
    this.ranges.invariants();
    if (this.ranges.rangeCount > 0) {
      assert(this.ranges.firstStart > this.belowOffset, 'ranges start above settledBelow, not at it');
      assert(this.ranges.lastEnd <= logEndOffset, 'ranges end within the log');
    }
  }

  /** `below` takes in the first range when the gap before it has closed. */
  private absorbFirst(): void {
    if (this.ranges.firstStart === this.belowOffset) {
      this.belowOffset = this.ranges.firstEnd;
      this.ranges.removeFirst();
    }
  }
}
