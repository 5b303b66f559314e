/**
 * Sparse time index of one segment: `NNNNNNNNNNNNNNNNNNNN.timeindex` beside the `.log`.
 *
 *   ┌──────────────────────────────┬────────────────────────┐
 *   │ timestamp             int64  │ relativeOffset  int32  │   entry 0     12 bytes per entry,
 *   ├──────────────────────────────┼────────────────────────┤               big-endian, no header
 *   │ timestamp             int64  │ relativeOffset  int32  │   entry 1
 *   └──────────────────────────────┴────────────────────────┘   …
 *
 * Each entry says: "the largest batch maxTimestamp in this segment up to some point is `timestamp`,
 * and the batch holding it starts at segment base + `relativeOffset`". Timestamps strictly
 * increase, so every batch before that batch has maxTimestamp < `timestamp`. Entries are added at
 * offset-index points when the running maximum grew, and once more when the segment is sealed or
 * flushed, so the last entry of a sealed segment is its maximum timestamp.
 *
 * Lookup for T: the last entry with timestamp < T names a batch before which nothing can match;
 * scanning batch headers forward from there finds the first batch with maxTimestamp ≥ T.
 */
export const timeIndexEntryBytes = 12;
/** What an index costs in memory besides its entries: the objects holding them. */
const indexObjectBytes = 250;
/** Small: every partition's active segment has one (it doubles as it fills). */
const initialEntryCapacity = 4;

export interface TimestampOffset {
  timestamp: number;
  relativeOffset: number;
}

export class TimeIndex {
  private timestamps: Float64Array;
  private relativeOffsets: Int32Array;
  private count = 0;
  persistedCount = 0;

  constructor(capacity = initialEntryCapacity) {
    this.timestamps = new Float64Array(Math.max(1, capacity));
    this.relativeOffsets = new Int32Array(Math.max(1, capacity));
  }

  get entryCount(): number {
    return this.count;
  }

  /** Bytes this index takes in memory, its objects included (roughly). */
  get memoryBytes(): number {
    return this.timestamps.byteLength + this.relativeOffsets.byteLength + indexObjectBytes;
  }

  entryAt(index: number): TimestampOffset {
    return { timestamp: this.timestamps[index]!, relativeOffset: this.relativeOffsets[index]! };
  }

  get lastEntry(): TimestampOffset | null {
    if (this.count === 0) return null;
    return { timestamp: this.timestamps[this.count - 1]!, relativeOffset: this.relativeOffsets[this.count - 1]! };
  }

  /** Adds an entry if `timestamp` is greater than the last one; returns whether it did. */
  maybeAppend(timestamp: number, relativeOffset: number): boolean {
    if (this.count > 0 && timestamp <= this.timestamps[this.count - 1]!) return false;
    if (this.count === this.timestamps.length) {
      const timestamps = new Float64Array(this.count * 2);
      timestamps.set(this.timestamps);
      this.timestamps = timestamps;
      const offsets = new Int32Array(this.count * 2);
      offsets.set(this.relativeOffsets);
      this.relativeOffsets = offsets;
    }
    this.timestamps[this.count] = timestamp;
    this.relativeOffsets[this.count] = relativeOffset;
    this.count++;
    return true;
  }

  /** Gives back the room grown for entries that never came (a sealed segment's index no longer grows). */
  trimToSize(): void {
    const capacity = Math.max(1, this.count);
    if (this.timestamps.length <= capacity) return;
    this.timestamps = this.timestamps.slice(0, capacity);
    this.relativeOffsets = this.relativeOffsets.slice(0, capacity);
  }

  /** Relative offset from which a forward scan for the first batch with maxTimestamp ≥ target may start. */
  scanStartFor(targetTimestamp: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.timestamps[middle]! < targetTimestamp) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? 0 : this.relativeOffsets[found]!;
  }

  /** Drops entries naming batches at or after `relativeOffset` (the log was truncated there). */
  truncateToRelativeOffset(relativeOffset: number): void {
    while (this.count > 0 && this.relativeOffsets[this.count - 1]! >= relativeOffset) this.count--;
    if (this.persistedCount > this.count) this.persistedCount = this.count;
  }

  encode(fromEntry = 0): Buffer {
    const buffer = Buffer.allocUnsafe((this.count - fromEntry) * timeIndexEntryBytes);
    for (let index = fromEntry; index < this.count; index++) {
      const at = (index - fromEntry) * timeIndexEntryBytes;
      buffer.writeBigInt64BE(BigInt(this.timestamps[index]!), at);
      buffer.writeInt32BE(this.relativeOffsets[index]!, at + 8);
    }
    return buffer;
  }

  /** Parses a file's bytes; null when they are not a valid index for offsets below `relativeOffsetLimit`. */
  static decode(bytes: Buffer, relativeOffsetLimit: number): TimeIndex | null {
    if (bytes.length % timeIndexEntryBytes !== 0) return null;
    const entryCount = bytes.length / timeIndexEntryBytes;
    const index = new TimeIndex(entryCount);
    let previousOffset = -1;
    for (let entry = 0; entry < entryCount; entry++) {
      const timestamp = Number(bytes.readBigInt64BE(entry * timeIndexEntryBytes));
      const relativeOffset = bytes.readInt32BE(entry * timeIndexEntryBytes + 8);
      if (relativeOffset < previousOffset || relativeOffset < 0 || relativeOffset >= relativeOffsetLimit) return null;
      if (!index.maybeAppend(timestamp, relativeOffset)) return null;
      previousOffset = relativeOffset;
    }
    index.persistedCount = entryCount;
    return index;
  }
}
