/**
 * Errors the storage engine throws. The broker maps them to protocol answers:
 * OffsetOutOfRangeError → OFFSET_OUT_OF_RANGE, LogWriteError / LogFailedError / LogClosedError →
 * KAFKA_STORAGE_ERROR (or NOT_LEADER_OR_FOLLOWER while a partition is being moved).
 */

export class OffsetOutOfRangeError extends Error {
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(`offset ${offset} is outside the log [${logStartOffset}, ${logEndOffset}]`);
    this.name = 'OffsetOutOfRangeError';
  }
}

/**
 * This append was not made durable: a write or fsync of its flush cycle failed (ENOSPC, EIO). The
 * log was rolled back to its last acknowledged end, so its offsets will be handed out again; it
 * takes new appends at once (they succeed once the cause, e.g. a full disk, is gone).
 */
export class LogWriteError extends Error {
  constructor(
    readonly directory: string,
    override readonly cause: Error,
  ) {
    super(`write to log ${directory} failed: ${cause.message}`);
    this.name = 'LogWriteError';
  }
}

/** A write failed and the log could not be rolled back either; it accepts nothing more until it is reopened. */
export class LogFailedError extends Error {
  constructor(
    readonly directory: string,
    override readonly cause: Error,
  ) {
    super(`log ${directory} failed: ${cause.message}`);
    this.name = 'LogFailedError';
  }
}

export class LogClosedError extends Error {
  constructor(readonly directory: string) {
    super(`log ${directory} is closed`);
    this.name = 'LogClosedError';
  }
}

/** A sealed segment the log cleaner was working on is no longer in the log (retention or DeleteRecords removed it, or a swap replaced it). */
export class SegmentGoneError extends Error {
  constructor(readonly baseOffset: number) {
    super(`segment ${baseOffset} is no longer in the log`);
    this.name = 'SegmentGoneError';
  }
}

/**
 * Stored bytes that fail validation (CRC-32C, header fields, offsets) where the log holds data that
 * was acknowledged. Never truncated away: the range is kept on disk, reads of it get this error
 * (CORRUPT_MESSAGE), and the rest of the partition is served.
 */
export class CorruptBatchError extends Error {
  constructor(readonly damage: DamagedRange) {
    super(`corrupt data in ${damage.file} at position ${damage.position}, offsets ${damage.firstOffset}..${damage.lastOffset}: ${damage.problem}`);
    this.name = 'CorruptBatchError';
  }
}

/** A stretch of a segment file that holds no servable batch (see damage.ts). */
export interface DamagedRange {
  /** The segment's .log file. */
  readonly file: string;
  /** Byte range [position, endPosition) in that file. */
  readonly position: number;
  readonly endPosition: number;
  /** Offsets the range stood for, inclusive. */
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** What was wrong with the first bytes of the range. */
  readonly problem: string;
}
