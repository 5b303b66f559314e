/**
 * RabbitMQ's rules for stream queues over AMQP 0-9-1, with its reply texts: what a declaration
 * must be (durable, not exclusive, not auto-delete), what a consumer must be (a prefetch set with
 * basic.qos, manual acknowledgement, no global qos), where it starts (`x-stream-offset`), and the
 * methods a stream refuses (basic.get, queue.purge).
 *
 *   x-stream-offset    first | last | next (default) | an integer offset | a timestamp (AMQP
 *                      timestamp type, seconds) | an interval back from now: 7D, 12h, 30m, 10s
 *                      (units Y, M, D, h, m, s as RabbitMQ reads x-max-age)
 */
import { AmqpChannelError, AmqpConnectionError } from '../../protocol/amqp/errors.js';
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { integerValue } from '../queue-options.js';

export type StreamStart =
  | { readonly kind: 'first' | 'last' | 'next' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'timestamp'; readonly timestampMs: number };

/** Whether declared arguments ask for a stream queue. */
export function isStreamArguments(args: FieldTable): boolean {
  const type = args.get('x-queue-type');
  return type?.type === 'longString' && type.value.toString('utf8') === 'stream';
}

/** RabbitMQ's name for a queue in its messages: queue 'q' in vhost '/'. */
export function queueResource(name: string, virtualHost: string): string {
  return `queue '${name}' in vhost '${virtualHost}'`;
}

export interface StreamDeclarationFlags {
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
}

/** A stream is durable, shared and kept: the three checks in RabbitMQ's order. */
export function checkStreamDeclaration(flags: StreamDeclarationFlags, name: string, virtualHost: string): void {
  const refuse = (property: string) => new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid property '${property}' for ${queueResource(name, virtualHost)}`);
  if (flags.autoDelete) throw refuse('auto-delete');
  if (flags.exclusive) throw refuse('exclusive-owner');
  if (!flags.durable) throw refuse('non-durable');
}

const intervalUnitsMs: Readonly<Record<string, number>> = {
  Y: 365 * 24 * 3600 * 1000,
  M: 30 * 24 * 3600 * 1000,
  D: 24 * 3600 * 1000,
  h: 3600 * 1000,
  m: 60 * 1000,
  s: 1000,
};

/** An interval such as 7D or 12h in milliseconds; null when the text is not one. */
export function intervalMs(text: string): number | null {
  const match = /^(\d{1,12})([YMDhms])$/.exec(text);
  if (match === null) return null;
  return Number(match[1]) * intervalUnitsMs[match[2]!]!;
}

/** Topic configs from a stream's retention arguments: x-max-length-bytes → retention.bytes, x-max-age → retention.ms. */
export function retentionConfigs(args: FieldTable, name: string, virtualHost: string): Map<string, string> {
  const configs = new Map<string, string>();
  const maxBytes = args.get('x-max-length-bytes');
  if (maxBytes !== undefined) {
    const bytes = integerValue(maxBytes);
    if (bytes === null || bytes < 0) throw invalidArgument('x-max-length-bytes', name, virtualHost, `{unacceptable_value,${describe(maxBytes)}}`);
    configs.set('retention.bytes', String(bytes));
  }
  const maxAge = args.get('x-max-age');
  if (maxAge !== undefined) {
    const ageMs = maxAge.type === 'longString' ? intervalMs(maxAge.value.toString('utf8')) : null;
    if (ageMs === null) throw invalidArgument('x-max-age', name, virtualHost, `{invalid_max_age,${describe(maxAge)}}`);
    configs.set('retention.ms', String(ageMs));
  }
  return configs;
}

function invalidArgument(argument: string, name: string, virtualHost: string, reason: string): AmqpChannelError {
  return new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid arg '${argument}' for ${queueResource(name, virtualHost)}: ${reason}`);
}

export interface StreamConsumerRequest {
  readonly noAck: boolean;
  /** basic.qos prefetch-count (global=false) in force. */
  readonly consumerPrefetch: number;
  /** basic.qos prefetch-count with global=true in force. */
  readonly channelPrefetch: number;
  readonly arguments: FieldTable;
}

/** Checks a basic.consume on a stream and returns where it starts; throws RabbitMQ's refusals. */
export function streamConsumerStart(request: StreamConsumerRequest, name: string, virtualHost: string): StreamStart {
  const resource = queueResource(name, virtualHost);
  if (request.consumerPrefetch === 0) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - consumer prefetch count is not set for stream ${resource}`);
  if (request.noAck) throw new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - automatic acknowledgement not supported by stream ${resource}`);
  if (request.channelPrefetch !== 0) throw new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - ${resource} does not support global qos`);
  const offset = request.arguments.get('x-stream-offset');
  const start = offset === undefined ? { kind: 'next' as const } : parseStreamOffset(offset);
  if (start === null) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - failed consuming from stream ${resource}: {invalid_offset_arg,${describe(offset!)}}`);
  return start;
}

/** The x-stream-offset argument; null when it is none of the forms RabbitMQ takes. */
export function parseStreamOffset(value: FieldValue, nowMs: number = Date.now()): StreamStart | null {
  if (value.type === 'timestamp') return { kind: 'timestamp', timestampMs: Number(value.value) * 1000 };
  if (value.type === 'longString') {
    const text = value.value.toString('utf8');
    if (text === 'first' || text === 'last' || text === 'next') return { kind: text };
    const backMs = intervalMs(text);
    return backMs === null ? null : { kind: 'timestamp', timestampMs: nowMs - backMs };
  }
  const offset = integerValue(value);
  return offset === null || offset < 0 ? null : { kind: 'offset', offset };
}

export function basicGetRefusal(name: string, virtualHost: string): AmqpConnectionError {
  return new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - basic.get not supported by stream queues ${queueResource(name, virtualHost)}`);
}

export function purgeRefusal(name: string, virtualHost: string): AmqpConnectionError {
  return new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - queue.purge not supported by stream queues ${queueResource(name, virtualHost)}`);
}

function describe(value: FieldValue): string {
  switch (value.type) {
    case 'longString':
    case 'bytes':
      return value.value.toString('utf8');
    case 'array':
    case 'table':
      return value.type;
    case 'void':
      return 'void';
    case 'decimal':
      return String(value.unscaledValue);
    default:
      return String(value.value);
  }
}
