/**
 * Compares our declarations (messages/*.ts) with Kafka's definitions of the same API key and type,
 * over the versions both define: the name, validVersions, flexibleVersions, then every field recursively
 * (matched by name ignoring case, or through the rename allow-list): presence, type, versions,
 * nullable versions, tag and tagged versions, default where both give one, and the order of the
 * fields on the wire. Pure: definitions in, differences out. What differs on purpose is in
 * allow-list.ts.
 */
import type { Field, MessageSchema, Primitive } from '../schema.js';
import type { KafkaField, KafkaMessageDefinition } from './kafka-definition.js';
import type { FieldRename, OlderVersionsKept } from './allow-list.js';
import {
  closedRange,
  difference,
  formatVersions,
  intersection,
  sameVersions,
  symmetricDifference,
  versionsIn,
} from './versions.js';
import type { VersionSet } from './versions.js';

export type DifferenceKind =
  | 'no-definition'
  | 'name'
  | 'valid-versions'
  | 'flexible-versions'
  | 'missing-in-ours'
  | 'missing-in-kafka'
  | 'type'
  | 'versions'
  | 'nullable-versions'
  | 'tag'
  | 'tagged-versions'
  | 'default'
  | 'order'
  | 'unsupported';

export interface Difference {
  /** "Fetch request". */
  readonly message: string;
  readonly kind: DifferenceKind;
  /** The versions the difference is about, in Kafka's notation ("12+"); empty when it is about the whole message. */
  readonly versions: string;
  /** The field, in our names: "topics[].partitions[].lastFetchedEpoch"; empty for the message itself. */
  readonly path: string;
  /** What ours says and what Kafka says, as short texts. */
  readonly ours: string;
  readonly kafka: string;
  /** One readable line saying all of the above. */
  readonly text: string;
}

export interface Note {
  readonly message: string;
  readonly text: string;
}

export interface CheckResult {
  readonly differences: readonly Difference[];
  /** Things worth knowing that are not differences, e.g. a Kafka version marked unstable. */
  readonly notes: readonly Note[];
}

const primitives: ReadonlySet<string> = new Set<Primitive>([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'int64', 'float64', 'string', 'bytes', 'uuid', 'records',
]);

/** The differences that are deliberate (see allow-list.ts). */
export interface AllowList {
  readonly fieldRenames: readonly FieldRename[];
  readonly olderVersionsKept: readonly OlderVersionsKept[];
}

/** Compares every declaration of ours with Kafka's definition of the same apiKey and type. */
export function checkDeclarations(
  declarations: readonly MessageSchema[],
  definitions: readonly KafkaMessageDefinition[],
  allowList: AllowList,
): CheckResult {
  const differences: Difference[] = [];
  const notes: Note[] = [];
  for (const declaration of declarations) {
    const definition = definitions.find((candidate) => candidate.apiKey === declaration.apiKey && candidate.type === declaration.type);
    const check = new MessageCheck(declaration, allowList, differences, notes);
    if (definition === undefined) check.noDefinition();
    else check.compare(definition);
  }
  return { differences, notes };
}

interface MatchedField {
  readonly ours: Field;
  readonly kafka: KafkaField;
  /** The versions the field exists in on each side, within the versions compared. */
  readonly oursVersions: VersionSet;
  readonly kafkaVersions: VersionSet;
}

class MessageCheck {
  private readonly label: string;
  /** The versions compared: ours that Kafka's tree also defines. */
  private universe: VersionSet = [];
  /** The highest version compared: a run of versions reaching it is written open ("12+"). */
  private top = Infinity;

  constructor(
    private readonly ours: MessageSchema,
    private readonly allowList: AllowList,
    private readonly differences: Difference[],
    private readonly notes: Note[],
  ) {
    this.label = `${ours.name} ${ours.type}`;
  }

  noDefinition(): void {
    this.report('no-definition', [], '', this.ours.validVersions, 'none',
      `no Kafka definition with apiKey ${this.ours.apiKey} and type ${this.ours.type} in this tree`);
  }

  compare(kafka: KafkaMessageDefinition): void {
    const oursValid = closedRange(this.ours.validVersions);
    const kafkaValid = closedRange(kafka.validVersions);
    if (oursValid.length === 0 || kafkaValid.length === 0) {
      this.report('unsupported', [], '', this.ours.validVersions, kafka.validVersions,
        `valid versions must be closed ranges to be compared: ours ${this.ours.validVersions}, Kafka ${kafka.validVersions}`);
      return;
    }
    this.universe = intersection(oursValid, kafkaValid);
    // Runs reaching our highest version are written open ("12+"); when Kafka's tree stops earlier,
    // ranges are written closed ("4-17"), not to suggest versions that were not compared.
    const universeTop = this.universe.length === 0 ? Infinity : Math.max(...this.universe);
    this.top = universeTop === Math.max(...oursValid) ? universeTop : Infinity;
    // Kafka names a message with its type: FetchRequest, FetchResponse.
    const expectedName = `${this.ours.name}${this.ours.type === 'request' ? 'Request' : 'Response'}`;
    if (kafka.name !== expectedName) {
      this.report('name', [], '', expectedName, kafka.name, `name differs: ours ${this.ours.name} (${expectedName}), Kafka ${kafka.name}`);
    }
    this.compareValidVersions(oursValid, kafkaValid, kafka);
    if (this.universe.length === 0) return;
    const oursFlexible = versionsIn(this.ours.flexibleVersions, this.universe);
    const kafkaFlexible = versionsIn(kafka.flexibleVersions, this.universe);
    if (!sameVersions(oursFlexible, kafkaFlexible)) {
      this.reportSets('flexible-versions', '', oursFlexible, kafkaFlexible, 'flexible versions differ');
    }
    this.compareFields(this.ours.fields, kafka.fields, kafka, '', this.universe, this.universe);
  }

  private compareValidVersions(oursValid: VersionSet, kafkaValid: VersionSet, kafka: KafkaMessageDefinition): void {
    const kafkaTop = Math.max(...kafkaValid);
    if (kafka.latestVersionUnstable && this.universe.includes(kafkaTop)) {
      this.note(`${this.label} v${kafkaTop}: Kafka marks this version unstable in this tree (latestVersionUnstable); it may still change there`);
    }
    const notInKafka = difference(oursValid, kafkaValid);
    const kept = this.allowList.olderVersionsKept.find((entry) => entry.message === this.ours.name);
    const keptOnPurpose = kept === undefined ? [] : versionsIn(kept.versions, notInKafka.filter((version) => version < kafkaTop));
    if (kept !== undefined && keptOnPurpose.length > 0) {
      this.note(`${this.label} v${formatVersions(keptOnPurpose, Infinity)}: not in this Kafka tree (${kafka.validVersions}), kept on purpose: ${kept.reason}`);
    }
    const beyond = difference(notInKafka, keptOnPurpose);
    if (beyond.length === 0) return;
    const newer = beyond.filter((version) => version > kafkaTop);
    const parts = [`this Kafka tree defines ${kafka.validVersions}, so ${formatVersions(beyond, Infinity)} cannot be checked`];
    if (newer.length > 0) {
      const fields = fieldsFirstIn(this.ours.fields, '', oursValid, kafkaTop);
      parts.push(fields.length === 0
        ? 'no field of ours first appears there'
        : `fields of ours first appearing there: ${fields.join(', ')}`);
    }
    this.report('valid-versions', beyond, '', this.ours.validVersions, kafka.validVersions,
      `valid versions go beyond Kafka's: ours ${this.ours.validVersions}, Kafka ${kafka.validVersions}; ${parts.join('; ')}`);
  }

  /**
   * Compares two lists of fields at one level. `oursParent` and `kafkaParent` are the versions in
   * which the enclosing field exists on each side (the whole universe at the top).
   */
  private compareFields(
    oursFields: readonly Field[],
    kafkaFields: readonly KafkaField[],
    kafka: KafkaMessageDefinition,
    prefix: string,
    oursParent: VersionSet,
    kafkaParent: VersionSet,
  ): void {
    const matched: MatchedField[] = [];
    const used = new Set<KafkaField>();
    for (const field of oursFields) {
      const path = prefix + field.name;
      const oursVersions = versionsIn(field.versions ?? '0+', oursParent);
      const kafkaName = this.kafkaNameOf(path, field.name).toLowerCase();
      const counterpart = kafkaFields.find((candidate) => candidate.name.toLowerCase() === kafkaName);
      if (counterpart === undefined) {
        if (oursVersions.length > 0) {
          this.report('missing-in-kafka', oursVersions, path, formatVersions(oursVersions, this.top), 'none',
            `not in Kafka's definition (ours: versions ${formatVersions(oursVersions, this.top)})`);
        }
        continue;
      }
      used.add(counterpart);
      const kafkaVersions = versionsIn(counterpart.versions, kafkaParent);
      matched.push({ ours: field, kafka: counterpart, oursVersions, kafkaVersions });
      this.compareField(field, counterpart, kafka, path, oursVersions, kafkaVersions);
    }
    for (const field of kafkaFields) {
      if (used.has(field)) continue;
      const kafkaVersions = versionsIn(field.versions, kafkaParent);
      if (kafkaVersions.length === 0) continue;
      const path = prefix + field.name.charAt(0).toLowerCase() + field.name.slice(1);
      this.report('missing-in-ours', kafkaVersions, path, 'none', formatVersions(kafkaVersions, this.top),
        `Kafka has ${field.name} (${field.type}, versions ${formatVersions(kafkaVersions, this.top)}), ours lacks it`);
    }
    this.compareOrder(matched, kafkaFields, prefix);
  }

  private compareField(
    ours: Field,
    kafka: KafkaField,
    definition: KafkaMessageDefinition,
    path: string,
    oursVersions: VersionSet,
    kafkaVersions: VersionSet,
  ): void {
    if (!sameVersions(oursVersions, kafkaVersions)) this.reportSets('versions', path, oursVersions, kafkaVersions, 'versions differ');
    // Everything else is compared where the field exists on both sides.
    const common = intersection(oursVersions, kafkaVersions);
    if (common.length === 0) return;
    if (kafka.flexibleVersions !== undefined) {
      this.report('unsupported', common, path, 'none', kafka.flexibleVersions,
        `Kafka gives this field its own flexibleVersions (${kafka.flexibleVersions}), which our declarations cannot express`);
    }
    const oursType = typeOfOurs(ours);
    const kafkaType = typeOfKafka(kafka.type);
    if (oursType !== kafkaType) {
      this.report('type', common, path, oursType, kafka.type, `type differs: ours ${oursType}, Kafka ${kafka.type}`);
      return;
    }
    this.compareSet('nullable-versions', path, ours.nullable ?? 'none', kafka.nullableVersions ?? 'none', common, 'nullable versions differ');
    this.compareSet('tagged-versions', path, ours.taggedVersions ?? 'none', kafka.taggedVersions ?? 'none', common, 'tagged versions differ');
    const oursTagged = versionsIn(ours.taggedVersions ?? 'none', common);
    const kafkaTagged = versionsIn(kafka.taggedVersions ?? 'none', common);
    if (oursTagged.length > 0 && kafkaTagged.length > 0 && ours.tag !== kafka.tag) {
      this.report('tag', intersection(oursTagged, kafkaTagged), path, String(ours.tag), String(kafka.tag),
        `tag differs: ours ${String(ours.tag)}, Kafka ${String(kafka.tag)}`);
    }
    if (ours.default !== undefined && kafka.default !== undefined) {
      const oursDefault = normaliseDefault(ours.default, oursType);
      const kafkaDefault = normaliseDefault(kafka.default, kafkaType);
      if (oursDefault !== kafkaDefault) {
        const oursText = showDefault(oursDefault, oursType);
        const kafkaText = showDefault(kafkaDefault, kafkaType);
        this.report('default', common, path, oursText, kafkaText, `default differs: ours ${oursText}, Kafka ${kafkaText}`);
      }
    }
    const oursInner = innerFields(ours);
    if (oursInner === undefined) return;
    const kafkaInner = innerKafkaFields(kafka, definition);
    if (kafkaInner === undefined) {
      this.report('unsupported', common, path, oursType, kafka.type, `Kafka's struct type ${kafka.type} is not defined in ${definition.fileName}`);
      return;
    }
    this.compareFields(oursInner, kafkaInner, definition, `${path}${ours.type === 'array' ? '[]' : ''}.`, oursVersions, kafkaVersions);
  }

  /** Compares a version range attribute (nullable, tagged) over the versions the field exists on both sides. */
  private compareSet(kind: DifferenceKind, path: string, oursRange: string, kafkaRange: string, common: VersionSet, what: string): void {
    const oursSet = versionsIn(oursRange, common);
    const kafkaSet = versionsIn(kafkaRange, common);
    if (!sameVersions(oursSet, kafkaSet)) this.reportSets(kind, path, oursSet, kafkaSet, what);
  }

  /** Fields travel in declaration order (tagged ones excepted): the matched fields must come in the same order in every version. */
  private compareOrder(matched: readonly MatchedField[], kafkaFields: readonly KafkaField[], prefix: string): void {
    const versions: number[] = [];
    let example: { ours: string; kafka: string } | undefined;
    for (const version of this.universe) {
      const present = matched.filter((pair) => onTheWire(pair, version));
      const oursOrder = present.map((pair) => pair.ours.name).join(', ');
      const kafkaOrder = [...present]
        .sort((left, right) => kafkaFields.indexOf(left.kafka) - kafkaFields.indexOf(right.kafka))
        .map((pair) => pair.ours.name)
        .join(', ');
      if (oursOrder !== kafkaOrder) {
        versions.push(version);
        example ??= { ours: oursOrder, kafka: kafkaOrder };
      }
    }
    if (example === undefined) return;
    this.report('order', versions, prefix.slice(0, -1), example.ours, example.kafka, `field order differs: ours ${example.ours}; Kafka ${example.kafka}`);
  }

  private kafkaNameOf(path: string, name: string): string {
    const rename = this.allowList.fieldRenames.find((entry) => entry.message === this.ours.name && entry.type === this.ours.type && entry.path === path);
    return rename?.kafkaName ?? name;
  }

  private note(text: string): void {
    this.notes.push({ message: this.label, text });
  }

  private reportSets(kind: DifferenceKind, path: string, ours: VersionSet, kafka: VersionSet, what: string): void {
    const oursText = formatVersions(ours, this.top);
    const kafkaText = formatVersions(kafka, this.top);
    this.report(kind, symmetricDifference(ours, kafka), path, oursText, kafkaText, `${what}: ours ${oursText}, Kafka ${kafkaText}`);
  }

  private report(kind: DifferenceKind, versions: VersionSet, path: string, ours: string, kafka: string, description: string): void {
    const versionText = versions.length === 0 ? '' : `v${formatVersions(versions, this.top)}`;
    const head = versionText === '' ? this.label : `${this.label} ${versionText}`;
    const text = path === '' ? `${head}: ${description}` : `${head}: field ${path}: ${description}`;
    this.differences.push({ message: this.label, kind, versions: versionText, path, ours, kafka, text });
  }
}

/** Whether a matched field is in the fixed (untagged) part of `version` on both sides. */
function onTheWire(pair: MatchedField, version: number): boolean {
  const tagged = versionsIn(pair.ours.taggedVersions ?? 'none', [version]).length > 0
    || versionsIn(pair.kafka.taggedVersions ?? 'none', [version]).length > 0;
  return !tagged && pair.oursVersions.includes(version) && pair.kafkaVersions.includes(version);
}

/** Our field's type in Kafka's notation, structs named generically: "int32", "[]int32", "[]struct", "struct". */
function typeOfOurs(field: Field): string {
  if (field.type === 'array') return typeof field.items === 'string' ? `[]${field.items}` : '[]struct';
  return field.type;
}

/** Kafka's type with struct names made generic, to compare with typeOfOurs. */
function typeOfKafka(type: string): string {
  const element = type.startsWith('[]') ? type.slice(2) : type;
  const generic = primitives.has(element) ? element : 'struct';
  return type.startsWith('[]') ? `[]${generic}` : generic;
}

function innerFields(field: Field): readonly Field[] | undefined {
  if (field.type === 'struct') return field.fields;
  if (field.type === 'array' && typeof field.items !== 'string') return field.items;
  return undefined;
}

/** A Kafka struct field's fields: declared inline, or by type name (another inline struct or a commonStruct). */
function innerKafkaFields(field: KafkaField, definition: KafkaMessageDefinition): readonly KafkaField[] | undefined {
  if (field.fields !== undefined) return field.fields;
  const name = field.type.startsWith('[]') ? field.type.slice(2) : field.type;
  return definition.structs.get(name);
}

/**
 * A default as one comparable text: integers through BigInt (so "0x7fffffff", 2147483647 and
 * "2147483647" agree), null as "null" (Kafka writes it "null"), the rest as written.
 */
function normaliseDefault(value: string | number | boolean | null, type: string): string {
  if (value === null || value === 'null') return 'null';
  if (['int8', 'int16', 'uint16', 'int32', 'int64'].includes(type)) {
    try {
      return BigInt(value).toString();
    } catch {
      return String(value);
    }
  }
  if (type === 'float64') return String(Number(value));
  return String(value);
}

/** A normalised default as shown in a report: strings quoted (so that an empty one shows), the rest bare. */
function showDefault(normalised: string, type: string): string {
  return type === 'string' && normalised !== 'null' ? JSON.stringify(normalised) : normalised;
}

/** Paths of our fields whose first version is above `kafkaTop` (only the outermost of a new group). */
function fieldsFirstIn(fields: readonly Field[], prefix: string, parent: VersionSet, kafkaTop: number): string[] {
  const found: string[] = [];
  for (const field of fields) {
    const versions = versionsIn(field.versions ?? '0+', parent);
    const path = prefix + field.name;
    const first = versions[0];
    if (first === undefined) continue;
    if (first > kafkaTop) {
      found.push(`${path} (${formatVersions(versions, Math.max(...parent))})`);
      continue;
    }
    const inner = innerFields(field);
    if (inner !== undefined) found.push(...fieldsFirstIn(inner, `${path}${field.type === 'array' ? '[]' : ''}.`, versions, kafkaTop));
  }
  return found;
}
