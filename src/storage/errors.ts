/**
 * Errors the storage engine throws. The broker maps them to protocol answers:
 * OffsetOutOfRangeError → OFFSET_OUT_OF_RANGE, LogFailedError / LogClosedError → KAFKA_STORAGE_ERROR
 * (or NOT_LEADER_OR_FOLLOWER while a partition is being moved).
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

/** A write or fsync failed; the log accepts nothing more until it is reopened. */
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
