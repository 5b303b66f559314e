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
