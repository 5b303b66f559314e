/**
 * The headers exchange, as RabbitMQ routes it: the routing key is ignored; a binding's arguments
 * are the headers a message must carry, and its `x-match` argument says how many of them:
 *
 *   x-match       a message matches when                     arguments compared
 *   all (default) every compared argument matches a header   all but those whose name starts with "x-"
 *   any           at least one compared argument does         all but those whose name starts with "x-"
 *   all-with-x    as all                                     all but x-match itself
 *   any-with-x    as any                                     all but x-match itself
 *
 * So `all` with nothing to compare matches every message and `any` with nothing matches none. An
 * argument of type void asks only that the header be there, whatever its value. Otherwise the
 * header's value must equal the argument's the way RabbitMQ compares them (Erlang's `==` on the
 * values, the wire types set aside):
 *   - numbers (every integer type, int64, timestamp, float32, float64) by numeric value, so an
 *     int32 5 matches an int64 5 and a float64 5.0;
 *   - longString and bytes by their bytes, either type against either;
 *   - boolean with boolean, decimal with decimal (same scale and unscaled value);
 *   - arrays element by element and nested tables name by name, each element or entry with the
 *     same type and value (inside them RabbitMQ keeps the types); and an empty array equals an
 *     empty table, both being empty lists in RabbitMQ.
 * RabbitMQ compares nested tables in wire order; here the order of their names does not matter.
 *
 * An x-match that is not one of the four strings is treated as `all` (RabbitMQ's legacy rule);
 * `headersBindingError` tells, as RabbitMQ does when binding, that such a binding is to be refused.
 */
import type { Binding, BindingMatcher } from './binding-matcher.js';
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';
import { DestinationBindings } from './destination-bindings.js';
import { fieldValuesEqual } from './field-table-equality.js';

export type HeadersMatchKind = 'all' | 'any' | 'all-with-x' | 'any-with-x';

const matchKinds: readonly HeadersMatchKind[] = ['all', 'any', 'all-with-x', 'any-with-x'];
const matchArgument = 'x-match';
const extensionPrefix = 'x-';

/** A binding with what its arguments ask of a message's headers, worked out once when bound. */
interface HeadersBinding<Destination> extends Binding<Destination> {
  readonly requireAll: boolean;
  readonly conditions: readonly (readonly [name: string, value: FieldValue])[];
}

/** The binding's x-match; anything but one of the four strings counts as `all`. */
export function headersMatchKind(bindingArguments: FieldTable): HeadersMatchKind {
  const value = bindingArguments.get(matchArgument);
  if (value?.type !== 'longString') return 'all';
  const text = value.value.toString('utf8');
  return matchKinds.find((kind) => kind === text) ?? 'all';
}

/**
 * Why RabbitMQ refuses to bind a headers exchange with these arguments (x-match present but not a
 * long string, or not one of the four values); undefined when they are fine. The binding command
 * answers with PRECONDITION_FAILED (406) and this text.
 */
export function headersBindingError(bindingArguments: FieldTable): string | undefined {
  const value = bindingArguments.get(matchArgument);
  if (value === undefined) return undefined;
  if (value.type !== 'longString') return `invalid x-match field type ${value.type}; expected longstr`;
  const text = value.value.toString('utf8');
  if (matchKinds.some((kind) => kind === text)) return undefined;
  return `invalid x-match field value ${JSON.stringify(text)}; expected all, any, all-with-x, or any-with-x`;
}

function compile<Destination>(binding: Binding<Destination>): HeadersBinding<Destination> {
  const kind = headersMatchKind(binding.arguments);
  const withExtensions = kind === 'all-with-x' || kind === 'any-with-x';
  const conditions: (readonly [string, FieldValue])[] = [];
  for (const [name, value] of binding.arguments) {
    if (name === matchArgument) continue;
    if (!withExtensions && name.startsWith(extensionPrefix)) continue;
    conditions.push([name, value]);
  }
  return {
    destination: binding.destination,
    routingKey: binding.routingKey,
    arguments: binding.arguments,
    requireAll: kind === 'all' || kind === 'all-with-x',
    conditions,
  };
}

/** Whether the message headers satisfy the binding. */
function headersMatch(binding: HeadersBinding<unknown>, headers: FieldTable | undefined): boolean {
  if (binding.requireAll) {
    for (const [name, wanted] of binding.conditions) {
      const header = headers?.get(name);
      if (header === undefined || !headerValueMatches(wanted, header)) return false;
    }
    return true;
  }
  for (const [name, wanted] of binding.conditions) {
    const header = headers?.get(name);
    if (header !== undefined && headerValueMatches(wanted, header)) return true;
  }
  return false;
}

/** Whether a header satisfies one binding argument (see the comparison rules above). */
export function headerValueMatches(wanted: FieldValue, header: FieldValue): boolean {
  if (wanted.type === 'void') return true;
  const wantedNumber = numericValue(wanted);
  if (wantedNumber !== undefined) {
    const headerNumber = numericValue(header);
    return headerNumber !== undefined && numbersEqual(wantedNumber, headerNumber);
  }
  switch (wanted.type) {
    case 'longString':
    case 'bytes':
      return (header.type === 'longString' || header.type === 'bytes') && wanted.value.equals(header.value);
    case 'array':
      if (wanted.value.length === 0 && header.type === 'table' && header.value.size === 0) return true;
      return fieldValuesEqual(wanted, header);
    case 'table':
      if (wanted.value.size === 0 && header.type === 'array' && header.value.length === 0) return true;
      return fieldValuesEqual(wanted, header);
    default:
      return fieldValuesEqual(wanted, header);
  }
}

function numericValue(value: FieldValue): number | bigint | undefined {
  switch (value.type) {
    case 'int8': case 'uint8': case 'int16': case 'uint16': case 'int32': case 'uint32':
    case 'float32': case 'float64': case 'int64': case 'timestamp':
      return value.value;
    default:
      return undefined;
  }
}

/** Exact numeric equality across numbers and bigints (1n equals 1 and 1.0, never 1.5). */
function numbersEqual(left: number | bigint, right: number | bigint): boolean {
  if (typeof left === 'number' && typeof right === 'number') return left === right;
  if (typeof left === 'bigint' && typeof right === 'bigint') return left === right;
  const [whole, other] = typeof left === 'bigint' ? [left, right as number] : [right as bigint, left];
  return Number.isInteger(other) && BigInt(other) === whole;
}

export class HeadersMatcher<Destination> implements BindingMatcher<Destination> {
  private readonly all = new DestinationBindings<Destination, HeadersBinding<Destination>>();

  get size(): number {
    return this.all.size;
  }

  add(binding: Binding<Destination>): boolean {
    return this.all.add(compile(binding));
  }

  remove(binding: Binding<Destination>): boolean {
    return this.all.remove(binding);
  }

  removeDestination(destination: Destination): number {
    return this.all.removeDestination(destination);
  }

  /** Every binding is tested (headers give no key to index by), each destination at most until one matches. */
  route(_routingKey: string, headers: FieldTable | undefined, into: Set<Destination>): void {
    for (const [destination, bindings] of this.all.byDestinationEntries()) {
      if (into.has(destination)) continue;
      if (bindings.some((binding) => headersMatch(binding, headers))) into.add(destination);
    }
  }

  /** A snapshot: the matcher may be changed while going through it. */
  bindings(): Binding<Destination>[] {
    return this.all.bindings()
      .map((binding) => ({ destination: binding.destination, routingKey: binding.routingKey, arguments: binding.arguments }));
  }
}
