/**
 * Emits the codecs of one class file of declarations (classes/<class>.ts → generated/<class>.ts):
 * for each method a decoder and an encoder of its arguments, straight-line in declaration order
 * with runs of bits packed into octets; for a properties declaration, the content-header property
 * list behind its flags. The emitted code is typed with `Arguments<typeof …>` and
 * `Properties<typeof …>` from the same declarations.
 */
import { SourceWriter, capitalize, stringLiteral } from '../../codegen/source-writer.js';
import type { Argument, Domain, MethodDeclaration, PropertiesDeclaration } from '../schema.js';

export interface DeclaredMethod {
  readonly exportName: string;
  readonly declaration: MethodDeclaration;
}

export interface DeclaredProperties {
  readonly exportName: string;
  readonly declaration: PropertiesDeclaration;
}

/** The runtime helpers each domain needs, so that a file imports only what it uses. */
const helpersOfDomain: Record<Domain, readonly string[]> = {
  octet: [], short: [], long: [], longlong: [], bit: [], timestamp: [],
  shortstr: ['readShortString', 'writeShortString'],
  longstr: ['readLongString', 'writeLongString'],
  table: ['readFieldTable', 'writeFieldTable'],
};

function readExpression(domain: Exclude<Domain, 'bit'>): string {
  switch (domain) {
    case 'octet': return 'reader.uint8()';
    case 'short': return 'reader.uint16()';
    case 'long': return 'reader.uint32()';
    case 'longlong':
    case 'timestamp': return 'reader.uint64()';
    case 'shortstr': return 'readShortString(reader)';
    case 'longstr': return 'readLongString(reader)';
    case 'table': return 'readFieldTable(reader)';
  }
}

function writeStatement(domain: Exclude<Domain, 'bit'>, value: string): string {
  switch (domain) {
    case 'octet': return `writer.uint8(${value});`;
    case 'short': return `writer.uint16(${value});`;
    case 'long': return `writer.uint32(${value});`;
    case 'longlong':
    case 'timestamp': return `writer.uint64(${value});`;
    case 'shortstr': return `writeShortString(writer, ${value});`;
    case 'longstr': return `writeLongString(writer, ${value});`;
    case 'table': return `writeFieldTable(writer, ${value});`;
  }
}

/** The arguments in wire order, consecutive bits gathered into octets of at most eight. */
interface ValueArgument {
  readonly name: string;
  readonly domain: Exclude<Domain, 'bit'>;
}
type WireItem = { readonly kind: 'value'; readonly argument: ValueArgument } | { readonly kind: 'bits'; readonly names: string[] };

function isValueArgument(argument: Argument): argument is ValueArgument {
  return argument.domain !== 'bit';
}

function wireItems(list: readonly Argument[]): WireItem[] {
  const items: WireItem[] = [];
  for (const argument of list) {
    if (isValueArgument(argument)) {
      items.push({ kind: 'value', argument });
      continue;
    }
    const last = items[items.length - 1];
    if (last !== undefined && last.kind === 'bits' && last.names.length < 8) last.names.push(argument.name);
    else items.push({ kind: 'bits', names: [argument.name] });
  }
  return items;
}

/** "exchange.declare": reserved1 short, exchange shortstr, [passive durable …] one octet of bits. */
function layoutComment(list: readonly Argument[]): string {
  if (list.length === 0) return 'no arguments';
  return wireItems(list)
    .map((item) => (item.kind === 'value' ? `${item.argument.name} ${item.argument.domain}` : `octet of bits [${item.names.join(' ')}] from bit 0`))
    .join(', ');
}

/** Argument names that cannot be the names of local variables in a module (strict mode). */
const reservedLocals = new Set(['arguments', 'eval']);

/** The local variable a decoder reads an argument into. */
function localName(name: string): string {
  return reservedLocals.has(name) ? `${name}Value` : name;
}

/** The decoder's return value: each argument from its local variable. */
function objectLiteral(names: readonly string[]): string {
  if (names.length === 0) return '{}';
  return `{ ${names.map((name) => (localName(name) === name ? name : `${name}: ${localName(name)}`)).join(', ')} }`;
}

export function emitClassFile(sourceFile: string, methods: readonly DeclaredMethod[], properties: readonly DeclaredProperties[], header: string): string {
  const body = new SourceWriter();
  const helpers = new Set<string>();
  for (const { exportName, declaration } of methods) emitMethod(body, exportName, declaration, helpers);
  for (const { exportName, declaration } of properties) emitProperties(body, exportName, declaration, helpers);

  const source = new SourceWriter();
  source.line(header);
  source.line(`import type { Reader } from '../../wire/reader.js';`);
  source.line(`import type { Writer } from '../../wire/writer.js';`);
  const domainHelpers = ['readShortString', 'writeShortString', 'readLongString', 'writeLongString'].filter((name) => helpers.has(name));
  if (domainHelpers.length > 0) source.line(`import { ${domainHelpers.join(', ')} } from '../domains.js';`);
  const tableHelpers = ['readFieldTable', 'writeFieldTable'].filter((name) => helpers.has(name));
  if (tableHelpers.length > 0) source.line(`import { ${tableHelpers.join(', ')} } from '../field-table.js';`);
  if (helpers.has('MalformedInputError')) source.line(`import { MalformedInputError } from '../../wire/errors.js';`);
  const schemaTypes = [methods.length > 0 ? 'Arguments' : '', properties.length > 0 ? 'Properties' : ''].filter((name) => name !== '');
  source.line(`import type { ${schemaTypes.join(', ')} } from '../schema.js';`);
  const declarations = [...methods, ...properties].map((declared) => declared.exportName);
  source.line(`import type { ${declarations.join(', ')} } from '../classes/${sourceFile.replace(/\.ts$/, '.js')}';`);
  source.line('');
  source.append(body);
  return source.toString().replace(/\n\n$/, '\n');
}

function emitMethod(source: SourceWriter, exportName: string, declaration: MethodDeclaration, helpers: Set<string>): void {
  const type = `Arguments<typeof ${exportName}>`;
  const items = wireItems(declaration.arguments);
  for (const argument of declaration.arguments) for (const helper of helpersOfDomain[argument.domain]) helpers.add(helper);
  const names = declaration.arguments.map((argument) => argument.name);
  source.line(`// ${declaration.name} (class ${declaration.classId}, method ${declaration.methodId}): ${layoutComment(declaration.arguments)}.`);
  source.line('');
  const readerName = names.length === 0 ? '_reader' : 'reader';
  source.block(`export function decode${capitalize(exportName)}(${readerName}: Reader): ${type} {`, () => {
    let bitsCount = 0;
    for (const item of items) {
      if (item.kind === 'value') {
        source.line(`const ${localName(item.argument.name)} = ${readExpression(item.argument.domain)};`);
        continue;
      }
      const octet = `bits${bitsCount++}`;
      source.line(`const ${octet} = reader.uint8();`);
      item.names.forEach((name, bit) => source.line(`const ${localName(name)} = (${octet} & ${1 << bit}) !== 0;`));
    }
    source.line(`return ${objectLiteral(names)};`);
  });
  source.line('');
  const valueName = names.length === 0 ? '_value' : 'value';
  const writerName = names.length === 0 ? '_writer' : 'writer';
  source.block(`export function encode${capitalize(exportName)}(${valueName}: ${type}, ${writerName}: Writer): void {`, () => {
    for (const item of items) {
      if (item.kind === 'value') source.line(writeStatement(item.argument.domain, `value.${item.argument.name}`));
      else source.line(`writer.uint8(${item.names.map((name, bit) => `(value.${name} ? ${1 << bit} : 0)`).join(' | ')});`);
    }
  });
  source.line('');
}

/**
 * Property flags: one short per 15 properties, the first property at bit 15, bit 0 saying another
 * flags short follows. Every class that carries content today has at most 15 properties, so the
 * emitted code has one flags short and refuses property bits in any continuation short.
 */
function emitProperties(source: SourceWriter, exportName: string, declaration: PropertiesDeclaration, helpers: Set<string>): void {
  const list = declaration.properties;
  if (list.length > 15) throw new Error(`${declaration.className}: ${list.length} properties; the generator handles at most 15 (one flags short)`);
  const valueList = list.filter(isValueArgument);
  if (valueList.length !== list.length) throw new Error(`${declaration.className}: bit properties are not supported`);
  for (const property of list) for (const helper of helpersOfDomain[property.domain]) helpers.add(helper);
  helpers.add('MalformedInputError');
  const type = `Properties<typeof ${exportName}>`;
  const flagOf = (index: number) => `0x${(0x8000 >> index).toString(16).padStart(4, '0')}`;
  const unusedMask = (0xfffe & ~list.reduce((mask, _property, index) => mask | (0x8000 >> index), 0)) >>> 0;
  source.line(`// ${declaration.className} content-header properties (class ${declaration.classId}), in flag order from bit 15:`);
  source.line(`// ${list.map((property) => `${property.name} ${property.domain}`).join(', ')}.`);
  source.line('');
  source.block(`export function decode${capitalize(exportName)}(reader: Reader): ${type} {`, () => {
    source.line('const flags = reader.uint16();');
    source.line(`if ((flags & 0x${unusedMask.toString(16)}) !== 0) throw new MalformedInputError(${stringLiteral(`${declaration.className} property flags 0x`)} + flags.toString(16) + ' name properties that do not exist');`);
    source.block('if ((flags & 0x0001) !== 0) {', () => {
      source.line('let more = 0x0001;');
      source.block('while ((more & 0x0001) !== 0) {', () => {
        source.line('more = reader.uint16();');
        source.line(`if ((more & 0xfffe) !== 0) throw new MalformedInputError(${stringLiteral(`${declaration.className} has no properties past the first flags short`)});`);
      });
    });
    source.line(`const properties: ${type} = {};`);
    valueList.forEach((property, index) => {
      source.line(`if ((flags & ${flagOf(index)}) !== 0) properties.${property.name} = ${readExpression(property.domain)};`);
    });
    source.line('return properties;');
  });
  source.line('');
  source.block(`export function encode${capitalize(exportName)}(value: ${type}, writer: Writer): void {`, () => {
    source.line('let flags = 0;');
    list.forEach((property, index) => source.line(`if (value.${property.name} !== undefined) flags |= ${flagOf(index)};`));
    source.line('writer.uint16(flags);');
    for (const property of valueList) {
      source.line(`if (value.${property.name} !== undefined) ${writeStatement(property.domain, `value.${property.name}`)}`);
    }
  });
  source.line('');
}
