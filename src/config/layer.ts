/**
 * A layer of configuration: what one source (flags, environment, YAML file) says, as values already
 * checked against their setting's type, each with a label saying where it came from, and the
 * problems found. loader.ts applies the layers in order.
 */
import type { ConfigOption } from './settings-table.js';

export interface Assignment {
  readonly option: ConfigOption;
  readonly value: unknown;
  /** Where it came from: `--kafka-port`, `OSPREY_KAFKA_PORT`, `osprey.yaml:3`. */
  readonly source: string;
}

export interface Layer {
  readonly assignments: Assignment[];
  readonly problems: string[];
}

function describeText(value: string): string {
  return `'${value}'`;
}

/** Parses `value` for `option` into the layer, or records why it cannot be used. */
export function assignText(layer: Layer, option: ConfigOption, value: string, source: string): void {
  const parsed = option.parseText(value);
  if (parsed === undefined) layer.problems.push(`${source}: expected ${option.expected}, got ${describeText(value)}`);
  else layer.assignments.push({ option, value: parsed, source });
}
