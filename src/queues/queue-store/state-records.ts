import { crc32c } from '@node-rs/crc32';
import type { DispositionSnapshot } from './dispositions.js';
import { OffsetRanges } from './offset-ranges.js';

/**
 * State records: a durable queue's dispositions (which messages are settled, how far delivery went,
 * how often a message was given back) as small CRC'd records, written by a StateRecordWriter
 * (state-record-writer.ts) into one of two places: state batches in the queue's own log
 * (log-state.ts), or a state file (state-log.ts: a delayed exchange's, and a queue's before its
 * state moved into its log). Both replay them with StateReplay below. Big-endian:
 *
 *   record        0  crc             uint32   CRC-32C of bytes 4 .. end of the record
 *                 4  length          uint32   bytes after this field (type + payload), ≥ 1
 *                 8  type            uint8
 *                 9  payload:
 *     1 snapshot    settledBelow int64 │ deliveredBelow int64 │ rangeCount uint32 │
 *                   rangeCount × (start int64 │ end int64)      the whole state; replaces what came before
 *     2 settled     start int64 │ end int64                     offsets [start, end) are settled
 *     3 delivered   deliveredBelow int64                        messages below it may have been delivered
 *     4 truncated   endOffset int64                             the log lost offsets ≥ endOffset: settles
 *                                                               there are void, marks come down to it
 *     5 returned    offset int64 │ count uint32                  the message at offset has been given back
 *                                                               (requeued) count times so far
 *   (int64 values are offsets, < 2^53, written as two uint32 halves)
 *
 * A snapshot is followed by a returned record for each message that has a return count
 * (snapshotRecords). Replay applies the records in order; it stops at the first record that does
 * not fit, fails its CRC, or has an unknown type or a payload of the wrong size: a torn write that
 * was never acknowledged. A count whose offset is settled is dropped when the state is read.
 */

const recordHeaderBytes = 9;
const offsetPairBytes = 16;

const snapshotType = 1;
const settledType = 2;
const deliveredType = 3;
const truncatedType = 4;
const returnedType = 5;

function writeOffset(buffer: Buffer, at: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  buffer.writeUInt32BE(value % 0x1_0000_0000, at + 4);
}

function readOffset(buffer: Buffer, at: number): number {
  return buffer.readUInt32BE(at) * 0x1_0000_0000 + buffer.readUInt32BE(at + 4);
}

/** A record with `payloadBytes` of payload, its header written; the caller fills the payload and calls sealRecord. */
function newRecord(type: number, payloadBytes: number): Buffer {
  const record = Buffer.allocUnsafe(recordHeaderBytes + payloadBytes);
  record.writeUInt32BE(1 + payloadBytes, 4);
  record[8] = type;
  return record;
}

function sealRecord(record: Buffer): Buffer {
  record.writeUInt32BE(crc32c(record.subarray(4)), 0);
  return record;
}

export function settledRecord(start: number, end: number): Buffer {
  const record = newRecord(settledType, 16);
  writeOffset(record, 9, start);
  writeOffset(record, 17, end);
  return sealRecord(record);
}

export function deliveredRecord(deliveredBelow: number): Buffer {
  const record = newRecord(deliveredType, 8);
  writeOffset(record, 9, deliveredBelow);
  return sealRecord(record);
}

export function truncatedRecord(endOffset: number): Buffer {
  const record = newRecord(truncatedType, 8);
  writeOffset(record, 9, endOffset);
  return sealRecord(record);
}

export function returnedRecord(offset: number, count: number): Buffer {
  const record = newRecord(returnedType, 12);
  writeOffset(record, 9, offset);
  record.writeUInt32BE(Math.min(count, 0xffff_ffff), 17);
  return sealRecord(record);
}

export function snapshotRecord(snapshot: DispositionSnapshot): Buffer {
  const rangeCount = snapshot.settledRanges.length / 2;
  const record = newRecord(snapshotType, 20 + rangeCount * offsetPairBytes);
  writeOffset(record, 9, snapshot.settledBelow);
  writeOffset(record, 17, snapshot.deliveredBelow);
  record.writeUInt32BE(rangeCount, 25);
  for (let index = 0; index < snapshot.settledRanges.length; index++) writeOffset(record, 29 + index * 8, snapshot.settledRanges[index]!);
  return sealRecord(record);
}

/** Whether the records at `position` begin with a snapshot (which replaces all state before it). */
export function startsWithSnapshot(bytes: Buffer, position: number, end: number): boolean {
  return end - position > recordHeaderBytes && bytes[position + 8] === snapshotType;
}

/** The whole state: a snapshot record, then a returned record for each message with a return count. */
export function snapshotRecords(snapshot: DispositionSnapshot): Buffer[] {
  const records = [snapshotRecord(snapshot)];
  const counts = snapshot.returnCounts;
  for (let index = 0; index + 1 < counts.length; index += 2) records.push(returnedRecord(counts[index]!, counts[index + 1]!));
  return records;
}

/**
 * The state as records replay it, in order (a snapshot replaces what came before). Shared by the
 * state file (replayState) and by queues that keep their state records in their log (log-state.ts).
 */
export class StateReplay {
  settledBelow = 0;
  deliveredBelow = 0;
  settled = new OffsetRanges();
  returnCounts = new Map<number, number>();
  recordCount = 0;

  /**
   * Applies the records in bytes [start, end); returns where it stopped: `end`, or the first
   * record that does not fit, fails its CRC, or has an unknown type or a payload of the wrong size.
   */
  apply(bytes: Buffer, start: number, end: number): number {
    let position = start;
    while (end - position >= recordHeaderBytes) {
      const length = bytes.readUInt32BE(position + 4);
      const recordEnd = position + 8 + length;
      if (length < 1 || recordEnd > end) break;
      if (crc32c(bytes.subarray(position + 4, recordEnd)) !== bytes.readUInt32BE(position)) break;
      if (!this.applyRecord(bytes, bytes[position + 8]!, position + recordHeaderBytes, length - 1)) break;
      this.recordCount++;
      position = recordEnd;
    }
    return position;
  }

  /** False for an unknown type or a payload of the wrong size. */
  private applyRecord(bytes: Buffer, type: number, payload: number, payloadBytes: number): boolean {
    if (type === snapshotType) {
      if (payloadBytes < 20) return false;
      const rangeCount = bytes.readUInt32BE(payload + 16);
      if (payloadBytes !== 20 + rangeCount * offsetPairBytes) return false;
      this.settledBelow = readOffset(bytes, payload);
      this.deliveredBelow = readOffset(bytes, payload + 8);
      this.settled = new OffsetRanges();
      this.returnCounts = new Map();
      for (let index = 0; index < rangeCount; index++) this.settled.add(readOffset(bytes, payload + 20 + index * 16), readOffset(bytes, payload + 28 + index * 16));
    } else if (type === settledType && payloadBytes === 16) {
      this.settled.add(readOffset(bytes, payload), readOffset(bytes, payload + 8));
    } else if (type === deliveredType && payloadBytes === 8) {
      this.deliveredBelow = Math.max(this.deliveredBelow, readOffset(bytes, payload));
    } else if (type === truncatedType && payloadBytes === 8) {
      const endOffset = readOffset(bytes, payload);
      this.settled.removeFrom(endOffset);
      this.settledBelow = Math.min(this.settledBelow, endOffset);
      this.deliveredBelow = Math.min(this.deliveredBelow, endOffset);
      for (const offset of [...this.returnCounts.keys()]) if (offset >= endOffset) this.returnCounts.delete(offset);
    } else if (type === returnedType && payloadBytes === 12) {
      this.returnCounts.set(readOffset(bytes, payload), bytes.readUInt32BE(payload + 8));
    } else {
      return false;
    }
    return true;
  }
}

