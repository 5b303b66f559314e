/**
 * Offsets at the broker/protocol boundary. Storage and broker share one offset type, `Offset`
 * (storage/offset.ts, re-exported here); Kafka's int64 (bigint here) is converted in exactly one
 * place per direction, the two functions below, which request handlers call on the way in and out:
 *
 *   wire int64 ──offsetFromWire──► Offset | null (null: negative or beyond 2^53, never a log offset)
 *   Offset | null ──offsetToWire──► int64 (null: -1, Kafka's "no offset")
 *
 * A group's committed offset (OffsetCommit, OffsetFetch, the group log) is a `CommittedPosition`:
 * an Offset, or a negative number kept as the client committed it. Kafka keeps negative commits,
 * KafkaJS's admin.resetOffsets commits −1 (latest) and −2 (earliest) for its consumers to resolve,
 * and every client reads a negative committed offset as "no position". Its two conversions are
 * below too, built on the two above:
 *
 *   wire int64 ──committedPositionFromWire──► CommittedPosition | null (null: beyond 2^53)
 *   CommittedPosition | null ──committedPositionToWire──► int64 (null: -1, nothing committed)
 */
import { asOffset, type Offset } from '../storage/offset.js';

export { asOffset, isOffset, type Offset } from '../storage/offset.js';

/** A request's offset, or null when no log can hold it (the caller answers as for an offset out of range). */
export function offsetFromWire(value: bigint): Offset | null {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return asOffset(Number(value));
}

/** An answer's offset; -1 when there is none (errors, nothing found). */
export function offsetToWire(offset: Offset | null): bigint {
  return offset === null ? -1n : BigInt(offset);
}

/** A negative committed offset, kept as committed: not a log position (see the file comment). */
export type NegativeCommittedOffset = number & { readonly __brand: 'NegativeCommittedOffset' };

/** What a group commits for a partition: a log offset or a negative "no position". */
export type CommittedPosition = Offset | NegativeCommittedOffset;

/**
 * A committed offset as committed; null when it is beyond 2^53, hence beyond every log end (the
 * caller answers as out of range). Negative values below −2^53 lose precision, as no client sends them.
 */
export function committedPositionFromWire(value: bigint): CommittedPosition | null {
  if (value < 0n) return Number(value) as NegativeCommittedOffset;
  return offsetFromWire(value);
}

/** A committed offset for an answer (or the group log); -1 when nothing is committed. */
export function committedPositionToWire(position: CommittedPosition | null): bigint {
  return position === null ? -1n : BigInt(position);
}
