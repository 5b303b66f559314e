/**
 * Idempotent producers, per partition: what the broker remembers of each producer id so that a
 * retried batch is recognised and not written twice, a gap is refused and a stale epoch is fenced.
 *
 * For each producer id we keep its epoch, the broker time of its last append (for expiry), and the
 * sequence and offset ranges of its last five batches, oldest first:
 *
 *   producer 4711, epoch 3 ── [seq 0-9 → offsets 100-109] [seq 10-14 → 130-134] … (≤ 5 batches)
 *
 * Five because a Kafka producer has at most five requests in flight per partition: a retry is
 * always one of them. The checks (Kafka 2.5+ broker behaviour, ProducerAppendInfo.checkSequence and
 * UnifiedLog's duplicate lookup), in order, for a batch with a producer id:
 *
 *   1. Same epoch and exactly the first and last sequence of a cached batch: a duplicate. Answered
 *      with that batch's offsets; nothing is written.
 *   2. Epoch below the known one: INVALID_PRODUCER_EPOCH (47; Kafka answers Produce with it at every
 *      version since 2.7: it lets the client abort and retry, where PRODUCER_FENCED is fatal).
 *   3. Epoch above the known one: the first batch of a new epoch, which must start at sequence 0,
 *      else OUT_OF_ORDER_SEQUENCE_NUMBER (45).
 *   4. Same epoch: the first sequence must follow the last one (with wrap-around after 2^31 − 1),
 *      else OUT_OF_ORDER_SEQUENCE_NUMBER.
 *   5. A producer id we do not know (new, expired, evicted or its records deleted by retention) is
 *      accepted at any sequence, as Kafka does since KIP-360 (2.5); the broker no longer answers
 *      UNKNOWN_PRODUCER_ID to Produce, and librdkafka and KafkaJS need nothing else.
 *
 * No record is decoded: everything comes from the v2 batch header (producerId @43, producerEpoch
 * @51, baseSequence @53, lastOffsetDelta @23). Memory is bounded by `maxProducerIds` per partition:
 * a new producer beyond it evicts the producer that appended least recently. The table is kept in
 * recency order (a Map re-inserted on each append), so that is always the first entry.
 *
 * This module is pure state: no clock (callers pass the time), no files. Persistence (snapshot file
 * and log replay) is in idempotence/partition-producers.ts; the snapshot codec is below.
 */
import { strict as assert } from 'node:assert';
import { crc32c } from '@node-rs/crc32';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';
import { producerIdAt, readBaseSequence, readLastOffsetDelta, readProducerEpoch, readProducerId } from '../../protocol/kafka/batch-header.js';

/** Batches remembered per producer id and partition (Kafka's NUM_BATCHES_TO_RETAIN). */
export const batchesRetainedPerProducer = 5;
/** Sequence numbers are int32 and wrap to 0 after this. */
export const maxSequence = 0x7fffffff;

/** The idempotence fields of one batch header. */
export interface ProducerBatch {
  readonly producerId: bigint;
  readonly epoch: number;
  readonly firstSequence: number;
  readonly lastSequence: number;
}

/** Where one of a producer's batches landed. */
export interface BatchMetadata {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

export interface ProducerEntry {
  readonly producerId: bigint;
  epoch: number;
  /** Broker time of the last append (or the batch time, for batches replayed from the log). */
  lastTimestampMs: number;
  /** At most batchesRetainedPerProducer, oldest first, all of `epoch`. */
  readonly batches: BatchMetadata[];
}

export type SequenceVerdict =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly batch: BatchMetadata }
  | { readonly kind: 'refuse'; readonly errorCode: number; readonly errorMessage: string };

const appendVerdict: SequenceVerdict = { kind: 'append' };

export interface ProducerStateLimits {
  /** Producer ids tracked per partition; beyond it the least recently active is forgotten. */
  readonly maxProducerIds: number;
  /** A producer with no append for this long is forgotten at the next expire(). */
  readonly expirationMs: number;
}

/** Last sequence of a batch: baseSequence + lastOffsetDelta, wrapping after 2^31 − 1 as Kafka's DefaultRecordBatch does. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return (baseSequence + lastOffsetDelta) % (maxSequence + 1);
}

/** True when `next` directly follows `last` (2^31 − 1 is followed by 0). */
export function followsInSequence(last: number, next: number): boolean {
  return next === (last === maxSequence ? 0 : last + 1);
}

/** The producer fields of the batch at `at`, or null when it has no producer id (nothing to check). */
export function producerBatchOf(buffer: Buffer, at = 0): ProducerBatch | null {
  // The sign is in the high word: no BigInt is made for the common batch without a producer id.
  if (buffer.readInt32BE(at + producerIdAt) < 0) return null;
  const producerId = readProducerId(buffer, at);
  const firstSequence = readBaseSequence(buffer, at);
  return {
    producerId,
    epoch: readProducerEpoch(buffer, at),
    firstSequence,
    lastSequence: lastSequenceOf(firstSequence, readLastOffsetDelta(buffer, at)),
  };
}

export class ProducerStateTable {
  /** In recency order: the first entry appended least recently. */
  private readonly producers = new Map<bigint, ProducerEntry>();
  private limits: ProducerStateLimits;
  /** Bumped on every change, so a snapshot writer can tell whether anything is new. */
  changeCount = 0;
  /** Producers forgotten because the table was full (observability). */
  evictedCount = 0;

  constructor(limits: ProducerStateLimits) {
    assert(limits.maxProducerIds >= 1, 'maxProducerIds ≥ 1');
    this.limits = limits;
  }

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: bigint): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  /** Every entry, least recently active first (the order snapshots keep). */
  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }

  updateLimits(limits: ProducerStateLimits): void {
    assert(limits.maxProducerIds >= 1, 'maxProducerIds ≥ 1');
    this.limits = limits;
    this.evictBeyond(limits.maxProducerIds);
  }

  /** What to do with a client's batch (rules 1-5 above). Pure: nothing changes until recordAppend. */
  check(batch: ProducerBatch): SequenceVerdict {
    const entry = this.producers.get(batch.producerId);
    if (entry === undefined) return appendVerdict;
    if (batch.epoch === entry.epoch) {
      for (const cached of entry.batches) {
        if (cached.firstSequence === batch.firstSequence && cached.lastSequence === batch.lastSequence) return { kind: 'duplicate', batch: cached };
      }
    }
    if (batch.epoch < entry.epoch) {
      return refuse(
        ErrorCode.invalidProducerEpoch,
        `producer ${batch.producerId} epoch ${batch.epoch} is older than the epoch ${entry.epoch} this partition has seen`,
      );
    }
    if (batch.epoch > entry.epoch) {
      if (batch.firstSequence === 0) return appendVerdict;
      return refuse(
        ErrorCode.outOfOrderSequenceNumber,
        `producer ${batch.producerId} starts epoch ${batch.epoch} at sequence ${batch.firstSequence}; a new epoch starts at 0`,
      );
    }
    const last = entry.batches[entry.batches.length - 1];
    const expected = last === undefined ? 0 : last.lastSequence === maxSequence ? 0 : last.lastSequence + 1;
    if (batch.firstSequence === expected) return appendVerdict;
    return refuse(
      ErrorCode.outOfOrderSequenceNumber,
      `producer ${batch.producerId} epoch ${batch.epoch}: sequence ${batch.firstSequence} received, ${expected} expected`,
    );
  }

  /** Remembers a batch just appended at [firstOffset, lastOffset]; `timestampMs` is the broker's clock. */
  recordAppend(batch: ProducerBatch, firstOffset: number, lastOffset: number, timestampMs: number): void {
    let entry = this.producers.get(batch.producerId);
    if (entry === undefined) {
      this.evictBeyond(this.limits.maxProducerIds - 1);
      entry = { producerId: batch.producerId, epoch: batch.epoch, lastTimestampMs: timestampMs, batches: [] };
    } else {
      this.producers.delete(batch.producerId); // re-inserted below: most recent last
    }
    if (entry.epoch !== batch.epoch) {
      entry.epoch = batch.epoch;
      entry.batches.length = 0;
    }
    entry.batches.push({ firstSequence: batch.firstSequence, lastSequence: batch.lastSequence, firstOffset, lastOffset });
    if (entry.batches.length > batchesRetainedPerProducer) entry.batches.shift();
    entry.lastTimestampMs = timestampMs;
    this.producers.set(batch.producerId, entry);
    this.changeCount++;
  }

  /** Restores an entry read from a snapshot (no checks; the snapshot is trusted once its CRC matched). */
  restore(entry: ProducerEntry): void {
    this.producers.delete(entry.producerId);
    this.evictBeyond(this.limits.maxProducerIds - 1);
    this.producers.set(entry.producerId, { ...entry, batches: entry.batches.slice(-batchesRetainedPerProducer) });
    this.changeCount++;
  }

  /** Forgets producers whose last append is at least expirationMs before nowMs. Returns how many. */
  expire(nowMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.producers) {
      if (nowMs - entry.lastTimestampMs >= this.limits.expirationMs) {
        this.producers.delete(producerId);
        removed++;
      }
    }
    if (removed > 0) this.changeCount++;
    return removed;
  }

  /**
   * Forgets producers none of whose batches is retained any more: their last batch ends below
   * `logStartOffset` (retention or DeleteRecords removed it), as Kafka does. Returns how many.
   */
  removeUnretained(logStartOffset: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.producers) {
      const last = entry.batches[entry.batches.length - 1];
      if (last !== undefined && last.lastOffset < logStartOffset) {
        this.producers.delete(producerId);
        removed++;
      }
    }
    if (removed > 0) this.changeCount++;
    return removed;
  }

  /**
   * The log was cut back to `endOffset` (appends that failed to be written, never acknowledged):
   * forgets their batches, so that a retry is appended again rather than answered as a duplicate
   * of offsets that no longer hold it. A producer left with no batch is forgotten altogether: its
   * next batch is accepted at any sequence (rule 5), as after an expiry. Returns how many batches.
   */
  truncateTo(endOffset: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.producers) {
      while (entry.batches.length > 0 && entry.batches[entry.batches.length - 1]!.lastOffset >= endOffset) {
        entry.batches.pop();
        removed++;
      }
      if (entry.batches.length === 0) this.producers.delete(producerId);
    }
    if (removed > 0) this.changeCount++;
    return removed;
  }

  private evictBeyond(keep: number): void {
    while (this.producers.size > keep) {
      const oldest = this.producers.keys().next();
      if (oldest.done === true) return;
      this.producers.delete(oldest.value);
      this.evictedCount++;
      this.changeCount++;
    }
  }

  /** Our own invariants, for tests. */
  invariants(): void {
    assert(this.producers.size <= this.limits.maxProducerIds, 'within the producer limit');
    for (const [producerId, entry] of this.producers) {
      assert.equal(entry.producerId, producerId, 'keyed by its own id');
      assert(entry.batches.length <= batchesRetainedPerProducer, 'at most five batches');
      for (let index = 1; index < entry.batches.length; index++) {
        const previous = entry.batches[index - 1]!;
        const batch = entry.batches[index]!;
        assert(batch.firstOffset > previous.lastOffset, 'batches in offset order');
      }
      for (const batch of entry.batches) assert(batch.lastOffset >= batch.firstOffset, 'offset range not empty');
    }
  }
}

function refuse(errorCode: number, errorMessage: string): SequenceVerdict {
  return { kind: 'refuse', errorCode, errorMessage };
}

// ── Snapshot file ────────────────────────────────────────────────────────────────────────────────
//
// `<partition dir>/producer-state.snapshot`, big-endian (docs/storage-format.md, "Producer state"):
//
//   byte 0 ┌────────────────────────────────┐
//          │ formatVersion         int16    │  1
//        2 │ crc                   uint32   │  CRC-32C of bytes 6 .. end
//        6 │ snapshotOffset        int64    │  the state reflects every batch below this offset
//       14 │ producerCount         int32    │
//       18 ├────────────────────────────────┤  producers, least recently active first:
//          │ producerId            int64    │
//          │ producerEpoch         int16    │
//          │ lastTimestampMs       int64    │
//          │ batchCount            int8     │  0-5
//          │ ┌ firstSequence       int32  ┐ │  batches, oldest first
//          │ │ lastSequence        int32  │ │
//          │ │ firstOffset         int64  │ │
//          │ └ lastOffset          int64  ┘ │
//          └────────────────────────────────┘

export const snapshotFormatVersion = 1;
const snapshotHeaderBytes = 18;
const producerHeaderBytes = 8 + 2 + 8 + 1;
const batchMetadataBytes = 4 + 4 + 8 + 8;

export interface ProducerSnapshot {
  readonly snapshotOffset: number;
  readonly producers: readonly ProducerEntry[];
}

export function encodeSnapshot(snapshotOffset: number, producers: Iterable<ProducerEntry>): Buffer {
  const list = [...producers];
  let size = snapshotHeaderBytes;
  for (const entry of list) size += producerHeaderBytes + entry.batches.length * batchMetadataBytes;
  const buffer = Buffer.alloc(size);
  buffer.writeInt16BE(snapshotFormatVersion, 0);
  buffer.writeBigInt64BE(BigInt(snapshotOffset), 6);
  buffer.writeInt32BE(list.length, 14);
  let at = snapshotHeaderBytes;
  for (const entry of list) {
    buffer.writeBigInt64BE(entry.producerId, at);
    buffer.writeInt16BE(entry.epoch, at + 8);
    buffer.writeBigInt64BE(BigInt(entry.lastTimestampMs), at + 10);
    buffer.writeInt8(entry.batches.length, at + 18);
    at += producerHeaderBytes;
    for (const batch of entry.batches) {
      buffer.writeInt32BE(batch.firstSequence, at);
      buffer.writeInt32BE(batch.lastSequence, at + 4);
      buffer.writeBigInt64BE(BigInt(batch.firstOffset), at + 8);
      buffer.writeBigInt64BE(BigInt(batch.lastOffset), at + 16);
      at += batchMetadataBytes;
    }
  }
  buffer.writeUInt32BE(crc32c(buffer.subarray(6)), 2);
  return buffer;
}

/** The snapshot in `buffer`, or a sentence saying why it cannot be used. */
export function decodeSnapshot(buffer: Buffer): ProducerSnapshot | string {
  if (buffer.length < snapshotHeaderBytes) return `${buffer.length} bytes is shorter than the snapshot header`;
  const version = buffer.readInt16BE(0);
  if (version !== snapshotFormatVersion) return `format version ${version}, expected ${snapshotFormatVersion}`;
  if (crc32c(buffer.subarray(6)) !== buffer.readUInt32BE(2)) return 'CRC-32C does not match';
  const snapshotOffset = Number(buffer.readBigInt64BE(6));
  const count = buffer.readInt32BE(14);
  if (snapshotOffset < 0 || !Number.isSafeInteger(snapshotOffset)) return `snapshot offset ${snapshotOffset} is not valid`;
  if (count < 0 || count * producerHeaderBytes > buffer.length - snapshotHeaderBytes) return `producer count ${count} does not fit the file`;
  const producers: ProducerEntry[] = [];
  let at = snapshotHeaderBytes;
  for (let index = 0; index < count; index++) {
    if (at + producerHeaderBytes > buffer.length) return 'file ends inside a producer';
    const producerId = buffer.readBigInt64BE(at);
    const epoch = buffer.readInt16BE(at + 8);
    const lastTimestampMs = Number(buffer.readBigInt64BE(at + 10));
    const batchCount = buffer.readInt8(at + 18);
    at += producerHeaderBytes;
    if (batchCount < 0 || batchCount > batchesRetainedPerProducer) return `producer ${producerId} has ${batchCount} batches`;
    if (at + batchCount * batchMetadataBytes > buffer.length) return 'file ends inside a batch';
    const batches: BatchMetadata[] = [];
    for (let batch = 0; batch < batchCount; batch++) {
      batches.push({
        firstSequence: buffer.readInt32BE(at),
        lastSequence: buffer.readInt32BE(at + 4),
        firstOffset: Number(buffer.readBigInt64BE(at + 8)),
        lastOffset: Number(buffer.readBigInt64BE(at + 16)),
      });
      at += batchMetadataBytes;
    }
    producers.push({ producerId, epoch, lastTimestampMs, batches });
  }
  if (at !== buffer.length) return `${buffer.length - at} bytes after the last producer`;
  return { snapshotOffset, producers };
}
