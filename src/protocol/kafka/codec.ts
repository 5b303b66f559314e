/**
 * Compiles a message declaration (schema.ts) into one decoder and one encoder per version.
 *
 * Each is straight-line JavaScript generated once, on first use, with the version's decisions
 * (which fields exist, compact or classic encoding, which fields are tagged) already taken, so
 * nothing is interpreted per field at run time. The generated code only calls Reader and Writer
 * methods, which do all bounds checking.
 *
 * Encoding a non-default value into a request version that cannot carry it is a bug in the caller
 * and throws (Kafka's rule for non-ignorable fields). Responses are built by the broker for whatever
 * version the client speaks, and Kafka marks the broker-filled fields that newer versions added as
 * ignorable, so in responses such fields are simply left out.
 */
import { MalformedInputError } from '../wire/errors.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { inRange, parseRange } from './schema.js';
import type { DefaultValue, Decoded, Encodable, Field, MessageSchema, Primitive } from './schema.js';

export interface MessageCodec<S extends MessageSchema> {
  readonly schema: S;
  readonly lowestVersion: number;
  readonly highestVersion: number;
  isFlexible(version: number): boolean;
  decode(version: number, reader: Reader): Decoded<S>;
  encode(version: number, value: Encodable<S>, writer: Writer): void;
}

type DecodeFunction = (reader: Reader) => unknown;
type EncodeFunction = (value: unknown, writer: Writer) => void;

const zeroUuid = Buffer.alloc(16);
const emptyBytes = Buffer.alloc(0);

/** Helpers visible to generated code. */
const runtime = {
  fail(message: string): never {
    throw new MalformedInputError(message);
  },
  cannotCarry(field: string, version: number): never {
    throw new RangeError(`field ${field} has a non-default value but version ${version} cannot carry it`);
  },
  isDefault(value: unknown, defaultValue: unknown): boolean {
    if (value === undefined || value === defaultValue) return true;
    if (Array.isArray(value)) return value.length === 0 && Array.isArray(defaultValue);
    if (Buffer.isBuffer(value) && Buffer.isBuffer(defaultValue)) return value.equals(defaultValue);
    return false;
  },
  Writer,
  zeroUuid,
  emptyBytes,
};

export function compileCodec<S extends MessageSchema>(schema: S): MessageCodec<S> {
  const { lowest, highest } = parseRange(schema.validVersions);
  const decoders = new Map<number, DecodeFunction>();
  const encoders = new Map<number, EncodeFunction>();
  const isFlexible = (version: number) => inRange(schema.flexibleVersions, version);
  const checkVersion = (version: number) => {
    if (version < lowest || version > highest) throw new RangeError(`${schema.name} ${schema.type} has no version ${version}`);
  };
  return {
    schema,
    lowestVersion: lowest,
    highestVersion: highest,
    isFlexible,
    decode(version, reader) {
      let decoder = decoders.get(version);
      if (decoder === undefined) {
        checkVersion(version);
        decoder = buildDecoder(schema, version, isFlexible(version));
        decoders.set(version, decoder);
      }
      return decoder(reader) as Decoded<S>;
    },
    encode(version, value, writer) {
      let encoder = encoders.get(version);
      if (encoder === undefined) {
        checkVersion(version);
        encoder = buildEncoder(schema, version, isFlexible(version));
        encoders.set(version, encoder);
      }
      encoder(value, writer);
    },
  };
}

/** Source text of a field's default value. */
function defaultSource(field: Field, version: number): string {
  if (field.type === 'array') return field.default === null ? 'null' : '[]';
  if (field.type === 'struct') {
    if (field.default === null) return 'null';
    const parts = field.fields.map((inner) => `${JSON.stringify(inner.name)}: ${defaultSource(inner, version)}`);
    return `{ ${parts.join(', ')} }`;
  }
  return primitiveDefault(field.type, field.default);
}

function primitiveDefault(type: Primitive, declared: DefaultValue | undefined): string {
  if (declared === null) return 'null';
  switch (type) {
    case 'bool':
      return declared === true ? 'true' : 'false';
    case 'int64':
      return `${BigInt(declared === undefined ? 0 : (declared as number))}n`;
    case 'string':
      return JSON.stringify(declared ?? '');
    case 'bytes':
      return 'rt.emptyBytes';
    case 'records':
      return 'null';
    case 'uuid':
      return 'rt.zeroUuid';
    default:
      return String(declared ?? 0);
  }
}

function isTaggedIn(field: Field, version: number, flexible: boolean): boolean {
  return flexible && field.tag !== undefined && inRange(field.taggedVersions ?? field.versions, version);
}

// ── Decoders ────────────────────────────────────────────────────────────────────────────────────

function readPrimitive(type: Primitive, nullable: boolean, flexible: boolean, reader: string): string {
  switch (type) {
    case 'string':
      return `${reader}.${nullable ? 'nullable' : ''}${flexible ? (nullable ? 'CompactString' : 'compactString') : nullable ? 'String' : 'string'}()`;
    case 'bytes':
    case 'records':
      return `${reader}.${nullable ? 'nullable' : ''}${flexible ? (nullable ? 'CompactBytes' : 'compactBytes') : nullable ? 'Bytes' : 'bytes'}()`;
    default:
      return `${reader}.${type}()`;
  }
}

class CodeBuilder {
  private readonly lines: string[] = [];
  private counter = 0;
  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}${this.counter}`;
  }
  line(text: string): void {
    this.lines.push(text);
  }
  toString(): string {
    return this.lines.join('\n');
  }
}

function decodeField(code: CodeBuilder, field: Field, version: number, flexible: boolean, target: string, reader: string): void {
  const nullable = inRange(field.nullable ?? 'none', version);
  const assign = `${target}[${JSON.stringify(field.name)}]`;
  if (field.type === 'array') {
    const count = code.fresh('n');
    const items = code.fresh('a');
    const index = code.fresh('i');
    code.line(`{ const ${count} = ${reader}.${flexible ? 'compactArrayLength' : 'arrayLength'}();`);
    code.line(`if (${count} < 0) { ${nullable ? `${assign} = null;` : `rt.fail(${JSON.stringify(`null array ${field.name}`)});`} } else {`);
    code.line(`const ${items} = new Array(${count});`);
    code.line(`for (let ${index} = 0; ${index} < ${count}; ${index}++) {`);
    if (typeof field.items === 'string') {
      code.line(`${items}[${index}] = ${readPrimitive(field.items, false, flexible, reader)};`);
    } else {
      const element = code.fresh('e');
      code.line(`const ${element} = {};`);
      decodeFields(code, field.items, version, flexible, element, reader);
      code.line(`${items}[${index}] = ${element};`);
    }
    code.line(`} ${assign} = ${items}; } }`);
    return;
  }
  if (field.type === 'struct') {
    // A nullable struct is preceded by an int8 marker: -1 null, 1 present.
    if (nullable) code.line(`if (${reader}.int8() < 0) { ${assign} = null; } else`);
    const element = code.fresh('s');
    code.line(`{ const ${element} = {};`);
    decodeFields(code, field.fields, version, flexible, element, reader);
    code.line(`${assign} = ${element}; }`);
    return;
  }
  code.line(`${assign} = ${readPrimitive(field.type, nullable, flexible, reader)};`);
}

function decodeFields(code: CodeBuilder, fields: readonly Field[], version: number, flexible: boolean, target: string, reader: string): void {
  const tagged: Field[] = [];
  for (const field of fields) {
    if (isTaggedIn(field, version, flexible)) {
      code.line(`${target}[${JSON.stringify(field.name)}] = ${defaultSource(field, version)};`);
      tagged.push(field);
    } else if (inRange(field.versions, version)) {
      decodeField(code, field, version, flexible, target, reader);
    } else {
      code.line(`${target}[${JSON.stringify(field.name)}] = ${defaultSource(field, version)};`);
    }
  }
  if (!flexible) return;
  if (tagged.length === 0) {
    code.line(`${reader}.taggedFields();`);
    return;
  }
  const tagReader = code.fresh('t');
  code.line(`${reader}.taggedFields((tag, ${tagReader}) => { switch (tag) {`);
  for (const field of tagged) {
    code.line(`case ${field.tag}:`);
    decodeField(code, field, version, flexible, target, tagReader);
    code.line('break;');
  }
  code.line('} });');
}

function buildDecoder(schema: MessageSchema, version: number, flexible: boolean): DecodeFunction {
  const code = new CodeBuilder();
  code.line('const m = {};');
  decodeFields(code, schema.fields, version, flexible, 'm', 'r');
  code.line('return m;');
  const factory = new Function('rt', `return function decode${schema.name}${schema.type}V${version}(r) {\n${code}\n};`);
  return factory(runtime) as DecodeFunction;
}

// ── Encoders ────────────────────────────────────────────────────────────────────────────────────

function writePrimitive(type: Primitive, nullable: boolean, flexible: boolean, writer: string, value: string): string {
  switch (type) {
    case 'string':
      return `${writer}.${nullable ? 'nullable' : ''}${flexible ? (nullable ? 'CompactString' : 'compactString') : nullable ? 'String' : 'string'}(${value});`;
    case 'records':
      return `${writer}.records(${value}, ${flexible});`;
    case 'bytes':
      return `${writer}.${nullable ? 'nullable' : ''}${flexible ? (nullable ? 'CompactBytes' : 'compactBytes') : nullable ? 'Bytes' : 'bytes'}(${value});`;
    default:
      return `${writer}.${type}(${value});`;
  }
}

function encodeField(code: CodeBuilder, field: Field, version: number, flexible: boolean, source: string, writer: string, strict: boolean): void {
  const nullable = inRange(field.nullable ?? 'none', version);
  const value = code.fresh('v');
  // Only a missing field takes the default: an explicit null stays null.
  code.line(`{ let ${value} = ${source}[${JSON.stringify(field.name)}]; if (${value} === undefined) ${value} = ${defaultSource(field, version)};`);
  if (field.type === 'array') {
    code.line(`if (${value} === null) { ${writer}.${flexible ? 'compactArrayLength' : 'arrayLength'}(-1); } else {`);
    code.line(`${writer}.${flexible ? 'compactArrayLength' : 'arrayLength'}(${value}.length);`);
    const element = code.fresh('e');
    code.line(`for (const ${element} of ${value}) {`);
    if (typeof field.items === 'string') {
      code.line(writePrimitive(field.items, false, flexible, writer, element));
    } else {
      encodeFields(code, field.items, version, flexible, element, writer, strict);
    }
    code.line('} }');
  } else if (field.type === 'struct') {
    if (nullable) {
      code.line(`if (${value} === null) { ${writer}.int8(-1); } else { ${writer}.int8(1);`);
      encodeFields(code, field.fields, version, flexible, value, writer, strict);
      code.line('}');
    } else {
      encodeFields(code, field.fields, version, flexible, value, writer, strict);
    }
  } else {
    code.line(writePrimitive(field.type, nullable, flexible, writer, value));
  }
  code.line('}');
}

function encodeFields(code: CodeBuilder, fields: readonly Field[], version: number, flexible: boolean, source: string, writer: string, strict: boolean): void {
  const tagged: Field[] = [];
  for (const field of fields) {
    if (isTaggedIn(field, version, flexible)) {
      tagged.push(field);
    } else if (inRange(field.versions, version)) {
      encodeField(code, field, version, flexible, source, writer, strict);
    } else if (strict && field.type !== 'struct') {
      const name = JSON.stringify(field.name);
      code.line(
        `if (!rt.isDefault(${source}[${name}], ${defaultSource(field, version)})) rt.cannotCarry(${name}, ${version});`,
      );
    }
  }
  if (!flexible) return;
  if (tagged.length === 0) {
    code.line(`${writer}.uvarint(0);`);
    return;
  }
  const count = code.fresh('tc');
  code.line(`let ${count} = 0;`);
  const sorted = [...tagged].sort((left, right) => (left.tag ?? 0) - (right.tag ?? 0));
  for (const field of sorted) {
    code.line(`if (!rt.isDefault(${source}[${JSON.stringify(field.name)}], ${defaultSource(field, version)})) ${count}++;`);
  }
  code.line(`${writer}.uvarint(${count});`);
  for (const field of sorted) {
    const sub = code.fresh('w');
    code.line(`if (!rt.isDefault(${source}[${JSON.stringify(field.name)}], ${defaultSource(field, version)})) {`);
    code.line(`const ${sub} = new rt.Writer(64);`);
    encodeField(code, field, version, flexible, source, sub, strict);
    const bytes = code.fresh('b');
    code.line(`const ${bytes} = ${sub}.toBuffer();`);
    code.line(`${writer}.uvarint(${field.tag}); ${writer}.uvarint(${bytes}.length); ${writer}.raw(${bytes}); }`);
  }
}

function buildEncoder(schema: MessageSchema, version: number, flexible: boolean): EncodeFunction {
  const code = new CodeBuilder();
  encodeFields(code, schema.fields, version, flexible, 'm', 'w', schema.type === 'request');
  const factory = new Function('rt', `return function encode${schema.name}${schema.type}V${version}(m, w) {\n${code}\n};`);
  return factory(runtime) as EncodeFunction;
}
