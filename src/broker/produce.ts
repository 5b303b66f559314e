/**
 * The produce path for one partition: check the batch the way Kafka does, without decoding its
 * records, then append it and wait for durability as acks require.
 *
 * Checks, in Kafka's order: exactly one v2 batch; zstd only from Produce v7; size within
 * max.message.bytes; CRC-32C; record count consistent with lastOffsetDelta; no control batches
 * from clients; sequence numbers present for producer ids; under CreateTime, timestamps within
 * message.timestamp.before/after.max.ms (timestamp-bounds.ts). Under LogAppendTime the batch is
 * stamped with the broker's clock (maxTimestamp and the timestamp-type bit, then a new CRC).
 * Idempotent producers' sequences and epochs are checked last, in appendBatch. A topic with a
 * compression.type gets batches of another codec recompressed first (recompress.ts), in arrival
 * order per partition (produceInOrder). A compacted topic (cleanup.policy with compact) is the
 * only case where records are walked: a batch with a record without a key is refused whole,
 * INVALID_RECORD with one record error per keyless record (KIP-467), since the log cleaner keeps
 * records by key (compacted-topic-keys.ts).
 *
 * Every other batch is appended synchronously, in the term of leadership the handler saw. A batch
 * that goes through the queue of produceInOrder is appended after awaits: it is appended only if
 * this broker still leads the partition in the leader epoch it was accepted in, else answered
 * NOT_LEADER_OR_FOLLOWER with nothing appended (leadershipMoved).
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import {
  batchHeaderBytes,
  batchOverheadBytes,
  compressionCodecMask,
  controlBit,
  hasValidCrc,
  readAttributes,
  readBaseSequence,
  readBatchLength,
  readLastOffsetDelta,
  readMagic,
  readProducerId,
  readRecordsCount,
  recordsAt,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  transactionalBit,
} from '../protocol/kafka/batch-header.js';
import { LogClosedError, LogFailedError, LogWriteError } from '../storage/errors.js';
import type { AppendResult } from '../storage/partition-log.js';
import type { Broker, Partition } from './broker.js';
import { asOffset, type Offset } from './offset.js';
import type { BatchMetadata } from './idempotence/producer-state.js';
import { recompressBatch } from './recompress.js';
import { timestampBoundsProblem } from './timestamp-bounds.js';
import { DecompressionError, decompressRecords } from '../protocol/kafka/compression.js';
import { keylessRecordsRefusal } from './compacted-topic-keys.js';
import { waitWhileDeferredAppendIsHeld } from './test-hooks.js';

export interface PartitionProduceResult {
  errorCode: number;
  errorMessage: string | null;
  /** Null (answered -1) when refused. */
  baseOffset: Offset | null;
  logAppendTimeMs: bigint;
  logStartOffset: Offset | null;
  /** Per-record reasons for refusing the batch (Produce v8+ recordErrors); absent when none. */
  recordErrors?: RecordError[];
}

export interface RecordError {
  /** The record's index in its batch. */
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

const zstdCodec = 4;
/** Produce v7 is the first that may carry zstd batches. */
const firstZstdProduceVersion = 7;

function rejected(errorCode: number, errorMessage: string): PartitionProduceResult {
  return { errorCode, errorMessage, baseOffset: null, logAppendTimeMs: -1n, logStartOffset: null };
}

/** Returns an error result when the batch must be refused, or null when it may be appended. */
export function checkBatch(records: Buffer | null, partition: Partition, produceVersion: number): PartitionProduceResult | null {
  if (records === null || records.length < batchHeaderBytes) {
    return rejected(ErrorCode.corruptMessage, `record set of ${records?.length ?? 0} bytes is shorter than a batch header`);
  }
  const totalBytes = readBatchLength(records, 0) + batchOverheadBytes;
  if (totalBytes !== records.length) {
    return rejected(ErrorCode.invalidRecord, `expected exactly one record batch of ${totalBytes} bytes, got ${records.length} bytes`);
  }
  if (readMagic(records, 0) !== 2) return rejected(ErrorCode.invalidRecord, `record batch magic ${readMagic(records, 0)} is not allowed; Produce v3+ carries magic 2 batches`);
  const attributes = readAttributes(records, 0);
  const codec = attributes & compressionCodecMask;
  if (codec > zstdCodec) return rejected(ErrorCode.corruptMessage, `unknown compression codec ${codec}`);
  if (codec === zstdCodec && produceVersion < firstZstdProduceVersion) {
    return rejected(ErrorCode.unsupportedCompressionType, `zstd needs Produce v${firstZstdProduceVersion} or later, got v${produceVersion}`);
  }
  const maxMessageBytes = partition.topic.effective.maxMessageBytes;
  if (records.length > maxMessageBytes) {
    return rejected(ErrorCode.messageTooLarge, `batch of ${records.length} bytes exceeds max.message.bytes ${maxMessageBytes}`);
  }
  if (!hasValidCrc(records, 0, records.length)) return rejected(ErrorCode.corruptMessage, 'record batch CRC-32C does not match');
  const count = readRecordsCount(records, 0);
  if (count <= 0 || readLastOffsetDelta(records, 0) + 1 !== count) {
    return rejected(ErrorCode.invalidRecord, `record count ${count} does not match lastOffsetDelta ${readLastOffsetDelta(records, 0)}`);
  }
  if ((attributes & controlBit) !== 0) return rejected(ErrorCode.invalidRecord, 'clients may not produce control batches');
  if ((attributes & transactionalBit) !== 0) return rejected(ErrorCode.invalidTxnState, 'transactions are not supported yet');
  if (readProducerId(records, 0) >= 0n && readBaseSequence(records, 0) < 0) {
    return rejected(ErrorCode.invalidRecord, 'a batch with a producer id must carry a base sequence');
  }
  const timestampProblem = timestampBoundsProblem(records, partition.topic.effective, Date.now());
  if (timestampProblem !== null) return rejected(ErrorCode.invalidTimestamp, timestampProblem);
  return null;
}

/** Per partition, the last of the appends queued behind a conversion; absent when none is pending. */
const queuedAppends = new WeakMap<Partition, Promise<void>>();

/**
 * Appends a checked batch (appendBatch), converted first to the topic's compression.type when its
 * codec differs. A partition with a conversion pending takes every batch through the same queue,
 * so batches are stored in the order they arrived; otherwise nothing waits before the append.
 */
export function produceInOrder(broker: Broker, partition: Partition, records: Buffer, acks: number): Promise<PartitionProduceResult> {
  const targetCodec = partition.topic.effective.compressionCodec;
  const codec = readAttributes(records, 0) & compressionCodecMask;
  const converting = targetCodec !== null && codec !== targetCodec;
  const compacted = partition.topic.effective.cleanupPolicy.compact;
  const maxDecompressedBytes = broker.config.limits.maxDecompressedBytes;
  // Uncompressed records are checked for keys here, synchronously; compressed ones in the queue below.
  const keyRefusal = compacted && codec === 0 ? keylessRecordsRefusal(records, records, recordsAt, records.length, partition.topic.name, partition.index) : null;
  if (keyRefusal !== null) return Promise.resolve(keyRefusal);
  const inflating = compacted && codec !== 0;
  const queued = queuedAppends.get(partition);
  if (!converting && !inflating && queued === undefined) return appendBatch(broker, partition, records, acks);
  // The epoch the batch was accepted in (the handler checked this broker leads): a deferred append
  // happens only in that same term of leadership (leadershipMoved below).
  const acceptedLeaderEpoch = partition.leaderEpoch;
  let answer: Promise<PartitionProduceResult> = Promise.resolve(rejected(ErrorCode.unknownServerError, 'not appended'));
  const step = (queued ?? Promise.resolve()).then(async () => {
    let batch = records;
    // A compressed batch is inflated once, for the key check of a compacted topic and for a conversion.
    let inflated: Buffer | undefined;
    if (inflating) {
      try {
        inflated = await decompressRecords(codec, records.subarray(recordsAt), maxDecompressedBytes);
      } catch (error) {
        if (!(error instanceof DecompressionError)) throw error;
        answer = Promise.resolve(rejected(ErrorCode.corruptMessage, `the batch could not be decompressed to check its keys: ${error.message}`));
        return;
      }
      const refusal = keylessRecordsRefusal(records, inflated, 0, inflated.length, partition.topic.name, partition.index);
      if (refusal !== null) {
        answer = Promise.resolve(refusal);
        return;
      }
    }
    if (converting) {
      try {
        batch = await recompressBatch(records, targetCodec, maxDecompressedBytes, inflated);
      } catch (error) {
        if (!(error instanceof DecompressionError)) throw error;
        answer = Promise.resolve(rejected(ErrorCode.corruptMessage, `the batch could not be recompressed for the topic's compression.type: ${error.message}`));
        return;
      }
      const maxMessageBytes = partition.topic.effective.maxMessageBytes;
      if (batch.length > maxMessageBytes) {
        answer = Promise.resolve(rejected(ErrorCode.messageTooLarge, `batch of ${batch.length} bytes after recompression exceeds max.message.bytes ${maxMessageBytes}`));
        return;
      }
    }
    await waitWhileDeferredAppendIsHeld(broker.logger, partition.topic.name, partition.index);
    // Leadership may have moved while the batch waited: nothing goes into a deposed leader's log.
    const moved = leadershipMoved(partition, acceptedLeaderEpoch);
    if (moved !== null) {
      answer = Promise.resolve(moved);
      return;
    }
    // The append itself happens synchronously inside appendBatch (no await since the check above),
    // stamped with the accepted epoch; only its durability is awaited later.
    answer = appendBatch(broker, partition, batch, acks);
  });
  // The queue goes on whatever this step did; the caller sees its failure.
  const settled = step.then(
    () => undefined,
    () => undefined,
  );
  queuedAppends.set(partition, settled);
  void settled.then(() => {
    if (queuedAppends.get(partition) === settled) queuedAppends.delete(partition);
  });
  return step.then(() => answer);
}

/**
 * NOT_LEADER_OR_FOLLOWER for a batch appended after an await (produceInOrder's queue) when this
 * broker no longer leads the partition in the epoch the batch was accepted in: etcd named another
 * leader meanwhile (or this broker again, in a later epoch, after another broker's term), so
 * appending would put a record the new leader never sees into this log, perhaps acknowledged.
 * Null when the term is the same one.
 */
function leadershipMoved(partition: Partition, acceptedLeaderEpoch: number): PartitionProduceResult | null {
  if (partition.ledHere && partition.leaderEpoch === acceptedLeaderEpoch) return null;
  return rejected(ErrorCode.notLeaderOrFollower, `leadership of the partition moved (it was accepted in leader epoch ${acceptedLeaderEpoch}) before the batch could be appended: nothing was appended; retry`);
}

/**
 * Appends a checked batch. With acks 0 nothing waits; otherwise the result is returned once the
 * batch is durable under the broker's flush policy.
 *
 * A batch with a producer id first goes through the partition's producer state (idempotence/producer-state.ts):
 * a retried duplicate is answered with its original offsets and not written again, a sequence gap
 * or a stale epoch is refused. The check, the append and the state update run synchronously, with
 * no await in between, so that no other request on this partition can come between them.
 *
 * Storage trouble is answered KAFKA_STORAGE_ERROR (retriable) for this partition, never by closing
 * the connection: while free disk space is under minFreeDiskBytes (disk-alarm.ts) nothing is
 * appended; a log that is closed (shutdown) or failed refuses the append; a write or fsync that
 * fails rejects `durable`, and the log has already cut the batch away (storage/flush.ts), so it is
 * never acknowledged and its offsets are handed out again. The log reports the failure itself, once.
 */
export async function appendBatch(broker: Broker, partition: Partition, records: Buffer, acks: number): Promise<PartitionProduceResult> {
  if (broker.diskAlarm.raised) return rejected(ErrorCode.kafkaStorageError, broker.diskAlarm.refusalMessage);
  const handle = partition.handle;
  const verdict = handle.producers.check(records);
  if (verdict.kind === 'refuse') return rejected(verdict.errorCode, verdict.errorMessage);
  if (verdict.kind === 'duplicate') return answerDuplicate(broker, partition, verdict.batch, acks);
  let logAppendTimeMs = -1n;
  if (partition.topic.effective.messageTimestampType === 'LogAppendTime') {
    const nowMs = Date.now();
    setLogAppendTime(records, 0, nowMs);
    logAppendTimeMs = BigInt(nowMs);
  }
  // The epoch this broker leads in (0 for a single broker; etcd's in a cluster): before magic and the CRC, so outside what it covers.
  setPartitionLeaderEpoch(records, 0, partition.leaderEpoch);
  let appended: AppendResult;
  try {
    appended = handle.append(records);
  } catch (error) {
    if (!isStorageError(error)) throw error;
    return storageFailure(broker, partition, error);
  }
  handle.producers.recordAppend(records, appended);
  broker.diskAlarm.noteAppended(records.length);
  const durable = appended.durable.then(() => broker.notifyData(partition));
  if (acks !== 0) {
    try {
      await durable;
    } catch (error) {
      return storageFailure(broker, partition, error);
    }
  } else durable.catch((error: unknown) => void storageFailure(broker, partition, error));
  return {
    errorCode: ErrorCode.none,
    errorMessage: null,
    baseOffset: appended.baseOffset,
    logAppendTimeMs,
    logStartOffset: partition.handle.logStartOffset,
  };
}

function isStorageError(error: unknown): error is LogWriteError | LogFailedError | LogClosedError {
  return error instanceof LogWriteError || error instanceof LogFailedError || error instanceof LogClosedError;
}

/** KAFKA_STORAGE_ERROR for one partition; logged at debug only, since the log reported the cause. */
function storageFailure(broker: Broker, partition: Partition, error: unknown): PartitionProduceResult {
  const message = error instanceof Error ? error.message : String(error);
  broker.logger.debug('append not written', { topic: partition.topic.name, partition: partition.index, error: message });
  return rejected(ErrorCode.kafkaStorageError, clientMessage(error));
}

/** What the client is told: the cause's error code, never the broker's paths. */
function clientMessage(error: unknown): string {
  if (error instanceof LogClosedError) return 'the partition is closing; retry';
  const cause = error instanceof LogWriteError || error instanceof LogFailedError ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? 'a storage error' : code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : code;
  if (error instanceof LogFailedError) return `the partition's log failed (${reason}) and refuses writes until the broker restarts`;
  return `the batch was not written to disk: ${reason}; nothing of it was kept, retry`;
}

/**
 * A retry of a batch already in the log (Kafka's DUPLICATE_SEQUENCE handling since 1.0): success
 * with the original base offset, once the original is durable; logAppendTime -1 as Kafka answers.
 */
async function answerDuplicate(broker: Broker, partition: Partition, batch: BatchMetadata, acks: number): Promise<PartitionProduceResult> {
  broker.logger.debug('duplicate batch not written again', { topic: partition.topic.name, partition: partition.index, baseOffset: batch.firstOffset });
  if (acks !== 0) {
    try {
      await partition.handle.producers.waitUntilDurable(batch);
    } catch {
      return rejected(ErrorCode.kafkaStorageError, 'the original of this retried batch could not be written to disk');
    }
  }
  return {
    errorCode: ErrorCode.none,
    errorMessage: null,
    baseOffset: asOffset(batch.firstOffset),
    logAppendTimeMs: -1n,
    logStartOffset: partition.handle.logStartOffset,
  };
}
