/**
 * Small builders for the routing tests: field values and tables written briefly, bindings, the
 * destinations a routing reaches, and a seeded random source so a failing case replays from its seed.
 */
import type { FieldTable, FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import type { Binding, BindingMatcher } from '../../../../src/queues/routing/binding-matcher.js';

export function longString(text: string): FieldValue {
  return { type: 'longString', value: Buffer.from(text, 'utf8') };
}

export function int32(value: number): FieldValue {
  return { type: 'int32', value };
}

export function int64(value: bigint): FieldValue {
  return { type: 'int64', value };
}

export const voidValue: FieldValue = { type: 'void' };

/** A table from name/value pairs, in the order given. */
export function table(...entries: (readonly [string, FieldValue])[]): FieldTable {
  return new Map(entries);
}

export function binding<Destination>(destination: Destination, routingKey: string, bindingArguments: FieldTable = new Map()): Binding<Destination> {
  return { destination, routingKey, arguments: bindingArguments };
}

/** The destinations a message reaches, sorted (destinations here are strings). */
export function routed(matcher: BindingMatcher<string>, routingKey: string, headers?: FieldTable): string[] {
  const into = new Set<string>();
  matcher.route(routingKey, headers, into);
  return [...into].sort();
}

export type Random = () => number;

/** The project's seeded generator (mulberry32), so a failing seed replays exactly. */
export { seededRandom } from '../../../helpers/record-fixtures.js';

export function pick<T>(random: Random, choices: readonly T[]): T {
  return choices[Math.floor(random() * choices.length)]!;
}
