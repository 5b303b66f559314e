/**
 * The declarative form every Kafka API is written in, once: its fields, their types, the versions
 * each field exists in, which versions allow null, and which fields are tagged (KIP-482).
 *
 * `npm run generate` (codegen/) turns each declaration into a checked-in decoder and encoder
 * (generated/*.ts, found through `codecFor` in codec.ts); the types below derive the TypeScript shape
 * of each message from the same declaration, and the generated code is typed with them, so the
 * handler that reads a request and the codec that parsed it cannot disagree.
 *
 * Version ranges are written as Kafka writes them: "0+", "3-7", "none".
 */

export type VersionRange = `${number}+` | `${number}-${number}` | `${number}` | 'none';

export type Primitive =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'uuid'
  /** Record batches: bytes on the wire, kept as a view of the frame and never decoded by the codec. */
  | 'records';

export type DefaultValue = number | string | boolean | null;

export interface FieldOptions {
  /** Versions the field exists in; "0+" when absent. */
  readonly versions?: VersionRange;
  /** Versions in which null is allowed. */
  readonly nullable?: VersionRange;
  /** Tag number, for fields carried in the tagged-fields section. */
  readonly tag?: number;
  /** Versions in which the field is tagged; the field exists only as a tagged field there. */
  readonly taggedVersions?: VersionRange;
  /** Value used when the field is absent in a version, or omitted by the encoder's caller. */
  readonly default?: DefaultValue;
}

export interface PrimitiveField extends FieldOptions {
  readonly name: string;
  readonly type: Primitive;
}
export interface ArrayField extends FieldOptions {
  readonly name: string;
  readonly type: 'array';
  /** A primitive element type, or the fields of each struct element. */
  readonly items: Primitive | readonly Field[];
}
export interface StructField extends FieldOptions {
  readonly name: string;
  readonly type: 'struct';
  readonly fields: readonly Field[];
}
export type Field = PrimitiveField | ArrayField | StructField;

export interface MessageSchema<Fields extends readonly Field[] = readonly Field[]> {
  readonly name: string;
  readonly apiKey: number;
  readonly type: 'request' | 'response';
  readonly validVersions: VersionRange;
  /** First flexible version ("none" if never flexible). */
  readonly flexibleVersions: VersionRange;
  readonly fields: Fields;
}

// ── Builders: keep literal types so the message shape can be derived ───────────────────────────
//
// Inside `fields: [...]` each builder call is contextually typed by `Field`; without `NoInfer` on
// the return types, a call with no options argument would infer `Options` from that context instead
// of `{}` and widen the derived message shape into a union of every possible type.

export function field<const Name extends string, const Type extends Primitive, const Options extends FieldOptions = {}>(
  name: Name,
  type: Type,
  options?: Options,
): { readonly name: Name; readonly type: Type } & NoInfer<Options> {
  return { name, type, ...(options as Options) };
}

export function array<
  const Name extends string,
  const Items extends Primitive | readonly Field[],
  const Options extends FieldOptions = {},
>(name: Name, items: Items, options?: Options): { readonly name: Name; readonly type: 'array'; readonly items: NoInfer<Items> } & NoInfer<Options> {
  return { name, type: 'array', items, ...(options as Options) };
}

export function struct<const Name extends string, const Fields extends readonly Field[], const Options extends FieldOptions = {}>(
  name: Name,
  fields: Fields,
  options?: Options,
): { readonly name: Name; readonly type: 'struct'; readonly fields: NoInfer<Fields> } & NoInfer<Options> {
  return { name, type: 'struct', fields, ...(options as Options) };
}

export function message<const Fields extends readonly Field[]>(schema: MessageSchema<Fields>): MessageSchema<Fields> {
  return schema;
}

// ── Deriving TypeScript types ───────────────────────────────────────────────────────────────────

type PrimitiveValue<P extends Primitive> = P extends 'bool'
  ? boolean
  : P extends 'int64'
    ? bigint
    : P extends 'string'
      ? string
      : P extends 'bytes' | 'uuid' | 'records'
        ? Buffer
        : number;

type NullIfNullable<F> = F extends { readonly nullable: VersionRange } ? null : never;

/** Record batches may be handed to the encoder as several chunks, written back to back without copying. */
type RecordsValue<Mode> = Mode extends 'decoded' ? Buffer : Buffer | readonly Buffer[];

type FieldValue<F extends Field, Mode> = F extends { readonly type: 'records' }
  ? RecordsValue<Mode> | NullIfNullable<F>
  : F extends { readonly type: 'array'; readonly items: infer Items }
  ? Items extends Primitive
    ? PrimitiveValue<Items>[] | NullIfNullable<F>
    : Items extends readonly Field[]
      ? Shape<Items, Mode>[] | NullIfNullable<F>
      : never
  : F extends { readonly type: 'struct'; readonly fields: infer Fields extends readonly Field[] }
    ? Shape<Fields, Mode> | NullIfNullable<F>
    : F extends { readonly type: infer P extends Primitive }
      ? PrimitiveValue<P> | NullIfNullable<F>
      : never;

/** Fields a caller may leave out when encoding: those with a declared default, and tagged ones. */
type Omittable<F> = F extends { readonly default: DefaultValue } ? true : F extends { readonly tag: number } ? true : false;

type Shape<Fields extends readonly Field[], Mode> = Mode extends 'decoded'
  ? { -readonly [F in Fields[number] as F['name']]: FieldValue<F, Mode> }
  : { -readonly [F in Fields[number] as Omittable<F> extends true ? never : F['name']]: FieldValue<F, Mode> } & {
      -readonly [F in Fields[number] as Omittable<F> extends true ? F['name'] : never]?: FieldValue<F, Mode>;
    };

/** A message as the decoder returns it: every field present (defaults filled in). */
export type Decoded<S> = S extends MessageSchema<infer Fields> ? Shape<Fields, 'decoded'> : never;
/** A message as the encoder takes it: fields with a default may be left out. */
export type Encodable<S> = S extends MessageSchema<infer Fields> ? Shape<Fields, 'encodable'> : never;

// ── Version ranges ──────────────────────────────────────────────────────────────────────────────

export interface ParsedRange {
  readonly lowest: number;
  /** Infinity for open ranges. */
  readonly highest: number;
}

export function parseRange(range: VersionRange | undefined): ParsedRange {
  if (range === undefined) return { lowest: 0, highest: Infinity };
  if (range === 'none') return { lowest: 1, highest: 0 };
  if (range.endsWith('+')) return { lowest: Number(range.slice(0, -1)), highest: Infinity };
  const dash = range.indexOf('-');
  if (dash < 0) return { lowest: Number(range), highest: Number(range) };
  return { lowest: Number(range.slice(0, dash)), highest: Number(range.slice(dash + 1)) };
}

export function inRange(range: VersionRange | undefined, version: number): boolean {
  const { lowest, highest } = parseRange(range);
  return version >= lowest && version <= highest;
}
