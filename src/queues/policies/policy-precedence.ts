/**
 * How a policy and a queue's own `x-` arguments combine into what the queue does, key by key, as
 * RabbitMQ resolves them (its classic and quorum queue processes; documented in its guides to
 * queue length limits, TTL and policies):
 *
 *   key                        both set                         why
 *   max-length                 the lower value                  a limit the operator sets can only tighten
 *   max-length-bytes           the lower value (streams: the policy's)
 *   message-ttl                the lower value
 *   expires                    the lower value
 *   delivery-limit             the lower value; −1 (no limit) on one side yields the other's
 *   overflow                   the argument (quorum queues: the policy)
 *   dead-letter-exchange       the argument
 *   dead-letter-routing-key    the argument
 *   alternate-exchange         the argument (exchanges)
 *
 * Each key on its own: a queue declaring only x-dead-letter-exchange takes its dead-letter routing
 * key from the policy; a quorum queue declared without x-delivery-limit takes the policy's delivery
 * limit, not the lower of it and its default of 20. x-max-priority, x-single-active-consumer and x-queue-type are arguments only:
 * they are fixed when the queue is declared, and a policy has no key for them.
 */
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import type { QueueOptions } from '../queue-options.js';
import type { Policy } from './policy.js';

/**
 * The options a queue applies: those of its arguments (`fromArguments`, queueOptionsFromArguments)
 * combined with its policy. `declaredArguments` tells an x-overflow declared as drop-head from none.
 */
export function effectiveQueueOptions(fromArguments: QueueOptions, policy: Policy | null, declaredArguments: FieldTable): QueueOptions {
  if (policy === null) return fromArguments;
  const keys = policy.settings;
  const overflowArgumentWins = fromArguments.queueType !== 'quorum' && declaredArguments.has('x-overflow');
  return {
    ...fromArguments,
    maxLength: lower(fromArguments.maxLength, keys.maxLength),
    maxLengthBytes: fromArguments.queueType === 'stream' ? (keys.maxLengthBytes ?? fromArguments.maxLengthBytes) : lower(fromArguments.maxLengthBytes, keys.maxLengthBytes),
    overflow: overflowArgumentWins ? fromArguments.overflow : (keys.overflow ?? fromArguments.overflow),
    messageTtlMs: lower(fromArguments.messageTtlMs, keys.messageTtlMs),
    expiresMs: lower(fromArguments.expiresMs, keys.expiresMs),
    deadLetterExchange: fromArguments.deadLetterExchange ?? keys.deadLetterExchange,
    deadLetterRoutingKey: fromArguments.deadLetterRoutingKey ?? keys.deadLetterRoutingKey,
    deliveryLimit: deliveryLimit(fromArguments, keys.deliveryLimit, declaredArguments),
  };
}

/**
 * RabbitMQ's quorum queues: both limits set, the lower; a negative one (−1, no limit) gives way to
 * the other; both negative, no limit. Only a declared x-delivery-limit takes part: a quorum queue's
 * default of 20 is no argument.
 */
function deliveryLimit(fromArguments: QueueOptions, policyLimit: number | null, declaredArguments: FieldTable): number | null {
  if (policyLimit === null) return fromArguments.deliveryLimit;
  // queueOptionsFromArguments reads a declared −1 as null (no limit).
  const argumentLimit = declaredArguments.has('x-delivery-limit') ? (fromArguments.deliveryLimit ?? -1) : null;
  let resolved: number;
  if (argumentLimit === null) resolved = policyLimit;
  else if (argumentLimit < 0 || policyLimit < 0) resolved = Math.max(argumentLimit, policyLimit);
  else resolved = Math.min(argumentLimit, policyLimit);
  return resolved < 0 ? null : resolved;
}

/** An exchange's alternate exchange: its `alternate-exchange` argument, else its policy's. */
export function effectiveAlternateExchange(fromArgument: string | null, policy: Policy | null): string | null {
  return fromArgument ?? policy?.settings.alternateExchange ?? null;
}

/** The lower of two optional limits; either alone when the other is not set. */
function lower(argument: number | null, policy: number | null): number | null {
  if (argument === null) return policy;
  if (policy === null) return argument;
  return Math.min(argument, policy);
}

/** Whether two option sets ask the same of a queue (so a policy change that alters nothing is not applied). */
export function sameQueueOptions(left: QueueOptions, right: QueueOptions): boolean {
  return (Object.keys(left) as (keyof QueueOptions)[]).every((key) => left[key] === right[key]);
}
