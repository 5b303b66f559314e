/**
 * message.timestamp.before.max.ms and message.timestamp.after.max.ms (KIP-937): under CreateTime,
 * a batch carrying a timestamp too far behind or ahead of the broker clock is refused with
 * INVALID_TIMESTAMP. Kafka checks each record; the produce path does not decode records
 * (DESIGN.md, decision 4), so the batch header's bounds are checked instead:
 *
 *   baseTimestamp (the first record's)  <  now - message.timestamp.before.max.ms   → refused
 *   maxTimestamp  (the largest)         >  now + message.timestamp.after.max.ms    → refused
 *
 * The largest is exact; a record other than the first that is older than it goes unchecked (its
 * producer wrote records out of time order). NO_TIMESTAMP (-1) is never refused, as in Kafka.
 */
import { noTimestamp, readBaseTimestamp, readMaxTimestamp } from '../protocol/kafka/batch-header.js';
import type { EffectiveTopicConfig } from './topic-config.js';

/** Why the batch's timestamps are out of the topic's bounds, or null. */
export function timestampBoundsProblem(batch: Buffer, effective: EffectiveTopicConfig, nowMs: number): string | null {
  if (effective.messageTimestampType !== 'CreateTime') return null;
  const earliestMs = nowMs - effective.messageTimestampBeforeMaxMs;
  const latestMs = nowMs + effective.messageTimestampAfterMaxMs;
  const maxTimestampMs = readMaxTimestamp(batch, 0);
  if (maxTimestampMs !== noTimestamp && maxTimestampMs > latestMs) {
    return `timestamp ${maxTimestampMs} is more than message.timestamp.after.max.ms (${effective.messageTimestampAfterMaxMs}) ahead of the broker clock (${nowMs})`;
  }
  const baseTimestampMs = readBaseTimestamp(batch, 0);
  if (baseTimestampMs !== noTimestamp && baseTimestampMs < earliestMs) {
    return `timestamp ${baseTimestampMs} is more than message.timestamp.before.max.ms (${effective.messageTimestampBeforeMaxMs}) behind the broker clock (${nowMs})`;
  }
  return null;
}
