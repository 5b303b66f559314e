/**
 * Writes the TypeScript source of the codecs of one messages/*.ts file: for each declared message
 * a decoder and an encoder covering every version, as straight-line code in which each field that
 * does not exist in every version sits under its own `if (version >= N)` test.
 *
 * Shape of the output, for a message with an array of structs:
 *
 *   export const fooRequestCodec = defineCodec(fooRequest, decodeRequest, encodeRequest);
 *   type DecodedRequest = Decoded<typeof fooRequest>;              // one alias per struct path
 *   function decodeRequest(version, reader): DecodedRequest        // locals, then one object literal
 *   function decodeRequestTopics(version, reader): …[]             // one function per array / struct field
 *   function encodeRequest(version, value, writer): void
 *   function encodeRequestTopics(version, values, writer): void
 *   function sizeOfRequestX(version, value): number                // only for values sent as tagged fields
 *
 * Rules kept from the declaration (schema.ts): a field missing from a version decodes to its default;
 * an encoder's caller may leave out fields with defaults; a request field holding a non-default value
 * in a version that cannot carry it throws RangeError; tagged fields (flexible versions) are written
 * only when not default, in tag order, each as tag, size, value.
 */
import { capitalize, SourceWriter, stringLiteral } from '../../codegen/source-writer.js';
import { inRange, parseRange } from '../schema.js';
import type { DefaultValue, Field, MessageSchema, Primitive } from '../schema.js';
import { intersect, subtract, union, versionTest, within } from './version-sets.js';
import type { VersionSet } from './version-sets.js';

export interface DeclaredMessage {
  /** The name the declaration is exported under, e.g. "fetchRequest". */
  readonly exportName: string;
  readonly schema: MessageSchema;
}

/** Names the generated code gives its own variables; a field whose name is one of them gets a suffix. */
const reservedNames = ['version', 'reader', 'writer', 'value', 'values', 'flexible', 'count', 'position', 'items', 'item', 'tag', 'tagReader', 'size'];

const fixedSizes: Partial<Record<Primitive, number>> = { bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, int64: 8, float64: 8, uuid: 16 };

const primitiveTypes: Record<Primitive, string> = {
  bool: 'boolean',
  int8: 'number',
  int16: 'number',
  uint16: 'number',
  int32: 'number',
  int64: 'bigint',
  float64: 'number',
  string: 'string',
  bytes: 'Buffer',
  uuid: 'Buffer',
  records: 'Buffer',
};

/** What the generated file imports from codec-runtime.ts, collected while emitting. */
type RuntimeName =
  | 'defineCodec'
  | 'fail'
  | 'cannotCarry'
  | 'isDefault'
  | 'zeroUuid'
  | 'emptyBytes'
  | 'uvarintSize'
  | 'compactStringSize'
  | 'compactBytesSize'
  | 'compactRecordsSize'
  | 'compactArrayLengthSize';

/** State shared by the messages of one file: imports and type aliases used. */
class FileEmitter {
  readonly runtimeNames = new Set<RuntimeName>();
  readonly typeAliases = new Map<string, string>();

  use(name: RuntimeName): string {
    this.runtimeNames.add(name);
    return name;
  }
}

/** Local names of one generated function, and whether it needs its `flexible` constant. */
class FunctionScope {
  private readonly taken = new Set(reservedNames);
  usesFlexible = false;

  constructor(readonly context: VersionSet) {}

  /** A local variable name for `wanted`, unique in this function. */
  claim(wanted: string): string {
    let name = this.taken.has(wanted) ? `${wanted}Field` : wanted;
    for (let suffix = 2; this.taken.has(name); suffix += 1) name = `${wanted}Field${suffix}`;
    this.taken.add(name);
    return name;
  }
}

/** A struct or array inside one message (or the message itself), e.g. Request › topics › partitions. */
interface Path {
  /** "RequestTopicsPartitions": used in function and type alias names. */
  readonly name: string;
  /** Aliases of the decoded / encodable shape of the path's struct (of one element, for arrays). */
  readonly decodedType: string;
  readonly encodableType: string;
  /**
   * Every version in which the path exists (as a plain or a tagged field): the versions its
   * functions can be called with, against which their `version` tests are written.
   */
  readonly context: VersionSet;
  /** The field the path is; undefined for the message itself. */
  readonly field?: Field;
}

export function emitCodecFile(sourceFile: string, messages: readonly DeclaredMessage[], header: string): string {
  const file = new FileEmitter();
  const codecLines: string[] = [];
  const functions: string[] = [];
  for (const message of messages) {
    const emitter = new MessageEmitter(file, message);
    const { decoder, encoder } = emitter.emit();
    // Decoders, then encoders, then the sizes of tagged values; each group in the order first used.
    const kinds = ['decode', 'encode', 'sizeOf'];
    const byKind = (name: string) => kinds.findIndex((kind) => name.startsWith(kind));
    const names = [...emitter.functions.keys()].sort((left, right) => byKind(left) - byKind(right));
    functions.push(...names.map((name) => emitter.functions.get(name)!));
    codecLines.push(`export const ${message.exportName}Codec = ${file.use('defineCodec')}(${message.exportName}, ${decoder}, ${encoder});`);
  }
  const source = new SourceWriter();
  source.line(header);
  source.line(`import type { Reader } from '../../wire/reader.js';`);
  source.line(`import type { Writer } from '../../wire/writer.js';`);
  source.line(`import { ${[...file.runtimeNames].sort().join(', ')} } from '../codec-runtime.js';`);
  source.line(`import type { Decoded, Encodable } from '../schema.js';`);
  source.line(`import { ${messages.map((message) => message.exportName).join(', ')} } from '../messages/${sourceFile.replace(/\.ts$/, '.js')}';`);
  source.line('');
  for (const line of codecLines) source.line(line);
  source.line('');
  for (const [name, definition] of file.typeAliases) source.line(`type ${name} = ${definition};`);
  for (const text of functions) {
    source.line('');
    for (const line of text.split('\n')) source.line(line);
  }
  return source.toString();
}

type ArrayField = Field & { readonly type: 'array' };
type StructField = Field & { readonly type: 'struct' };

class MessageEmitter {
  private readonly schema: MessageSchema;
  private readonly flexibleVersions: VersionSet;
  /** Requests refuse values their version cannot carry; responses leave them out (see codec.ts). */
  private readonly strict: boolean;
  private readonly root: Path;
  /** Function name → text, in the order first asked for. */
  readonly functions = new Map<string, string>();

  constructor(
    private readonly file: FileEmitter,
    private readonly message: DeclaredMessage,
  ) {
    this.schema = message.schema;
    const { lowest, highest } = parseRange(this.schema.validVersions);
    if (!Number.isFinite(highest)) throw new Error(`${this.schema.name} ${this.schema.type}: validVersions must be bounded`);
    const allVersions = Array.from({ length: highest - lowest + 1 }, (_, index) => lowest + index);
    this.flexibleVersions = within(allVersions, this.schema.flexibleVersions);
    this.strict = this.schema.type === 'request';
    checkFieldNames(this.schema.fields, `${this.schema.name} ${this.schema.type}`);
    const role = capitalize(this.schema.type);
    this.root = { name: role, decodedType: `Decoded${role}`, encodableType: `Encodable${role}`, context: allVersions };
  }

  emit(): { decoder: string; encoder: string } {
    this.file.typeAliases.set(this.root.decodedType, `Decoded<typeof ${this.message.exportName}>`);
    this.file.typeAliases.set(this.root.encodableType, `Encodable<typeof ${this.message.exportName}>`);
    return { decoder: this.structDecoder(this.schema.fields, this.root), encoder: this.structEncoder(this.schema.fields, this.root) };
  }

  // ── Fields, versions, names ───────────────────────────────────────────────────────────────────

  private isTaggedIn(field: Field, version: number): boolean {
    return field.tag !== undefined && this.flexibleVersions.includes(version) && inRange(field.taggedVersions ?? field.versions, version);
  }

  /** Versions of `context` in which `field` is carried in the tagged section, and those in which it is a plain field. */
  private placement(field: Field, context: VersionSet): { tagged: VersionSet; regular: VersionSet } {
    const tagged = context.filter((version) => this.isTaggedIn(field, version));
    const regular = subtract(within(context, field.versions), tagged);
    return { tagged, regular };
  }

  private childPath(parent: Path, field: StructField | ArrayField): Path {
    const name = `${parent.name}${capitalize(field.name)}`;
    const decodedType = `Decoded${name}`;
    const encodableType = `Encodable${name}`;
    const hasStruct = field.type === 'struct' || typeof field.items !== 'string';
    if (hasStruct && !this.file.typeAliases.has(decodedType)) {
      const element = field.type === 'array' ? '[number]' : '';
      this.file.typeAliases.set(decodedType, `NonNullable<${parent.decodedType}['${field.name}']>${element}`);
      this.file.typeAliases.set(encodableType, `NonNullable<${parent.encodableType}['${field.name}']>${element}`);
    }
    const { tagged, regular } = this.placement(field, parent.context);
    return { name, decodedType, encodableType, context: union(tagged, regular), field };
  }

  /** `flexible`, or `true` / `false` when every version of `versions` agrees. */
  private flexibleTest(scope: FunctionScope, versions: VersionSet): string | boolean {
    const test = versionTest(this.flexibleVersions, versions);
    if (typeof test !== 'string') return test;
    scope.usesFlexible = true;
    return 'flexible';
  }

  /**
   * The text of a function: the signature, `const flexible = …` when the body asked for it, the
   * body. Parameters the body does not read are prefixed with "_" (noUnusedParameters).
   */
  private functionText(name: string, parameters: readonly string[], returned: string, scope: FunctionScope, body: SourceWriter): string {
    const full = new SourceWriter();
    if (scope.usesFlexible) full.line(`const flexible = ${String(versionTest(this.flexibleVersions, scope.context))};`);
    full.append(body);
    const bodyText = full.toString();
    const named = parameters.map((parameter) => {
      const parameterName = parameter.slice(0, parameter.indexOf(':'));
      return new RegExp(`\\b${parameterName}\\b`).test(bodyText) ? parameter : `_${parameter}`;
    });
    const source = new SourceWriter();
    source.block(`function ${name}(${named.join(', ')}): ${returned} {`, () => source.append(full));
    return source.toString().trimEnd();
  }

  /** Writes a function once (a path's functions are asked for from each place that uses them). */
  private defineFunction(name: string, write: () => string): string {
    if (!this.functions.has(name)) {
      this.functions.set(name, '');
      this.functions.set(name, write());
    }
    return name;
  }

  // ── Default values ────────────────────────────────────────────────────────────────────────────

  private defaultSource(field: Field): string {
    if (field.type === 'array') return field.default === null ? 'null' : '[]';
    if (field.type === 'struct') {
      if (field.default === null) return 'null';
      return `{ ${field.fields.map((inner) => `${inner.name}: ${this.defaultSource(inner)}`).join(', ')} }`;
    }
    return this.primitiveDefault(field.type, field.default);
  }

  private primitiveDefault(type: Primitive, declared: DefaultValue | undefined): string {
    if (declared === null) return 'null';
    switch (type) {
      case 'bool':
        return declared === true ? 'true' : 'false';
      case 'int64':
        return `${BigInt(declared === undefined ? 0 : (declared as number))}n`;
      case 'string':
        return stringLiteral(String(declared ?? ''));
      case 'bytes':
        return this.file.use('emptyBytes');
      case 'records':
        return 'null';
      case 'uuid':
        return this.file.use('zeroUuid');
      default:
        return String(declared ?? 0);
    }
  }

  /**
   * `source.name` with the default put in when it is missing. Only a missing field takes the
   * default: an explicit null in a nullable field stays null.
   */
  private valueWithDefault(field: Field, source: string): string {
    const access = `${source}.${field.name}`;
    const fallback = this.defaultSource(field);
    if (field.nullable !== undefined && fallback !== 'null') return `${access} === undefined ? ${fallback} : ${access}`;
    return `${access} ?? ${fallback}`;
  }

  // ── Decoding ──────────────────────────────────────────────────────────────────────────────────

  /** The decoder of a struct (or of the message itself); returns its function name. */
  private structDecoder(fields: readonly Field[], path: Path): string {
    return this.defineFunction(`decode${path.name}`, () => {
      const scope = new FunctionScope(path.context);
      const body = new SourceWriter();
      body.line(`return ${this.decodeFields(body, scope, fields, path, 'reader')};`);
      return this.functionText(`decode${path.name}`, ['version: number', 'reader: Reader'], path.decodedType, scope, body);
    });
  }

  /** The decoder of an array field: count, then each element; returns its function name. */
  private arrayDecoder(field: ArrayField, path: Path): string {
    return this.defineFunction(`decode${path.name}`, () => {
      const scope = new FunctionScope(path.context);
      const body = new SourceWriter();
      const flexible = this.flexibleTest(scope, path.context);
      body.line(`const count = ${choose(flexible, 'reader.compactArrayLength()', 'reader.arrayLength()')};`);
      const nullable = within(path.context, field.nullable ?? 'none');
      const failure = `${this.file.use('fail')}(${stringLiteral(`null array ${field.name}`)})`;
      const nullTest = versionTest(nullable, path.context);
      if (nullTest === true) body.line('if (count < 0) return null;');
      else if (nullTest === false) body.line(`if (count < 0) ${failure};`);
      else body.line(`if (count < 0) return ${nullTest} ? null : ${failure};`);
      const items = field.items;
      const elementType = typeof items === 'string' ? primitiveTypes[items] : path.decodedType;
      // Sized up front: as fast as pushing into a growing array, or faster (measured).
      body.line(`const items = new Array<${elementType}>(count);`);
      body.block('for (let position = 0; position < count; position += 1) {', () => {
        if (typeof items === 'string') body.line(`items[position] = ${this.readPrimitive(scope, items, [], path.context, 'reader')};`);
        else body.line(`items[position] = ${this.decodeFields(body, scope, items, path, 'reader')};`);
      });
      body.line('return items;');
      const returned = `${elementType}[]${nullable.length > 0 ? ' | null' : ''}`;
      return this.functionText(`decode${path.name}`, ['version: number', 'reader: Reader'], returned, scope, body);
    });
  }

  /**
   * Reads `fields` into locals (declaration order, then the tagged section) and returns the object
   * literal that gathers them.
   */
  private decodeFields(body: SourceWriter, scope: FunctionScope, fields: readonly Field[], path: Path, reader: string): string {
    const context = path.context;
    const entries: string[] = [];
    const taggedFields: { field: Field; local: string; tagged: VersionSet }[] = [];
    for (const field of fields) {
      const { tagged, regular } = this.placement(field, context);
      if (tagged.length === 0 && regular.length === 0) {
        entries.push(`${field.name}: ${this.defaultSource(field)}`);
        continue;
      }
      const local = scope.claim(field.name);
      entries.push(local === field.name ? local : `${field.name}: ${local}`);
      const test = versionTest(regular, context);
      if (tagged.length > 0) {
        body.line(`let ${local}: ${path.decodedType}['${field.name}'] = ${this.defaultSource(field)};`);
        when(body, test, `${local} = ${this.readField(scope, field, path, regular, reader)};`);
        taggedFields.push({ field, local, tagged });
        continue;
      }
      const read = this.readField(scope, field, path, regular, reader);
      body.line(`const ${local} = ${test === true ? read : `${String(test)} ? ${parenthesized(read)} : ${this.defaultSource(field)}`};`);
    }
    const flexible = intersect(this.flexibleVersions, context);
    const flexibleTest = this.flexibleTest(scope, context);
    if (taggedFields.length === 0) {
      when(body, flexibleTest, `${reader}.taggedFields();`);
    } else {
      const section = new SourceWriter();
      section.block(`${reader}.taggedFields((tag, tagReader) => {`, () => {
        section.block('switch (tag) {', () => {
          for (const { field, local, tagged } of byTag(taggedFields)) {
            section.line(`case ${field.tag}:`);
            section.indented(() => {
              when(section, versionTest(tagged, flexible), `${local} = ${this.readField(scope, field, path, tagged, 'tagReader')};`);
              section.line('break;');
            });
          }
        });
      }, '});');
      whenBlock(body, flexibleTest, section);
    }
    return `{ ${entries.join(', ')} }`;
  }

  /** Expression reading one field in `versions` (all of which carry it the same way: plain or tagged). */
  private readField(scope: FunctionScope, field: Field, parent: Path, versions: VersionSet, reader: string): string {
    if (field.type === 'array') return `${this.arrayDecoder(field, this.childPath(parent, field))}(version, ${reader})`;
    if (field.type === 'struct') {
      const decode = `${this.structDecoder(field.fields, this.childPath(parent, field))}(version, ${reader})`;
      // A nullable struct is preceded by an int8 marker: -1 null, 1 present.
      const nullTest = versionTest(within(versions, field.nullable ?? 'none'), versions);
      if (nullTest === false) return decode;
      return `${both(nullTest, `${reader}.int8() < 0`)} ? null : ${decode}`;
    }
    return this.readPrimitive(scope, field.type, within(versions, field.nullable ?? 'none'), versions, reader);
  }

  private readPrimitive(scope: FunctionScope, type: Primitive, nullable: VersionSet, versions: VersionSet, reader: string): string {
    if (type !== 'string' && type !== 'bytes' && type !== 'records') return `${reader}.${type}()`;
    const kind = type === 'string' ? 'String' : 'Bytes';
    const method = (subset: VersionSet, compact: boolean) => {
      const plain = compact ? `${reader}.compact${kind}()` : `${reader}.${kind.toLowerCase()}()`;
      const orNull = compact ? `${reader}.nullableCompact${kind}()` : `${reader}.nullable${kind}()`;
      return choose(versionTest(intersect(nullable, subset), subset), orNull, plain);
    };
    const compact = method(intersect(versions, this.flexibleVersions), true);
    const classic = method(subtract(versions, this.flexibleVersions), false);
    return choose(this.flexibleTest(scope, versions), compact, classic);
  }

  // ── Encoding ──────────────────────────────────────────────────────────────────────────────────

  /** The encoder of a struct (or of the message itself); returns its function name. */
  private structEncoder(fields: readonly Field[], path: Path): string {
    return this.defineFunction(`encode${path.name}`, () => {
      const scope = new FunctionScope(path.context);
      const body = new SourceWriter();
      const nullable = path.field?.nullable !== undefined;
      if (nullable) this.nullMarker(body, path, 'write');
      this.encodeFields(body, scope, fields, path, 'value');
      const parameters = ['version: number', `value: ${path.encodableType}${nullable ? ' | null' : ''}`, 'writer: Writer'];
      return this.functionText(`encode${path.name}`, parameters, 'void', scope, body);
    });
  }

  /**
   * A nullable struct is preceded by an int8 marker: -1 null, 1 present. In versions where it may
   * not be null, a null is a value the version cannot carry. Writes the marker, or (given the
   * struct's fixed size) starts `size` with it.
   */
  private nullMarker(body: SourceWriter, path: Path, mode: 'write' | number): void {
    const field = path.field!;
    const nullTest = versionTest(within(path.context, field.nullable ?? 'none'), path.context);
    // Built only where used, so that a file whose structs are nullable in every version does not import cannotCarry.
    const refuse = () => `if (value === null) ${this.file.use('cannotCarry')}(${stringLiteral(field.name)}, version);`;
    if (mode !== 'write') {
      body.line('if (value === null) return 1;');
      body.line(`let size = ${choose(nullTest, String(mode + 1), String(mode))};`);
      return;
    }
    const marker = () => {
      body.line('writer.int8(value === null ? -1 : 1);');
      body.line('if (value === null) return;');
    };
    if (nullTest === true) marker();
    else if (nullTest === false) body.line(refuse());
    else body.ifElse(nullTest, marker, () => body.line(refuse()));
  }

  /** The encoder of an array field: count (-1 for null), then each element; returns its function name. */
  private arrayEncoder(field: ArrayField, path: Path): string {
    return this.defineFunction(`encode${path.name}`, () => {
      const scope = new FunctionScope(path.context);
      const body = new SourceWriter();
      const flexible = this.flexibleTest(scope, path.context);
      const writeLength = (count: string) => branch(body, flexible, `writer.compactArrayLength(${count});`, `writer.arrayLength(${count});`);
      const nullable = field.nullable !== undefined;
      if (nullable) {
        body.block('if (values === null) {', () => {
          writeLength('-1');
          body.line('return;');
        });
      }
      writeLength('values.length');
      const items = field.items;
      if (typeof items === 'string') {
        body.block('for (const item of values) {', () => this.writePrimitive(body, scope, items, false, path.context, 'item'));
      } else {
        body.block('for (const value of values) {', () => this.encodeFields(body, scope, items, path, 'value'));
      }
      const elementType = typeof items === 'string' ? primitiveTypes[items] : path.encodableType;
      const parameters = ['version: number', `values: readonly ${elementType}[]${nullable ? ' | null' : ''}`, 'writer: Writer'];
      return this.functionText(`encode${path.name}`, parameters, 'void', scope, body);
    });
  }

  private encodeFields(body: SourceWriter, scope: FunctionScope, fields: readonly Field[], path: Path, source: string): void {
    const context = path.context;
    const taggedFields: { field: Field; tagged: VersionSet }[] = [];
    for (const field of fields) {
      const { tagged, regular } = this.placement(field, context);
      if (tagged.length > 0) taggedFields.push({ field, tagged });
      if (regular.length > 0) {
        const statements = new SourceWriter();
        this.writeField(statements, scope, field, path, regular, this.valueWithDefault(field, source));
        whenBlock(body, versionTest(regular, context), statements);
      }
      const absent = subtract(context, union(regular, tagged));
      if (this.strict && field.type !== 'struct' && absent.length > 0) {
        const test = versionTest(absent, context);
        const check = `!${this.file.use('isDefault')}(${source}.${field.name}, ${this.defaultSource(field)})`;
        body.line(`if (${both(test, check)}) ${this.file.use('cannotCarry')}(${stringLiteral(field.name)}, version);`);
      }
    }
    this.taggedSection(body, scope, taggedFields, path, source, 'encode');
  }

  /**
   * The tagged section of a struct (flexible versions only): count, then tag, size, value for each
   * non-default field in tag order. In 'encode' mode it is written; in 'size' mode its size is added
   * to `size`.
   */
  private taggedSection(
    body: SourceWriter,
    scope: FunctionScope,
    taggedFields: readonly { field: Field; tagged: VersionSet }[],
    path: Path,
    source: string,
    mode: 'encode' | 'size',
  ): void {
    const flexible = intersect(this.flexibleVersions, path.context);
    const flexibleTest = this.flexibleTest(scope, path.context);
    if (taggedFields.length === 0) {
      when(body, flexibleTest, mode === 'encode' ? 'writer.uvarint(0);' : 'size += 1;');
      return;
    }
    const section = new SourceWriter();
    const present: { field: Field; tagged: VersionSet; local: string; flag: string }[] = [];
    for (const { field, tagged } of byTag(taggedFields)) {
      const local = scope.claim(field.name);
      const flag = scope.claim(`write${capitalize(field.name)}`);
      // A struct is written whenever given: only a missing one counts as its default.
      const value = field.type === 'struct' ? `${source}.${field.name}` : this.valueWithDefault(field, source);
      section.line(`const ${local} = ${value};`);
      const test = versionTest(tagged, flexible);
      section.line(`const ${flag} = ${both(test, this.nonDefault(field, local))};`);
      present.push({ field, tagged, local, flag });
    }
    const count = present.length === 1 ? `${present[0]!.flag} ? 1 : 0` : present.map(({ flag }) => `(${flag} ? 1 : 0)`).join(' + ');
    section.line(mode === 'encode' ? `writer.uvarint(${count});` : `size += ${this.file.use('uvarintSize')}(${count});`);
    for (const { field, tagged, local, flag } of present) {
      section.block(`if (${flag}) {`, () => {
        let fieldSize = this.sizeOfField(field, path, local);
        if (!/^\d+$/.test(fieldSize)) {
          const name = scope.claim(`${field.name}Size`);
          section.line(`const ${name} = ${fieldSize};`);
          fieldSize = name;
        }
        if (mode === 'size') {
          section.line(/^\d+$/.test(fieldSize) ? `size += ${Number(uvarintSizeOf(field.tag ?? 0)) + Number(uvarintSizeOf(Number(fieldSize))) + Number(fieldSize)};` : `size += ${uvarintSizeOf(field.tag ?? 0)} + ${this.file.use('uvarintSize')}(${fieldSize}) + ${fieldSize};`);
          return;
        }
        section.line(`writer.uvarint(${field.tag});`);
        section.line(`writer.uvarint(${fieldSize});`);
        this.writeField(section, scope, field, path, tagged, local);
      });
    }
    whenBlock(body, flexibleTest, section);
  }

  /** Condition under which a tagged field's value (default already put in, except for structs) is written. */
  private nonDefault(field: Field, local: string): string {
    if (field.type === 'struct') return field.default === null ? `${local} !== undefined && ${local} !== null` : `${local} !== undefined`;
    if (field.type === 'array') {
      if (field.default === null) return `${local} !== null`;
      return field.nullable !== undefined ? `(${local} === null || ${local}.length > 0)` : `${local}.length > 0`;
    }
    const fallback = this.defaultSource(field);
    if (fallback !== 'null' && (field.type === 'bytes' || field.type === 'uuid')) return `!${this.file.use('isDefault')}(${local}, ${fallback})`;
    return `${local} !== ${fallback}`;
  }

  /** Statements writing one field, whose value is `value`, in `versions`. */
  private writeField(body: SourceWriter, scope: FunctionScope, field: Field, parent: Path, versions: VersionSet, value: string): void {
    if (field.type === 'array') body.line(`${this.arrayEncoder(field, this.childPath(parent, field))}(version, ${value}, writer);`);
    else if (field.type === 'struct') body.line(`${this.structEncoder(field.fields, this.childPath(parent, field))}(version, ${value}, writer);`);
    else this.writePrimitive(body, scope, field.type, field.nullable !== undefined, versions, value);
  }

  private writePrimitive(body: SourceWriter, scope: FunctionScope, type: Primitive, nullable: boolean, versions: VersionSet, value: string): void {
    if (type === 'records') {
      body.line(`writer.records(${value}, ${String(this.flexibleTest(scope, versions))});`);
    } else if (type === 'string' || type === 'bytes') {
      const kind = type === 'string' ? 'String' : 'Bytes';
      const compact = nullable ? `nullableCompact${kind}` : `compact${kind}`;
      const classic = nullable ? `nullable${kind}` : kind.toLowerCase();
      branch(body, this.flexibleTest(scope, versions), `writer.${compact}(${value});`, `writer.${classic}(${value});`);
    } else {
      body.line(`writer.${type}(${value});`);
    }
  }

  // ── Sizes of tagged values ────────────────────────────────────────────────────────────────────
  //
  // Tagged fields exist only in flexible versions, so everything below measures compact encodings.

  /** Expression for the bytes `writeField` writes for `value`. */
  private sizeOfField(field: Field, parent: Path, value: string): string {
    if (field.type === 'array') return `${this.arraySize(field, this.childPath(parent, field))}(version, ${value})`;
    if (field.type === 'struct') return `${this.structSize(field.fields, this.childPath(parent, field))}(version, ${value})`;
    return this.primitiveSize(field.type, value);
  }

  private primitiveSize(type: Primitive, value: string): string {
    const fixed = fixedSizes[type];
    if (fixed !== undefined) return String(fixed);
    if (type === 'string') return `${this.file.use('compactStringSize')}(${value})`;
    if (type === 'bytes') return `${this.file.use('compactBytesSize')}(${value})`;
    return `${this.file.use('compactRecordsSize')}(${value})`;
  }

  private structSize(fields: readonly Field[], path: Path): string {
    return this.defineFunction(`sizeOf${path.name}`, () => {
      const scope = new FunctionScope(path.context);
      const body = new SourceWriter();
      const nullable = path.field?.nullable !== undefined;
      const variable = new SourceWriter();
      const fixed = this.sizeOfFields(variable, scope, fields, path, 'value');
      if (nullable) this.nullMarker(body, path, fixed);
      if (variable.isEmpty) {
        if (!nullable) body.line(`return ${fixed};`);
      } else {
        if (!nullable) body.line(`let size = ${fixed};`);
        body.append(variable);
      }
      if (nullable || !variable.isEmpty) body.line('return size;');
      const parameters = ['version: number', `value: ${path.encodableType}${nullable ? ' | null' : ''}`];
      return this.functionText(`sizeOf${path.name}`, parameters, 'number', scope, body);
    });
  }

  private arraySize(field: ArrayField, path: Path): string {
    return this.defineFunction(`sizeOf${path.name}`, () => {
      const scope = new FunctionScope(path.context);
      const body = new SourceWriter();
      const nullable = field.nullable !== undefined;
      if (nullable) body.line('if (values === null) return 1;');
      const lengthSize = `${this.file.use('compactArrayLengthSize')}(values.length)`;
      const items = field.items;
      const variable = new SourceWriter();
      let fixed: number;
      if (typeof items === 'string') {
        fixed = fixedSizes[items] ?? 0;
        if (fixed === 0) variable.line(`size += ${this.primitiveSize(items, 'item')};`);
      } else {
        fixed = this.sizeOfFields(variable, scope, items, path, 'value');
      }
      if (variable.isEmpty) {
        body.line(`return ${lengthSize} + values.length * ${fixed};`);
      } else {
        body.line(`let size = ${lengthSize}${fixed > 0 ? ` + values.length * ${fixed}` : ''};`);
        const lines = variable.toString().trimEnd().split('\n');
        const element = typeof items === 'string' ? 'item' : 'value';
        if (lines.length === 1) body.line(`for (const ${element} of values) ${lines[0]!}`);
        else body.block(`for (const ${element} of values) {`, () => body.append(variable));
        body.line('return size;');
      }
      const elementType = typeof items === 'string' ? primitiveTypes[items] : path.encodableType;
      const parameters = ['version: number', `values: readonly ${elementType}[]${nullable ? ' | null' : ''}`];
      return this.functionText(`sizeOf${path.name}`, parameters, 'number', scope, body);
    });
  }

  /**
   * Writes statements adding to `size` the bytes `encodeFields` writes for `source` whose size
   * depends on the value, and returns the bytes that do not (fixed-size fields in every version).
   */
  private sizeOfFields(body: SourceWriter, scope: FunctionScope, fields: readonly Field[], path: Path, source: string): number {
    let fixed = 0;
    const taggedFields: { field: Field; tagged: VersionSet }[] = [];
    for (const field of fields) {
      const { tagged, regular } = this.placement(field, path.context);
      if (tagged.length > 0) taggedFields.push({ field, tagged });
      if (regular.length === 0) continue;
      const test = versionTest(regular, path.context);
      const fixedSize = field.type === 'array' || field.type === 'struct' ? undefined : fixedSizes[field.type];
      if (test === true && fixedSize !== undefined) fixed += fixedSize;
      else when(body, test, `size += ${this.sizeOfField(field, path, this.valueWithDefault(field, source))};`);
    }
    // An empty tagged section is its count, one byte.
    if (taggedFields.length === 0 && versionTest(this.flexibleVersions, path.context) === true) return fixed + 1;
    this.taggedSection(body, scope, taggedFields, path, source, 'size');
    return fixed;
  }
}

// ── Small emitting helpers ────────────────────────────────────────────────────────────────────────

/** `whenTrue` or `whenFalse` when `test` is decided, else a conditional expression. */
function choose(test: string | boolean, whenTrue: string, whenFalse: string): string {
  if (test === true) return whenTrue;
  if (test === false) return whenFalse;
  return `${test} ? ${parenthesized(whenTrue)} : ${parenthesized(whenFalse)}`;
}

/** `condition`, and `test` first when it is not always true (parenthesized when it is a disjunction). */
function both(test: string | boolean, condition: string): string {
  if (test === true) return condition;
  return `${String(test).includes('||') ? `(${String(test)})` : String(test)} && ${condition}`;
}

function parenthesized(expression: string): string {
  return /[?:]/.test(expression.replace(/'[^']*'/g, '')) ? `(${expression})` : expression;
}

/** `statement` under `test`: as is when it always holds, nothing when it never does. */
function when(body: SourceWriter, test: string | boolean, statement: string): void {
  if (test === true) body.line(statement);
  else if (test !== false) body.line(`if (${test}) ${statement}`);
}

/** Several statements under `test`. */
function whenBlock(body: SourceWriter, test: string | boolean, statements: SourceWriter): void {
  if (test === false || statements.isEmpty) return;
  if (test === true) {
    body.append(statements);
    return;
  }
  const lines = statements.toString().trimEnd().split('\n');
  if (lines.length === 1) body.line(`if (${test}) ${lines[0]!}`);
  else body.block(`if (${test}) {`, () => body.append(statements));
}

/** One statement or the other depending on `test` (written once when it is decided). */
function branch(body: SourceWriter, test: string | boolean, whenTrue: string, whenFalse: string): void {
  if (test === true) body.line(whenTrue);
  else if (test === false) body.line(whenFalse);
  else {
    body.line(`if (${test}) ${whenTrue}`);
    body.line(`else ${whenFalse}`);
  }
}

/** Field names become property accesses and locals in the generated code: they must be identifiers. */
function checkFieldNames(fields: readonly Field[], where: string): void {
  for (const field of fields) {
    if (!/^[A-Za-z_$][\w$]*$/.test(field.name)) throw new Error(`${where}: field name ${JSON.stringify(field.name)} is not an identifier`);
    if (field.type === 'struct') checkFieldNames(field.fields, `${where} ${field.name}`);
    if (field.type === 'array' && typeof field.items !== 'string') checkFieldNames(field.items, `${where} ${field.name}`);
  }
}

/** Tagged fields in tag order, the order the section is written in. */
function byTag<Entry extends { readonly field: Field }>(entries: readonly Entry[]): Entry[] {
  return [...entries].sort((left, right) => (left.field.tag ?? 0) - (right.field.tag ?? 0));
}

/** Bytes of a uvarint known when generating (a tag number). */
function uvarintSizeOf(value: number): string {
  let size = 1;
  for (let remaining = value >>> 0; remaining >= 0x80; remaining >>>= 7) size += 1;
  return String(size);
}
