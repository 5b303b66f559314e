/**
 * The `x-delayed-message` exchange type, as RabbitMQ's delayed-message-exchange plugin defines it:
 * an exchange declared with this type and an `x-delayed-type` argument naming how it routes
 * (direct, fanout, topic or headers) holds each message published to it with an `x-delay` header
 * of more than 0 ms, and routes it like an exchange of that type once its time has come.
 *
 * The header as the plugin reads it: an integer of any wire width; a float or decimal, truncated;
 * a string holding a decimal integer ("1500"). Anything else, a missing header, a delay ≤ 0 or one
 * above 2^32 − 1 ms (the plugin's timer limit) routes the message at once, header untouched. A
 * message that was held is routed with `x-delay` set to minus its delay (a signed 32-bit integer
 * when it fits), so that it is not held again when it passes another delayed exchange, and its
 * consumers can tell it was delayed.
 */
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../protocol/amqp/generated/basic.js';
import type { BasicProperties } from '../../protocol/amqp/content-header.js';
import { Reader } from '../../protocol/wire/reader.js';
import { Writer } from '../../protocol/wire/writer.js';
import type { ExchangeTypeName } from '../routing/binding-matcher.js';
import { isExchangeTypeName } from '../routing/matcher-for.js';

export const delayedExchangeType = 'x-delayed-message';
export const delayedTypeArgument = 'x-delayed-type';
export const delayHeader = 'x-delay';
/** The plugin's upper bound (Erlang's longest timer); longer delays route at once. */
export const maxDelayMs = 4_294_967_295;

/** Every exchange type a client may declare: the routing types and the delayed one. */
export type DeclarableExchangeType = ExchangeTypeName | typeof delayedExchangeType;

export function isDeclarableExchangeType(text: string): text is DeclarableExchangeType {
  return text === delayedExchangeType || isExchangeTypeName(text);
}

/**
 * The routing type of a delayed exchange (its `x-delayed-type` argument), or the reason it has
 * none: the argument is required and must name a routing type.
 */
export function delayedRoutingType(exchangeArguments: FieldTable): ExchangeTypeName | { readonly problem: string } {
  const argument = exchangeArguments.get(delayedTypeArgument);
  if (argument === undefined) return { problem: `Invalid argument, '${delayedTypeArgument}' is required for an exchange of type '${delayedExchangeType}' (direct, fanout, topic or headers)` };
  const text = argument.type === 'longString' || argument.type === 'bytes' ? argument.value.toString('utf8') : null;
  if (text === null || !isExchangeTypeName(text)) {
    const shown = text === null ? `a value of type ${argument.type}` : `'${text}'`;
    return { problem: `Invalid argument, '${delayedTypeArgument}' must be an existing exchange type (direct, fanout, topic or headers), not ${shown}` };
  }
  return text;
}

/** The delay the `x-delay` header asks for, in ms; 0 when the message is to be routed now. */
export function delayOf(headers: FieldTable | undefined): number {
  const value = headers?.get(delayHeader);
  if (value === undefined) return 0;
  const delay = numericValue(value);
  if (delay === null || !(delay > 0) || delay > maxDelayMs) return 0;
  return delay;
}

function numericValue(value: FieldValue): number | null {
  switch (value.type) {
    case 'int8': case 'uint8': case 'int16': case 'uint16': case 'int32': case 'uint32':
      return value.value;
    case 'int64':
      return Number(value.value);
    case 'float32': case 'float64':
      return Number.isFinite(value.value) ? Math.trunc(value.value) : null;
    case 'decimal':
      return Math.trunc(value.unscaledValue / 10 ** value.scale);
    case 'longString': case 'bytes': {
      const text = value.value.toString('utf8');
      return /^[+-]?[0-9]{1,16}$/.test(text) ? Number(text) : null;
    }
    default:
      return null;
  }
}

/** The properties (raw, as stored) with `x-delay` set to −delayMs, as a held message is routed. */
export function propertiesWithDelayServed(properties: BasicProperties, delayMs: number): Buffer {
  const headers = new Map(properties.headers ?? []);
  const served: FieldValue = delayMs <= 2 ** 31 ? { type: 'int32', value: -delayMs } : { type: 'int64', value: BigInt(-delayMs) };
  headers.set(delayHeader, served);
  const writer = new Writer();
  encodeBasicProperties({ ...properties, headers }, writer);
  return writer.toBuffer();
}

/** The headers of raw stored properties (what headers exchanges route on). */
export function headersOf(properties: Buffer): FieldTable | undefined {
  return decodeBasicProperties(new Reader(properties)).headers;
}
