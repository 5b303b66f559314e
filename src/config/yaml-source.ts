/**
 * The YAML file source (--config FILE / OSPREY_CONFIG): a mapping of camelCase keys, sections
 * `topicDefaults:`, `limits:`, `groups:` and `amqp:` as nested mappings. Problems name the file and line
 * (`osprey.yaml:3: …`); an unknown key is answered with the key it probably meant, Kafka's dotted
 * names (`num.partitions`) included.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { Layer } from './layer.js';
import { configOptions, looseName, optionByLooseName, sectionNames } from './settings-table.js';
import type { SectionName } from './settings-table.js';

function describeYaml(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  return `${String(value)} (a ${typeof value})`;
}

/** Where a YAML key that is not ours probably belongs. */
function suggestYamlKey(key: string, section: SectionName | null): string {
  const near = optionByLooseName.get(looseName(key));
  if (near === undefined) return '';
  const kafka = near.kafkaName !== null && looseName(near.kafkaName) === looseName(key) && key.includes('.') ? ` (Kafka's ${near.kafkaName}; keys here are camelCase)` : '';
  if (near.section === section) return `; did you mean '${near.name}'${kafka}?`;
  const place = near.section === null ? 'at the top level' : `under '${near.section}:'`;
  return `; did you mean '${near.name}' ${place}${kafka}?`;
}

/** The settings of the YAML file `file` (named by `source`), resolved against `cwd`. */
export function yamlFileLayer(file: string, source: string, cwd: string): Layer {
  const layer: Layer = { assignments: [], problems: [] };
  let contents: string;
  try {
    contents = readFileSync(resolvePath(cwd, file), 'utf8');
  } catch (error) {
    layer.problems.push(`${source} ${file}: cannot read the config file: ${describeReadError(error)}`);
    return layer;
  }
  const lines = new LineCounter();
  const document = parseDocument(contents, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined): string => (offset === undefined ? file : `${file}:${lines.linePos(offset).line}`);
  if (document.errors.length > 0) {
    for (const error of document.errors) layer.problems.push(`${where(error.pos[0])}: invalid YAML: ${error.message}`);
    return layer;
  }
  const walker = new YamlWalker(document, where, layer);
  walker.readMapping(document.contents, null);
  return layer;
}

class YamlWalker {
  constructor(
    private readonly document: Document,
    private readonly where: (offset: number | undefined) => string,
    private readonly layer: Layer,
  ) {}

  readMapping(node: unknown, section: SectionName | null): void {
    const resolved = this.resolve(node);
    if (resolved === null || (isScalar(resolved) && resolved.value === null)) return; // empty file or empty section
    if (!isMap(resolved)) {
      const what = section === null ? 'the top level' : `'${section}'`;
      this.layer.problems.push(`${this.where(resolved.range?.[0])}: expected a mapping of settings at ${what}, got ${this.kindOf(resolved)}`);
      return;
    }
    for (const pair of resolved.items) {
      const keyNode = this.resolve(pair.key);
      const at = this.where(keyNode?.range?.[0]);
      if (!isScalar(keyNode)) {
        this.layer.problems.push(`${at}: keys must be plain names`);
        continue;
      }
      this.readEntry(String(keyNode.value), pair.value, section, at);
    }
  }

  private readEntry(key: string, valueNode: unknown, section: SectionName | null, at: string): void {
    const path = section === null ? key : `${section}.${key}`;
    if (section === null && (sectionNames as readonly string[]).includes(key)) {
      this.readMapping(valueNode, key as SectionName);
      return;
    }
    const option = configOptions.find((candidate) => candidate.section === section && candidate.name === key);
    if (option === undefined) {
      this.layer.problems.push(`${at}: unknown key '${path}'${suggestYamlKey(key, section)}`);
      return;
    }
    const resolved = this.resolve(valueNode);
    const value = resolved === null ? null : isScalar(resolved) ? resolved.value : resolved.toJSON();
    const parsed = option.parseYaml(value);
    if (parsed === undefined) {
      const quoteHint = option.isText && (typeof value === 'number' || typeof value === 'boolean') ? '; put it in quotes' : '';
      this.layer.problems.push(`${at}: ${path}: expected ${option.expected}, got ${describeYaml(value)}${quoteHint}`);
      return;
    }
    this.layer.assignments.push({ option, value: parsed, source: at });
  }

  private resolve(node: unknown): YamlNode | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return this.resolve(node.resolve(this.document));
    if (isScalar(node) || isMap(node) || isSeq(node)) return node;
    return null;
  }

  private kindOf(node: YamlNode): string {
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) return describeYaml(node.value);
    return 'something else';
  }
}

function describeReadError(error: unknown): string {
  const code = error instanceof Error && 'code' in error ? String(error.code) : undefined;
  const reasons: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' };
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  return reasons[code] === undefined ? code : `${reasons[code]} (${code})`;
}
