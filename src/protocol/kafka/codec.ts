/**
 * The codec of each Kafka message: one decoder and one encoder covering every version of it.
 *
 * They are generated ahead of time from the declarations in messages/*.ts (schema.ts) into
 * checked-in TypeScript, generated/*.ts, by `npm run generate` (codegen/), so they are type-checked
 * against the shapes the handlers use, can be read and stepped through, and show in stack traces.
 * A unit test fails when a generated file no longer matches its declaration. The generated code only
 * calls Reader and Writer methods, which do all bounds checking.
 *
 * Encoding a non-default value into a request version that cannot carry it is a bug in the caller
 * and throws RangeError (Kafka's rule for non-ignorable fields). Responses are built by the broker
 * for whatever version the client speaks, and Kafka marks the broker-filled fields that newer versions
 * added as ignorable, so in responses such fields are simply left out. Bytes that cannot be a valid
 * message throw MalformedInputError.
 */
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { generatedCodecs } from './generated/index.js';
import type { Decoded, Encodable, MessageSchema } from './schema.js';

export interface MessageCodec<S extends MessageSchema> {
  readonly schema: S;
  readonly lowestVersion: number;
  readonly highestVersion: number;
  isFlexible(version: number): boolean;
  decode(version: number, reader: Reader): Decoded<S>;
  encode(version: number, value: Encodable<S>, writer: Writer): void;
}

const codecsBySchema = new Map(generatedCodecs.map((codec) => [codec.schema, codec]));

/** The generated codec of a declaration exported by messages/*.ts. */
export function codecFor<S extends MessageSchema>(schema: S): MessageCodec<S> {
  const codec = codecsBySchema.get(schema);
  if (codec === undefined) throw new Error(`${schema.name} ${schema.type} has no generated codec: run npm run generate`);
  // The codec was generated from this very declaration object, so it has this declaration's types.
  return codec as MessageCodec<S>;
}
