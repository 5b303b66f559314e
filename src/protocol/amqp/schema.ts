/**
 * The declarative form every AMQP 0-9-1 method is written in, once: its class and method ids (from
 * the specification), which peer sends it, whether content (a header and body frames) follows it,
 * and its arguments in wire order with their domains. The basic class's content-header properties
 * are declared the same way.
 *
 * `npm run generate` (codegen/) turns the declarations in classes/ into the straight-line codecs
 * in generated/; the types below derive the TypeScript shape of each method's arguments from the
 * same declaration, and the generated code is typed with them.
 *
 * Domains (AMQP's primitive types) and their TypeScript values:
 *
 *   octet → number (8 bits)   short → number (16)   long → number (32)   longlong → bigint (64)
 *   bit → boolean             shortstr → string     longstr → Buffer     timestamp → bigint
 *   table → FieldTable
 *
 * All unsigned, big-endian. Consecutive bit arguments share octets: the first bit is the lowest
 * bit of an octet, up to eight to an octet; any other domain ends the run.
 */
import type { FieldTable } from './field-table.js';

export type Domain = 'octet' | 'short' | 'long' | 'longlong' | 'bit' | 'shortstr' | 'longstr' | 'timestamp' | 'table';

export interface Argument {
  /** The spec's name in camel case ("no-wait" → "noWait"; "reserved-1" → "reserved1"). */
  readonly name: string;
  readonly domain: Domain;
}

/** Which peer sends a method; a method arriving from the other side is a protocol error (503). */
export type Sender = 'client' | 'server' | 'both';

export interface MethodDeclaration<Arguments extends readonly Argument[] = readonly Argument[]> {
  /** "connection.start-ok", as the specification names it. */
  readonly name: string;
  readonly classId: number;
  readonly methodId: number;
  readonly sender: Sender;
  /** A content header and body frames follow the method (basic.publish, deliver, return, get-ok). */
  readonly content: boolean;
  readonly arguments: Arguments;
}

export interface PropertiesDeclaration<Properties extends readonly Argument[] = readonly Argument[]> {
  /** The class whose content headers carry these properties. */
  readonly className: string;
  readonly classId: number;
  /** In flag order: the first property is bit 15 of the first property-flags word. */
  readonly properties: Properties;
}

export function argument<const Name extends string, const TypeOfDomain extends Domain>(
  name: Name,
  domain: TypeOfDomain,
): { readonly name: Name; readonly domain: TypeOfDomain } {
  return { name, domain };
}

export function method<const Arguments extends readonly Argument[]>(declaration: MethodDeclaration<Arguments>): MethodDeclaration<Arguments> {
  return declaration;
}

export function contentProperties<const Properties extends readonly Argument[]>(
  declaration: PropertiesDeclaration<Properties>,
): PropertiesDeclaration<Properties> {
  return declaration;
}

export type DomainValue<D extends Domain> = D extends 'octet' | 'short' | 'long'
  ? number
  : D extends 'longlong' | 'timestamp'
    ? bigint
    : D extends 'bit'
      ? boolean
      : D extends 'shortstr'
        ? string
        : D extends 'longstr'
          ? Buffer
          : FieldTable;

/** A method's arguments, every one present. */
export type Arguments<M> = M extends MethodDeclaration<infer List>
  ? { -readonly [A in List[number] as A['name']]: DomainValue<A['domain']> }
  : never;

/** Content-header properties: each one present or absent, as its flag says. */
export type Properties<P> = P extends PropertiesDeclaration<infer List>
  ? { -readonly [A in List[number] as A['name']]?: DomainValue<A['domain']> }
  : never;
