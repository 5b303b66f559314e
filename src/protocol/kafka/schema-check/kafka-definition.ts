/**
 * Kafka's own message definitions, read from the JSON files of a Kafka source tree
 * (`clients/src/main/resources/common/message/*.json`), into a typed form the checker compares our
 * declarations with. Pure: the caller reads the files and hands over their text.
 *
 * The format, as far as the checker needs it (everything else, such as "about", "entityType",
 * "ignorable" or "mapKey", is ignored):
 *
 *   { "apiKey": 1, "type": "request", "name": "FetchRequest",
 *     "validVersions": "0-17", "flexibleVersions": "12+",
 *     "fields": [ FIELD, … ],
 *     "commonStructs": [ { "name": "Assignment", "versions": "0+", "fields": [ FIELD, … ] }, … ] }
 *
 *   FIELD = { "name": "Topics", "type": "[]FetchTopic", "versions": "0+",
 *             "nullableVersions": "…", "taggedVersions": "…", "tag": 0, "default": "-1",
 *             "fields": [ FIELD, … ] }          (fields only for an inline struct type)
 *
 * The files are JSON with `//` comment lines (and the Apache licence header in them).
 */

export interface KafkaField {
  readonly name: string;
  /** As written: "int32", "[]int32", "[]FetchTopic", "ReplicaState". */
  readonly type: string;
  readonly versions: string;
  readonly nullableVersions: string | undefined;
  readonly taggedVersions: string | undefined;
  readonly tag: number | undefined;
  /** As written ("-1", "0x7fffffff", "null", "true", ""), a bare JSON number or boolean made a string. */
  readonly default: string | undefined;
  /** Set on a few header fields only; our declarations cannot express it. */
  readonly flexibleVersions: string | undefined;
  /** The struct's fields, when the type is a struct declared inline. */
  readonly fields: readonly KafkaField[] | undefined;
}

export interface KafkaMessageDefinition {
  /** "FetchRequest". */
  readonly name: string;
  /** Undefined for definitions that are not API messages (headers, records, log data). */
  readonly apiKey: number | undefined;
  /** "request", "response", "header", "data", "metadata", … */
  readonly type: string;
  readonly validVersions: string;
  readonly flexibleVersions: string;
  /** Kafka marks a message whose newest version may still change. */
  readonly latestVersionUnstable: boolean;
  readonly fields: readonly KafkaField[];
  /** Struct types by name: the commonStructs and every struct declared inline in the message. */
  readonly structs: ReadonlyMap<string, readonly KafkaField[]>;
  /** The file it came from, for messages. */
  readonly fileName: string;
}

export class KafkaDefinitionError extends Error {}

/** Removes `//` and `/* … *\/` comments outside string literals, keeping line breaks. */
export function stripJsonComments(text: string): string {
  let output = '';
  let index = 0;
  while (index < text.length) {
    const character = text[index];
    if (character === '"') {
      const end = endOfString(text, index);
      output += text.slice(index, end);
      index = end;
    } else if (character === '/' && text[index + 1] === '/') {
      const newline = text.indexOf('\n', index);
      index = newline < 0 ? text.length : newline;
    } else if (character === '/' && text[index + 1] === '*') {
      const close = text.indexOf('*/', index + 2);
      index = close < 0 ? text.length : close + 2;
    } else {
      output += character;
      index++;
    }
  }
  return output;
}

/** The index just after the string literal opening at `start`. */
function endOfString(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length && text[index] !== '"') index += text[index] === '\\' ? 2 : 1;
  return index + 1;
}

export function parseKafkaDefinition(text: string, fileName: string): KafkaMessageDefinition {
  let json: unknown;
  try {
    json = JSON.parse(stripJsonComments(text));
  } catch (error) {
    throw new KafkaDefinitionError(`${fileName}: not JSON once comments are removed: ${(error as Error).message}`);
  }
  const where = (path: string): string => `${fileName}: ${path}`;
  const root = asObject(json, where('top level'));
  const structs = new Map<string, readonly KafkaField[]>();
  const fields = parseFields(root['fields'] ?? [], where('fields'), structs);
  for (const [index, common] of asArray(root['commonStructs'] ?? [], where('commonStructs')).entries()) {
    const struct = asObject(common, where(`commonStructs[${index}]`));
    const name = asString(struct['name'], where(`commonStructs[${index}].name`));
    structs.set(name, parseFields(struct['fields'], where(`commonStructs ${name}.fields`), structs));
  }
  return {
    name: asString(root['name'], where('name')),
    apiKey: root['apiKey'] === undefined ? undefined : asInteger(root['apiKey'], where('apiKey')),
    type: asString(root['type'], where('type')),
    validVersions: asString(root['validVersions'], where('validVersions')),
    flexibleVersions: root['flexibleVersions'] === undefined ? 'none' : asString(root['flexibleVersions'], where('flexibleVersions')),
    latestVersionUnstable: root['latestVersionUnstable'] === true,
    fields,
    structs,
    fileName,
  };
}

function parseFields(value: unknown, where: string, structs: Map<string, readonly KafkaField[]>): KafkaField[] {
  return asArray(value, where).map((entry, index) => parseField(entry, `${where}[${index}]`, structs));
}

function parseField(value: unknown, where: string, structs: Map<string, readonly KafkaField[]>): KafkaField {
  const object = asObject(value, where);
  const name = asString(object['name'], `${where}.name`);
  const at = `${where} (${name})`;
  const type = asString(object['type'], `${at}.type`);
  const optionalString = (key: string): string | undefined => (object[key] === undefined ? undefined : asString(object[key], `${at}.${key}`));
  const fields = object['fields'] === undefined ? undefined : parseFields(object['fields'], `${at}.fields`, structs);
  // An inline struct may be referred to by its type name elsewhere in the same message.
  if (fields !== undefined) structs.set(type.startsWith('[]') ? type.slice(2) : type, fields);
  return {
    name,
    type,
    versions: asString(object['versions'], `${at}.versions`),
    nullableVersions: optionalString('nullableVersions'),
    taggedVersions: optionalString('taggedVersions'),
    tag: object['tag'] === undefined ? undefined : asInteger(object['tag'], `${at}.tag`),
    default: defaultText(object['default'], `${at}.default`),
    flexibleVersions: optionalString('flexibleVersions'),
    fields,
  };
}

/** Defaults are mostly written as strings ("-1", "null"), sometimes as bare JSON numbers or booleans. */
function defaultText(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return asString(value, where);
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new KafkaDefinitionError(`${where}: expected an object`);
  return value as Record<string, unknown>;
}

function asArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new KafkaDefinitionError(`${where}: expected an array`);
  return value;
}

function asString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new KafkaDefinitionError(`${where}: expected a string`);
  return value;
}

/** An integer, also when written as a string ("tag": "0" occurs; Kafka's reader accepts it). */
function asInteger(value: unknown, where: string): number {
  if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) return Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new KafkaDefinitionError(`${where}: expected an integer`);
  return value;
}
