/**
 * Sparse offset index of one segment: `NNNNNNNNNNNNNNNNNNNN.index` beside the `.log`.
 *
 *   ┌────────────────────────┬────────────────────────┐
 *   │ relativeOffset  int32  │ filePosition    int32  │   entry 0      8 bytes per entry,
 *   ├────────────────────────┼────────────────────────┤                big-endian, no header
 *   │ relativeOffset  int32  │ filePosition    int32  │   entry 1
 *   └────────────────────────┴────────────────────────┘   …
 *
 * relativeOffset = baseOffset of a batch − the segment's base offset; filePosition = where that
 * batch starts in the `.log`. One entry roughly every `indexIntervalBytes` of log; both columns
 * strictly increase. The first batch (position 0) needs no entry: lookups fall back to it.
 *
 * The index lives in memory (a growable Int32Array of pairs) and is written to its file when the
 * segment is sealed, on flush and on close; anything after the recovery point is rebuilt from the log.
 * A sealed segment's index may be dropped from memory and read back from its file (segment-index-cache.ts).
 */
export const offsetIndexEntryBytes = 8;
/** Small: every partition's active segment has one, most of them hold few entries (it doubles as it fills). */
const initialEntryCapacity = 8;
/** What an index costs in memory besides its entries: the objects holding them. */
export const indexObjectBytes = 200;

export interface OffsetPosition {
  relativeOffset: number;
  position: number;
}

export class OffsetIndex {
  private pairs: Int32Array;
  private count = 0;
  /** Entries already in the file; persisting writes only the rest. */
  persistedCount = 0;

  constructor(capacity = initialEntryCapacity) {
    this.pairs = new Int32Array(Math.max(1, capacity) * 2);
  }

  get entryCount(): number {
    return this.count;
  }

  /** Bytes this index takes in memory, its object included (roughly). */
  get memoryBytes(): number {
    return this.pairs.byteLength + indexObjectBytes;
  }

  relativeOffsetAt(index: number): number {
    return this.pairs[index * 2]!;
  }

  positionAt(index: number): number {
    return this.pairs[index * 2 + 1]!;
  }

  get lastRelativeOffset(): number {
    return this.count === 0 ? -1 : this.relativeOffsetAt(this.count - 1);
  }

  get lastPosition(): number {
    return this.count === 0 ? -1 : this.positionAt(this.count - 1);
  }

  append(relativeOffset: number, position: number): void {
    if (this.count > 0 && (relativeOffset <= this.lastRelativeOffset || position <= this.lastPosition)) {
      throw new Error(`offset index entries must increase: (${relativeOffset}, ${position}) after (${this.lastRelativeOffset}, ${this.lastPosition})`);
    }
    if ((this.count + 1) * 2 > this.pairs.length) {
      const grown = new Int32Array(this.pairs.length * 2);
      grown.set(this.pairs);
      this.pairs = grown;
    }
    this.pairs[this.count * 2] = relativeOffset;
    this.pairs[this.count * 2 + 1] = position;
    this.count++;
  }

  /** Gives back the room grown for entries that never came (a sealed segment's index no longer grows). */
  trimToSize(): void {
    if (this.pairs.length > Math.max(1, this.count) * 2) this.pairs = this.pairs.slice(0, Math.max(1, this.count) * 2);
  }

  /** The greatest entry whose relative offset ≤ target; (0, 0) when there is none. */
  lookup(relativeTarget: number): OffsetPosition {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.relativeOffsetAt(middle) <= relativeTarget) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return { relativeOffset: 0, position: 0 };
    return { relativeOffset: this.relativeOffsetAt(found), position: this.positionAt(found) };
  }

  /** The first entry whose position is greater than `position`; null when there is none. */
  firstEntryAfter(position: number): OffsetPosition | null {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.positionAt(middle) > position) {
        found = middle;
        high = middle - 1;
      } else {
        low = middle + 1;
      }
    }
    return found < 0 ? null : { relativeOffset: this.relativeOffsetAt(found), position: this.positionAt(found) };
  }

  /** Drops entries at or beyond `position` (the log was truncated there). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.lastPosition >= position) this.count--;
    if (this.persistedCount > this.count) this.persistedCount = this.count;
  }

  /** Bytes of entries [from, count) in file format. */
  encode(fromEntry = 0): Buffer {
    const buffer = Buffer.allocUnsafe((this.count - fromEntry) * offsetIndexEntryBytes);
    for (let index = fromEntry; index < this.count; index++) {
      const at = (index - fromEntry) * offsetIndexEntryBytes;
      buffer.writeInt32BE(this.relativeOffsetAt(index), at);
      buffer.writeInt32BE(this.positionAt(index), at + 4);
    }
    return buffer;
  }

  /**
   * Parses a file's bytes; null when they cannot be a valid index for a log of `logSizeBytes`
   * (wrong length, entries not increasing, positions past the end), so the caller rebuilds it.
   */
  static decode(bytes: Buffer, logSizeBytes: number): OffsetIndex | null {
    if (bytes.length % offsetIndexEntryBytes !== 0) return null;
    const entryCount = bytes.length / offsetIndexEntryBytes;
    const index = new OffsetIndex(entryCount);
    for (let entry = 0; entry < entryCount; entry++) {
      const relativeOffset = bytes.readInt32BE(entry * offsetIndexEntryBytes);
      const position = bytes.readInt32BE(entry * offsetIndexEntryBytes + 4);
      if (relativeOffset < 0 || position < 0 || position >= logSizeBytes) return null;
      if (entry > 0 && (relativeOffset <= index.lastRelativeOffset || position <= index.lastPosition)) return null;
      index.append(relativeOffset, position);
    }
    index.persistedCount = entryCount;
    return index;
  }
}
