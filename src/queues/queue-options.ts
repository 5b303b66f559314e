/**
 * What a queue's `x-` arguments (and, through policies, its policy) ask of it: length limits and
 * what happens past them, message and queue expiry, dead-lettering, a delivery limit, priorities,
 * a single active consumer, the queue type. Parsed once at declare (and whenever a policy changes),
 * checked as RabbitMQ checks them, with its reply texts:
 *
 *   argument                    type                 meaning
 *   x-max-length                integer ≥ 0          ready messages the queue holds at most
 *   x-max-length-bytes          integer ≥ 0          ready body bytes the queue holds at most
 *   x-overflow                  string               drop-head (default) | reject-publish | reject-publish-dlx
 *   x-message-ttl               integer ≥ 0          ms a message may wait; 0 = deliverable at once or never
 *   x-expires                   integer > 0          ms a queue may go unused before it is deleted
 *   x-dead-letter-exchange      string               where dropped, expired and rejected messages go
 *   x-dead-letter-routing-key   string               their routing key there (else their own); needs the exchange
 *   x-delivery-limit            integer ≥ 0, or −1   returns (requeues) a message may have before it is dead-lettered;
 *                                                    quorum queues default to 20 (RabbitMQ 4), −1 = no limit
 *   x-max-priority              integer 0 … 255      a priority queue with that many levels above 0
 *   x-single-active-consumer    boolean              one consumer at a time gets messages, the others wait
 *   x-queue-type                string               classic | quorum (durable, kept like classic) | stream
 *   x-queue-mode, x-queue-version, x-queue-leader-locator   accepted and ignored, as they only tune RabbitMQ's storage
 */
import { AmqpChannelError } from '../protocol/amqp/errors.js';
import type { FieldTable, FieldValue } from '../protocol/amqp/field-table.js';
import { replyCodes } from '../protocol/amqp/reply-codes.js';

export type OverflowBehaviour = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
export type QueueType = 'classic' | 'quorum' | 'stream';

export interface QueueOptions {
  readonly maxLength: number | null;
  readonly maxLengthBytes: number | null;
  readonly overflow: OverflowBehaviour;
  readonly messageTtlMs: number | null;
  readonly expiresMs: number | null;
  readonly deadLetterExchange: string | null;
  readonly deadLetterRoutingKey: string | null;
  readonly deliveryLimit: number | null;
  /** Highest priority level (messages above it count as it); null for an ordinary queue. Declare-time only. */
  readonly maxPriority: number | null;
  readonly singleActiveConsumer: boolean;
  readonly queueType: QueueType;
}

export const defaultQueueOptions: QueueOptions = {
  maxLength: null,
  maxLengthBytes: null,
  overflow: 'drop-head',
  messageTtlMs: null,
  expiresMs: null,
  deadLetterExchange: null,
  deadLetterRoutingKey: null,
  deliveryLimit: null,
  maxPriority: null,
  singleActiveConsumer: false,
  queueType: 'classic',
};

const overflowBehaviours: readonly OverflowBehaviour[] = ['drop-head', 'reject-publish', 'reject-publish-dlx'];
const queueTypes: readonly QueueType[] = ['classic', 'quorum', 'stream'];
export const maxPriorityLimit = 255;
/** RabbitMQ 4's delivery limit of a quorum queue declared without one. */
export const defaultQuorumDeliveryLimit = 20;
/** Timers take at most 2^31 − 1 ms; RabbitMQ's TTL limit is about 2^32 ms, beyond any real use. */
const maxTimeMs = 2 ** 32;

/**
 * Reads the options from declared arguments; throws 406 PRECONDITION_FAILED with RabbitMQ's text
 * (`invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}`) for a bad one.
 */
export function queueOptionsFromArguments(args: FieldTable, queueName: string, virtualHost: string): QueueOptions {
  const invalid = (name: string, reason: string): AmqpChannelError =>
    new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid arg '${name}' for queue '${queueName}' in vhost '${virtualHost}': ${reason}`);
  const integer = (name: string, minimum: number, maximum: number): number | null => {
    const value = args.get(name);
    if (value === undefined) return null;
    const number = integerValue(value);
    if (number === null) throw invalid(name, `{unacceptable_type,${typeName(value)}}`);
    if (number < 0) throw invalid(name, `{value_negative,${number}}`);
    if (number < minimum) throw invalid(name, `{value_zero,${number}}`);
    if (number > maximum) throw invalid(name, `{value_too_large,${number},${maximum}}`);
    return number;
  };
  const text = (name: string): string | null => {
    const value = args.get(name);
    if (value === undefined) return null;
    if (value.type !== 'longString') throw invalid(name, `{unacceptable_type,${typeName(value)}}`);
    return value.value.toString('utf8');
  };
  const overflow = text('x-overflow');
  if (overflow !== null && !overflowBehaviours.includes(overflow as OverflowBehaviour)) throw invalid('x-overflow', `{unknown_overflow,${overflow}}`);
  const queueType = text('x-queue-type');
  if (queueType !== null && !queueTypes.includes(queueType as QueueType)) throw invalid('x-queue-type', `{unsupported_queue_type,${queueType}}`);
  const deadLetterExchange = text('x-dead-letter-exchange');
  const deadLetterRoutingKey = text('x-dead-letter-routing-key');
  if (deadLetterRoutingKey !== null && deadLetterExchange === null) {
    throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key' for queue '${queueName}' in vhost '${virtualHost}': routing_key_but_no_dlx_defined`);
  }
  const deliveryLimitValue = args.get('x-delivery-limit');
  const unlimitedDeliveries = deliveryLimitValue !== undefined && integerValue(deliveryLimitValue) === -1;
  const deliveryLimit = unlimitedDeliveries ? null : integer('x-delivery-limit', 0, Number.MAX_SAFE_INTEGER);
  const single = args.get('x-single-active-consumer');
  if (single !== undefined && single.type !== 'boolean') throw invalid('x-single-active-consumer', `{unacceptable_type,${typeName(single)}}`);
  return {
    maxLength: integer('x-max-length', 0, Number.MAX_SAFE_INTEGER),
    maxLengthBytes: integer('x-max-length-bytes', 0, Number.MAX_SAFE_INTEGER),
    overflow: (overflow as OverflowBehaviour | null) ?? 'drop-head',
    messageTtlMs: integer('x-message-ttl', 0, maxTimeMs),
    expiresMs: integer('x-expires', 1, maxTimeMs),
    deadLetterExchange,
    deadLetterRoutingKey,
    deliveryLimit: deliveryLimit ?? (queueType === 'quorum' && !unlimitedDeliveries ? defaultQuorumDeliveryLimit : null),
    maxPriority: integer('x-max-priority', 0, maxPriorityLimit),
    singleActiveConsumer: single?.type === 'boolean' && single.value,
    queueType: (queueType as QueueType | null) ?? 'classic',
  };
}

/**
 * A message's `expiration` property in ms: a decimal string of a non-negative integer; anything
 * else is refused with 406 and RabbitMQ's text. Capped at 2^32 ms, as TTLs are.
 */
export function messageExpirationMs(expiration: string): number {
  if (!/^-?[0-9]+$/.test(expiration)) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid expiration '${expiration}': no_integer`);
  const value = Number(expiration);
  if (value < 0) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid expiration '${expiration}': {value_negative,${value}}`);
  return Math.min(value, maxTimeMs);
}

/** An integer field value as a number (int64 within the safe range); null for any other type. */
export function integerValue(value: FieldValue): number | null {
  switch (value.type) {
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
      return value.value;
    case 'int64': {
      const number = Number(value.value);
      return Number.isSafeInteger(number) ? number : null;
    }
    default:
      return null;
  }
}

/** The type names RabbitMQ's errors use (AMQP's own words for field types). */
function typeName(value: FieldValue): string {
  switch (value.type) {
    case 'longString':
      return 'longstr';
    case 'boolean':
      return 'bool';
    case 'int64':
      return 'long';
    case 'float32':
      return 'float';
    case 'float64':
      return 'double';
    default:
      return value.type;
  }
}
