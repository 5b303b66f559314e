/**
 * One type for log offsets, from storage up to the protocol edge: a number that is a safe integer
 * ≥ 0, branded so that a byte position, a count or a timestamp is not passed where an offset is
 * meant. Storage brands the offsets it hands out (log start, high watermark, log end, appends);
 * the wire's int64 is converted in one place per direction, broker/offset.ts.
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
