/**
 * The declaration checker (npm run check:kafka-schemas) against a made-up message, Widget, written
 * here in Kafka's JSON format: it finds each kind of difference, and finds none when the two agree.
 * The last tests run the script itself on a Kafka-like tree created in a temporary folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { array, field, message, struct } from '../../../src/protocol/kafka/schema.js';
import type { Field, MessageSchema } from '../../../src/protocol/kafka/schema.js';
import { checkDeclarations } from '../../../src/protocol/kafka/schema-check/compare.js';
import type { CheckResult } from '../../../src/protocol/kafka/schema-check/compare.js';
import { parseKafkaDefinition, stripJsonComments } from '../../../src/protocol/kafka/schema-check/kafka-definition.js';
import type { FieldRename, OlderVersionsKept } from '../../../src/protocol/kafka/schema-check/allow-list.js';
import { repositoryRoot } from '../../helpers/tools.js';

/** A made-up API in Kafka's format: an inline struct array, a struct reused by name, a commonStruct, comments. */
const widgetDefinitionText = `// A made-up message for the checker's tests.
{
  "apiKey": 1000,
  "type": "request",
  "name": "WidgetRequest",
  // Version 1 adds Colour and Labels; version 2 is flexible; version 3 adds Owner.
  "validVersions": "0-3",
  "flexibleVersions": "2+",
  "fields": [
    { "name": "WidgetId", "type": "int32", "versions": "0+", "about": "see http://example.invalid/widgets" },
    { "name": "Colour", "type": "string", "versions": "1+", "nullableVersions": "2+", "default": "null" },
    { "name": "Parts", "type": "[]Part", "versions": "0+", "fields": [
      { "name": "PartIndex", "type": "int32", "versions": "0+" },
      { "name": "Weight", "type": "int64", "versions": "0+", "default": "0x7fffffff" },
      { "name": "Labels", "type": "[]string", "versions": "1+" }
    ]},
    { "name": "Spare", "type": "Part", "versions": "2+", "taggedVersions": "2+", "tag": 0 },
    { "name": "Owner", "type": "Owner", "versions": "3+", "taggedVersions": "3+", "tag": 1 }
  ],
  "commonStructs": [
    { "name": "Owner", "versions": "0+", "fields": [
      { "name": "OwnerId", "type": "uuid", "versions": "0+" },
      { "name": "Active", "type": "bool", "versions": "0+", "default": true }
    ]}
  ]
}
`;

/** A definition that is not an API message (no apiKey), as Kafka's tree holds several. */
const headerDefinitionText = `{ "type": "header", "name": "WidgetHeader", "validVersions": "0", "flexibleVersions": "none",
  "fields": [ { "name": "Magic", "type": "int8", "versions": "0+" } ] }`;

const partFields = [
  field('partIndex', 'int32'),
  field('weight', 'int64', { default: 2147483647 }),
  array('labels', 'string', { versions: '1+' }),
] as const;

/** Our declaration of Widget, agreeing with the definition above. */
const widgetRequest: MessageSchema = message({
  name: 'Widget',
  apiKey: 1000,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    field('widgetId', 'int32'),
    field('colour', 'string', { versions: '1+', nullable: '2+', default: null }),
    array('parts', partFields),
    struct('spare', partFields, { versions: '2+', tag: 0, taggedVersions: '2+' }),
    struct('owner', [field('ownerId', 'uuid'), field('active', 'bool', { default: true })], { versions: '3+', tag: 1, taggedVersions: '3+' }),
  ],
});

function check(
  declaration: MessageSchema,
  fieldRenames: readonly FieldRename[] = [],
  definitionText = widgetDefinitionText,
  olderVersionsKept: readonly OlderVersionsKept[] = [],
): CheckResult {
  const definitions = [parseKafkaDefinition(definitionText, 'WidgetRequest.json'), parseKafkaDefinition(headerDefinitionText, 'WidgetHeader.json')];
  return checkDeclarations([declaration], definitions, { fieldRenames, olderVersionsKept });
}

function lines(result: CheckResult): string[] {
  return result.differences.map((difference) => difference.text);
}

/** `schema` with the field at `path` (names from the top) replaced by what `change` returns, or removed when it returns undefined. */
function editField(schema: MessageSchema, path: readonly string[], change: (field: Field) => Field | undefined): MessageSchema {
  return { ...schema, fields: editFields(schema.fields, path, change) };
}

function editFields(fields: readonly Field[], path: readonly string[], change: (field: Field) => Field | undefined): Field[] {
  const [name, ...rest] = path;
  const edited: Field[] = [];
  for (const candidate of fields) {
    if (candidate.name !== name) edited.push(candidate);
    else if (rest.length === 0) {
      const replacement = change(candidate);
      if (replacement !== undefined) edited.push(replacement);
    } else if (candidate.type === 'struct') edited.push({ ...candidate, fields: editFields(candidate.fields, rest, change) });
    else if (candidate.type === 'array' && typeof candidate.items !== 'string') edited.push({ ...candidate, items: editFields(candidate.items, rest, change) });
    else throw new Error(`${candidate.name} has no inner fields`);
  }
  return edited;
}

test('a declaration that agrees with the definition has no differences', () => {
  assert.deepEqual(check(widgetRequest), { differences: [], notes: [] });
});

test('ours may support fewer versions than Kafka: only those are compared', () => {
  // Colour's nullability starts at v2, beyond this range; Owner exists only in v3.
  const older = editField({ ...widgetRequest, validVersions: '0-1' }, ['colour'], (colour) => ({ ...colour, nullable: 'none' }));
  const withoutOwner = editField(older, ['owner'], () => undefined);
  assert.deepEqual(lines(check(withoutOwner)), []);
});

test('versions beyond Kafka\'s are reported, with the fields that first appear there', () => {
  const newer: MessageSchema = { ...widgetRequest, validVersions: '0-4', fields: [...widgetRequest.fields, field('shape', 'int8', { versions: '4+' })] };
  const result = check(newer);
  assert.deepEqual(lines(result), [
    "Widget request v4: valid versions go beyond Kafka's: ours 0-4, Kafka 0-3; this Kafka tree defines 0-3, so 4 cannot be checked; fields of ours first appearing there: shape (4+)",
  ]);
  assert.equal(result.differences[0]?.kind, 'valid-versions');
});

test('versions older than Kafka\'s are reported, unless the allow-list keeps them on purpose', () => {
  // A newer Kafka tree that dropped v0 (as Kafka 4.0 dropped old versions of several APIs).
  const withoutVersionZero = widgetDefinitionText.replace('"validVersions": "0-3"', '"validVersions": "1-3"');
  assert.deepEqual(lines(check(widgetRequest, [], withoutVersionZero)), [
    "Widget request v0: valid versions go beyond Kafka's: ours 0-3, Kafka 1-3; this Kafka tree defines 1-3, so 0 cannot be checked",
  ]);
  const kept: OlderVersionsKept = { message: 'Widget', versions: '0', reason: 'old widget clients need it' };
  const result = check(widgetRequest, [], withoutVersionZero, [kept]);
  assert.deepEqual(result.differences, []);
  assert.deepEqual(result.notes.map((note) => note.text), [
    'Widget request v0: not in this Kafka tree (1-3), kept on purpose: old widget clients need it',
  ]);
});

test('valid versions that are not a closed range are reported, not compared', () => {
  assert.deepEqual(lines(check({ ...widgetRequest, validVersions: '0+' })), [
    'Widget request: valid versions must be closed ranges to be compared: ours 0+, Kafka 0-3',
  ]);
});

test('flexible versions that differ are reported', () => {
  assert.deepEqual(lines(check({ ...widgetRequest, flexibleVersions: '3+' })), [
    'Widget request v2: flexible versions differ: ours 3+, Kafka 2+',
  ]);
});

test('field versions that differ are reported', () => {
  const later = editField(widgetRequest, ['colour'], (colour) => ({ ...colour, versions: '2+' }));
  assert.deepEqual(lines(check(later)), ['Widget request v1: field colour: versions differ: ours 2+, Kafka 1+']);
});

test('nullable versions that differ are reported, in nested fields too', () => {
  const notNullable = editField(widgetRequest, ['colour'], (colour) => ({ ...colour, nullable: 'none', default: '' }));
  assert.deepEqual(lines(check(notNullable)), [
    'Widget request v2+: field colour: nullable versions differ: ours none, Kafka 2+',
    'Widget request v1+: field colour: default differs: ours "", Kafka null',
  ]);
  const nullableLabels = editField(widgetRequest, ['parts', 'labels'], (labels) => ({ ...labels, nullable: '3+' }));
  assert.deepEqual(lines(check(nullableLabels)), ['Widget request v3+: field parts[].labels: nullable versions differ: ours 3+, Kafka none']);
});

test('tagged versions and tags that differ are reported', () => {
  const taggedLater = editField(widgetRequest, ['spare'], (spare) => ({ ...spare, taggedVersions: '3+' }));
  assert.deepEqual(lines(check(taggedLater)), ['Widget request v2: field spare: tagged versions differ: ours 3+, Kafka 2+']);
  const otherTag = editField(widgetRequest, ['owner'], (owner) => ({ ...owner, tag: 2 }));
  assert.deepEqual(lines(check(otherTag)), ['Widget request v3+: field owner: tag differs: ours 2, Kafka 1']);
});

test('defaults are compared where both sides give one, integers whatever their notation', () => {
  const otherWeight = editField(widgetRequest, ['parts', 'weight'], (weight) => ({ ...weight, default: '-1' }));
  assert.deepEqual(lines(check(otherWeight)), ['Widget request v0+: field parts[].weight: default differs: ours -1, Kafka 2147483647']);
  const inactive = editField(widgetRequest, ['owner', 'active'], (active) => ({ ...active, default: false }));
  assert.deepEqual(lines(check(inactive)), ['Widget request v3+: field owner.active: default differs: ours false, Kafka true']);
  // No default on our side: nothing to compare.
  const noDefault = editField(widgetRequest, ['parts', 'weight'], () => field('weight', 'int64'));
  assert.deepEqual(lines(check(noDefault)), []);
});

test('types that differ are reported: primitives, array elements, structs', () => {
  const shortIndex = editField(widgetRequest, ['parts', 'partIndex'], () => field('partIndex', 'int16'));
  assert.deepEqual(lines(check(shortIndex)), ['Widget request v0+: field parts[].partIndex: type differs: ours int16, Kafka int32']);
  const numberLabels = editField(widgetRequest, ['parts', 'labels'], () => array('labels', 'int32', { versions: '1+' }));
  assert.deepEqual(lines(check(numberLabels)), ['Widget request v1+: field parts[].labels: type differs: ours []int32, Kafka []string']);
  const oneOwner = editField(widgetRequest, ['owner'], () => field('owner', 'uuid', { versions: '3+', tag: 1, taggedVersions: '3+' }));
  assert.deepEqual(lines(check(oneOwner)), ['Widget request v3+: field owner: type differs: ours uuid, Kafka Owner']);
});

test('a field Kafka has and ours lacks is reported, and one ours has that Kafka lacks', () => {
  const withoutLabels = editField(widgetRequest, ['spare', 'labels'], () => undefined);
  assert.deepEqual(lines(check(withoutLabels)), ['Widget request v2+: field spare.labels: Kafka has Labels ([]string, versions 2+), ours lacks it']);
  const withSize = editField(widgetRequest, ['parts'], (parts) => parts.type === 'array' && typeof parts.items !== 'string'
    ? { ...parts, items: [...parts.items, field('size', 'int32', { versions: '1+' })] }
    : parts);
  assert.deepEqual(lines(check(withSize)), ["Widget request v1+: field parts[].size: not in Kafka's definition (ours: versions 1+)"]);
});

test('fields in another order on the wire are reported; tagged fields may come in any order', () => {
  const [widgetId, colour, ...rest] = widgetRequest.fields;
  assert.ok(widgetId !== undefined && colour !== undefined);
  assert.deepEqual(lines(check({ ...widgetRequest, fields: [colour, widgetId, ...rest] })), [
    'Widget request v1+: field order differs: ours colour, widgetId, parts; Kafka widgetId, colour, parts',
  ]);
  const [parts, spare, owner] = rest;
  assert.ok(parts !== undefined && spare !== undefined && owner !== undefined);
  assert.deepEqual(lines(check({ ...widgetRequest, fields: [widgetId, colour, parts, owner, spare] })), []);
});

test('a renamed field is matched through the allow-list, and reported without it', () => {
  const renamed = editField(widgetRequest, ['parts', 'partIndex'], () => field('index', 'int32'));
  assert.deepEqual(lines(check(renamed)), [
    "Widget request v0+: field parts[].index: not in Kafka's definition (ours: versions 0+)",
    'Widget request v0+: field parts[].partIndex: Kafka has PartIndex (int32, versions 0+), ours lacks it',
  ]);
  const rename: FieldRename = { message: 'Widget', type: 'request', path: 'parts[].index', kafkaName: 'PartIndex', reason: 'a test' };
  assert.deepEqual(lines(check(renamed, [rename])), []);
});

test('a message name that differs from Kafka\'s is reported', () => {
  assert.deepEqual(lines(check({ ...widgetRequest, name: 'Gadget' })), ['Gadget request: name differs: ours Gadget (GadgetRequest), Kafka WidgetRequest']);
});

test('a declaration without a Kafka definition of its apiKey and type is reported', () => {
  assert.deepEqual(lines(check({ ...widgetRequest, type: 'response' })), [
    'Widget response: no Kafka definition with apiKey 1000 and type response in this tree',
  ]);
});

test('a version Kafka marks unstable is noted, not counted as a difference', () => {
  const unstable = widgetDefinitionText.replace('"flexibleVersions": "2+",', '"flexibleVersions": "2+", "latestVersionUnstable": true,');
  const result = check(widgetRequest, [], unstable);
  assert.deepEqual(result.differences, []);
  assert.deepEqual(result.notes.map((note) => note.text), [
    'Widget request v3: Kafka marks this version unstable in this tree (latestVersionUnstable); it may still change there',
  ]);
});

test('a struct type Kafka refers to but does not define is reported', () => {
  const broken = widgetDefinitionText.replace('"type": "Owner", "versions": "3+"', '"type": "Landlord", "versions": "3+"');
  assert.deepEqual(lines(check(widgetRequest, [], broken)), [
    "Widget request v3+: field owner: Kafka's struct type Landlord is not defined in WidgetRequest.json",
  ]);
});

test('comments are removed outside strings only', () => {
  const text = '{ "a": "http://x", // gone\n  /* gone too */ "b": "/* kept */" }';
  assert.deepEqual(JSON.parse(stripJsonComments(text)), { a: 'http://x', b: '/* kept */' });
});

// ── The script, on a tree in a temporary folder ─────────────────────────────────────────────────

interface ScriptRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the checker on a Kafka-like tree holding the Widget definition, with `declaration` as our only declaration. */
function runScript(declaration: MessageSchema | undefined, extraArguments: readonly string[] = []): ScriptRun {
  const folder = mkdtempSync(join(tmpdir(), 'osprey-schema-check-'));
  try {
    const kafkaTree = join(folder, 'kafka');
    const messages = join(kafkaTree, 'clients/src/main/resources/common/message');
    mkdirSync(messages, { recursive: true });
    writeFileSync(join(messages, 'WidgetRequest.json'), widgetDefinitionText);
    writeFileSync(join(messages, 'WidgetHeader.json'), headerDefinitionText);
    const declarations = join(folder, 'declarations');
    mkdirSync(declarations);
    if (declaration !== undefined) writeFileSync(join(declarations, 'widget.js'), `export const widgetRequest = ${JSON.stringify(declaration)};\n`);
    const script = join(repositoryRoot(), 'scripts/check-kafka-schemas.mjs');
    const tree = declaration === undefined ? join(folder, 'nothing-here') : kafkaTree;
    const result = spawnSync(process.execPath, [script, tree, '--declarations', declarations, ...extraArguments], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

test('the script exits 0 when the declarations agree with the tree', () => {
  const run = runScript(widgetRequest);
  assert.equal(run.stderr, '');
  assert.equal(run.stdout, "1 declaration agrees with Kafka's definitions\n");
  assert.equal(run.status, 0);
});

test('the script prints one line per difference and exits 1, or a JSON document with --json', () => {
  const declaration = editField(widgetRequest, ['colour'], (colour) => ({ ...colour, nullable: 'none' }));
  const run = runScript(declaration);
  assert.equal(run.stdout, 'Widget request v2+: field colour: nullable versions differ: ours none, Kafka 2+\n1 difference in 1 of 1 declaration\n');
  assert.equal(run.status, 1);
  const json = runScript(declaration, ['--json']);
  assert.equal(json.status, 1);
  const document = JSON.parse(json.stdout) as { differences: { kind: string; path: string; versions: string; ours: string; kafka: string }[] };
  assert.deepEqual(document.differences.map(({ kind, path, versions, ours, kafka }) => ({ kind, path, versions, ours, kafka })), [
    { kind: 'nullable-versions', path: 'colour', versions: 'v2+', ours: 'none', kafka: '2+' },
  ]);
});

test('the script exits 2, saying why, when the path is not a Kafka tree', () => {
  const run = runScript(undefined);
  assert.match(run.stderr, /cannot read .*nothing-here\/clients\/src\/main\/resources\/common\/message .*root of a Kafka source tree/);
  assert.equal(run.stdout, '');
  assert.equal(run.status, 2);
});
