/**
 * One type for log offsets in the broker: a number that is a safe integer ≥ 0, branded so that a
 * byte position, a count or a timestamp is not passed where an offset is meant. The partition
 * handle (partition-handle.ts) brands what storage hands out; Kafka's int64 (bigint here) is
 * converted in exactly one place per direction, the two functions below, which request handlers
 * call on the way in and out:
 *
 *   wire int64 ──offsetFromWire──► Offset | null (null: negative or beyond 2^53, never a log offset)
 *   Offset | null ──offsetToWire──► int64 (null: -1, Kafka's "no offset")
 *
 * A number and not a bigint: offsets stay far below 2^53 (a partition taking a million records a
 * second would need 285 years), and numbers keep arithmetic and comparisons cheap on hot paths.
 */
export type Offset = number & { readonly __brand: 'Offset' };

/** Whether `value` can be an offset: a safe integer ≥ 0. */
export function isOffset(value: number): value is Offset {
  return Number.isSafeInteger(value) && value >= 0;
}

/** `value` as an offset; throws when it cannot be one (a bug: offsets are computed from offsets). */
export function asOffset(value: number): Offset {
  if (!isOffset(value)) throw new RangeError(`${value} is not a log offset`);
  return value;
}

/** A request's offset, or null when no log can hold it (the caller answers as for an offset out of range). */
export function offsetFromWire(value: bigint): Offset | null {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return asOffset(Number(value));
}

/** An answer's offset; -1 when there is none (errors, nothing found). */
export function offsetToWire(offset: Offset | null): bigint {
  return offset === null ? -1n : BigInt(offset);
}
