/**
 * The group log: where committed offsets and group metadata are made durable (log-records.ts has
 * the record format), on a log it is given (GroupLogStorage): on a single broker a PartitionLog of
 * its own, outside every topic, that nobody fetches from; in a cluster one partition of the
 * replicated internal topic `__consumer_offsets` (groups/offsets-topic.ts), where a write counts as
 * durable once every in-sync replica holds it.
 *
 *   ┌ deleted ┐┌──────────── kept ───────────────────────────────────────────────┐
 *   [ commits ][ commits … ][ snapshot: every live record ][ commits after it … ]
 *                           ▲ logStartOffset after cleanup (deleteRecordsBefore)
 *
 * Cleanup: once the log is larger than the threshold (and more than twice the last snapshot), the
 * live state, taken from what has been appended so far, is appended again as new batches in one
 * synchronous step (so no commit can fall between its batches), and once those are durable,
 * `deleteRecordsBefore(snapshot start)` drops the older segments. A crash at any point leaves a log
 * that replays to the same state: before the snapshot is durable the old records are all still
 * there; after it, everything the dropped records said is repeated in the snapshot.
 *
 * Cleanup needs `deleteRecordsBefore` on the storage. A replicated partition offers it on its
 * leader, in the leader's term only, when its segments are no larger than the group log's (else
 * dropping records would free nothing); the followers follow the leader's log start
 * (cluster/group-partitions.ts).
 */
import type { Logger } from '../logging/logger.js';
import { batchHeaderBytes, readBaseOffset, readLastOffset } from '../protocol/kafka/batch-header.js';
import { decodeRecordBatch, encodeRecordBatch, recordBatchTotalBytes } from '../protocol/kafka/records.js';
import type { RecordToEncode } from '../protocol/kafka/records.js';
import { MalformedInputError } from '../protocol/wire/errors.js';
import type { Clock, LogOptions } from '../storage/partition-log.js';
import { PartitionLog } from '../storage/partition-log.js';
import { asOffset, type Offset } from '../storage/offset.js';
import { decodeRecord, encodeKey, encodeValue } from './log-records.js';
import type { GroupLogRecord } from './log-records.js';

/** Records per batch when the snapshot is written; commits go as one batch per request. */
const snapshotRecordsPerBatch = 500;
const replayReadBytes = 4 * 1024 * 1024;

/**
 * The log a GroupLog writes to and replays. PartitionLog is one (a single broker's group log);
 * cluster/group-partitions.ts makes one of a replicated partition.
 */
export interface GroupLogStorage {
  readonly sizeBytes: number;
  readonly logStartOffset: Offset;
  readonly logEndOffset: Offset;
  /** Whole batches from the one holding `offset`, below `maxOffset`. */
  read(offset: Offset, maxBytes: number, maxOffset: Offset): Promise<{ readonly chunks: Buffer[] }>;
  /** Appends one batch; `durable` resolves once the write counts as made (fsync per the flush policy; in a cluster, on every in-sync replica). */
  append(batch: Buffer): { readonly baseOffset: Offset; readonly durable: Promise<void> };
  flush(): Promise<void>;
  /** Drops every record before `offset`; absent where the log cannot be cleaned up (a replicated partition with large segments). */
  deleteRecordsBefore?(offset: Offset): Promise<unknown>;
  /** Done with the log (a single broker's is closed; a replicated partition belongs to the broker and stays open). */
  close(): Promise<void>;
}

export interface AppendOutcome {
  /** Offset of the first record in the group log (orders writes to the same key). */
  readonly logOffset: Offset;
  /** Resolves once durable per the broker's flush policy; rejects if the write fails. */
  readonly durable: Promise<void>;
}

export class GroupLog {
  private compacting = false;
  private lastSnapshotBytes = 0;

  private constructor(
    private readonly log: GroupLogStorage,
    private readonly cleanupThresholdBytes: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** A single broker's group log: a PartitionLog of its own in `directory`. */
  static async open(directory: string, options: LogOptions, cleanupThresholdBytes: number, clock: Clock, logger: Logger): Promise<GroupLog> {
    const log = await PartitionLog.open(directory, options, clock, { logger });
    return new GroupLog(log, cleanupThresholdBytes, clock, logger);
  }

  /** A group log on a log it is given (a partition of the replicated offsets topic). */
  static on(storage: GroupLogStorage, cleanupThresholdBytes: number, clock: Clock, logger: Logger): GroupLog {
    return new GroupLog(storage, cleanupThresholdBytes, clock, logger);
  }

  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  get logStartOffset(): Offset {
    return this.log.logStartOffset;
  }

  get logEndOffset(): Offset {
    return this.log.logEndOffset;
  }

  /**
   * Calls `visit` with every record from the log start, in order. A batch or record that cannot be
   * decoded is logged and skipped (recovery already checked the CRCs, so this means a format we do
   * not know); replay goes on with the next.
   */
  async replay(visit: (record: GroupLogRecord, logOffset: Offset) => void): Promise<number> {
    let offset = this.log.logStartOffset;
    const end = this.log.logEndOffset;
    let count = 0;
    while (offset < end) {
      const { chunks } = await this.log.read(offset, replayReadBytes, end);
      if (chunks.length === 0) break;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let position = 0;
      let progressed = false;
      for (let total = recordBatchTotalBytes(bytes, position); total !== null; total = recordBatchTotalBytes(bytes, position)) {
        let batch;
        try {
          batch = decodeRecordBatch(bytes, position, { verifyCrc: false });
        } catch (error) {
          if (!(error instanceof MalformedInputError) || total < batchHeaderBytes) throw error;
          this.logger.warn('group log: skipping a batch that cannot be decoded', { offset: readBaseOffset(bytes, position), error: error.message });
          offset = asOffset(readLastOffset(bytes, position) + 1);
          position += total;
          progressed = true;
          continue;
        }
        position += total;
        progressed = true;
        for (const record of batch.records) {
          if (record.offset < this.log.logStartOffset) continue;
          let decoded;
          try {
            decoded = decodeRecord(record.key, record.value);
          } catch (error) {
            if (!(error instanceof MalformedInputError)) throw error;
            this.logger.warn('group log: skipping an unreadable record', { offset: record.offset, error: error.message });
            continue;
          }
          if (decoded.kind === 'unknown') {
            this.logger.warn('group log: skipping a record of an unknown key type', { offset: record.offset, keyType: decoded.keyType });
            continue;
          }
          visit(decoded, asOffset(record.offset));
          count++;
        }
        offset = asOffset(batch.lastOffset + 1);
      }
      if (!progressed) break;
    }
    return count;
  }

  /** Appends the records as one batch. Throws (LogFailedError, LogClosedError) when the log cannot take writes. */
  append(records: readonly GroupLogRecord[]): AppendOutcome {
    const batch = this.encode(records);
    const { baseOffset, durable } = this.log.append(batch);
    return { logOffset: baseOffset, durable };
  }

  private encode(records: readonly GroupLogRecord[]): Buffer {
    const encoded: RecordToEncode[] = records.map((record) => ({ key: encodeKey(record), value: encodeValue(record) }));
    return encodeRecordBatch({ records: encoded, baseTimestampMs: this.clock.nowMs() });
  }

  /** True when a cleanup is due (see the file comment). */
  get cleanupDue(): boolean {
    return this.log.deleteRecordsBefore !== undefined && !this.compacting && this.log.sizeBytes > this.cleanupThresholdBytes && this.log.sizeBytes > 2 * this.lastSnapshotBytes;
  }

  /**
   * Writes `liveRecords` (the whole live state, as of now) as new batches, waits until they are
   * durable and drops everything before them. One cleanup at a time.
   */
  async cleanUp(liveRecords: readonly GroupLogRecord[]): Promise<void> {
    if (this.compacting || this.log.deleteRecordsBefore === undefined) return;
    this.compacting = true;
    try {
      const snapshotStart = this.log.logEndOffset;
      const sizeBefore = this.log.sizeBytes;
      let snapshotBytes = 0;
      let lastDurable: Promise<void> = Promise.resolve();
      for (let start = 0; start < liveRecords.length; start += snapshotRecordsPerBatch) {
        const batch = this.encode(liveRecords.slice(start, start + snapshotRecordsPerBatch));
        snapshotBytes += batch.length;
        lastDurable = this.log.append(batch).durable;
      }
      await lastDurable;
      await this.log.flush();
      await this.log.deleteRecordsBefore?.(snapshotStart);
      this.lastSnapshotBytes = snapshotBytes;
      this.logger.info('group log cleaned up', { records: liveRecords.length, snapshotBytes, bytesBefore: sizeBefore, bytesAfter: this.log.sizeBytes });
    } finally {
      this.compacting = false;
    }
  }

  async flush(): Promise<void> {
    await this.log.flush();
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}
