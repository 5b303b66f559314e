/**
 * Offsets at the broker/protocol boundary. Storage and broker share one offset type, `Offset`
 * (storage/offset.ts, re-exported here); Kafka's int64 (bigint here) is converted in exactly one
 * place per direction, the two functions below, which request handlers call on the way in and out:
 *
 *   wire int64 ──offsetFromWire──► Offset | null (null: negative or beyond 2^53, never a log offset)
 *   Offset | null ──offsetToWire──► int64 (null: -1, Kafka's "no offset")
 *
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
