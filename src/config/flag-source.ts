/**
 * The flags source: `osprey broker` flags, `--kafka-port 9093`, `--topic-defaults.num-partitions=3`,
 * `--auto-create-topics`, `--no-auto-create-topics`, besides `--config FILE` and `--help`.
 */
import { parseArgs } from 'node:util';
import { assignText } from './layer.js';
import type { Layer } from './layer.js';
import { configFileFlag, configOptions, looseName, optionByFlag, optionByLooseName } from './settings-table.js';

/** What a command line said, besides the settings. */
export interface ParsedFlags extends Layer {
  readonly help: boolean;
  /** The --config value and the flag as typed, when given. */
  readonly configFile: { readonly path: string; readonly source: string } | undefined;
}

/** Edits (insert, delete, replace) turning one word into the other. */
function editDistance(from: string, to: string): number {
  let previousRow = Array.from({ length: to.length + 1 }, (_, index) => index);
  for (let i = 1; i <= from.length; i++) {
    const row = [i];
    for (let j = 1; j <= to.length; j++) {
      const replace = (previousRow[j - 1] ?? 0) + (from[i - 1] === to[j - 1] ? 0 : 1);
      row.push(Math.min(replace, (previousRow[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1));
    }
    previousRow = row;
  }
  return previousRow[to.length] ?? 0;
}

function suggestFlag(typed: string): string {
  const loose = optionByLooseName.get(looseName(typed));
  if (loose !== undefined) return ` (did you mean ${loose.flag}?)`;
  const bare = typed.replace(/^-+/, '');
  const tail = configOptions.find((option) => bare.length > 2 && (option.flag.endsWith(`-${bare}`) || option.flag.endsWith(`.${bare}`)));
  if (tail !== undefined) return ` (did you mean ${tail.flag}?)`;
  const flags = [...optionByFlag.keys(), configFileFlag, '--help'];
  const typo = flags.find((flag) => editDistance(typed, flag) <= Math.min(2, Math.floor(typed.length / 4)));
  return typo === undefined ? '' : ` (did you mean ${typo}?)`;
}

/**
 * Reads `osprey broker` flags with node's parseArgs in its lenient mode, so every mistake gets our
 * own message: unknown flags (with a suggestion), missing values, stray arguments.
 */
export function parseBrokerFlags(argv: readonly string[]): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [flag, option] of optionByFlag) options[flag.slice(2)] = { type: option.isBoolean ? 'boolean' : 'string' };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });

  const layer: Layer = { assignments: [], problems: [] };
  let help = false;
  let configFile: ParsedFlags['configFile'];
  let previous: (typeof tokens)[number] | undefined;
  let previousWasUnknown = false;
  for (const token of tokens) {
    const before = previous;
    const afterUnknown = previousWasUnknown;
    previous = token;
    previousWasUnknown = false;
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (afterUnknown) continue; // most likely the value of the unknown flag reported just before
      const flagBefore = before?.kind === 'option' ? optionByFlag.get(before.rawName) : undefined;
      const hint = flagBefore?.isBoolean === true && before?.kind === 'option' ? ` (write ${before.rawName}=${token.value})` : '';
      layer.problems.push(`unexpected argument '${token.value}'${hint}`);
      continue;
    }
    if (afterUnknown && /^-[0-9]/.test(token.rawName)) continue; // a negative number given to the unknown flag
    if (token.rawName === '--help' || token.rawName === '-h') {
      help = true;
      continue;
    }
    const value = token.value;
    const looksLikeFlag = value !== undefined && token.inlineValue === false && value.startsWith('--');
    if (token.rawName === configFileFlag) {
      if (value === undefined || value === '' || looksLikeFlag) layer.problems.push(`${configFileFlag}: expected a file name`);
      else configFile = { path: value, source: configFileFlag };
      continue;
    }
    const negated = token.rawName.startsWith('--no-') ? optionByFlag.get(`--${token.rawName.slice(5)}`) : undefined;
    if (negated?.isBoolean === true && value === undefined) {
      layer.assignments.push({ option: negated, value: false, source: token.rawName });
      continue;
    }
    const option = optionByFlag.get(token.rawName);
    if (option === undefined) {
      previousWasUnknown = value === undefined;
      layer.problems.push(`unknown flag ${token.rawName}${suggestFlag(token.rawName)}; see osprey broker --help`);
      continue;
    }
    if (option.isBoolean && value === undefined) {
      layer.assignments.push({ option, value: true, source: token.rawName });
      continue;
    }
    if (value === undefined || looksLikeFlag) {
      layer.problems.push(`${token.rawName}: expected a value (${option.expected})${looksLikeFlag ? `, got the flag ${value}` : ''}`);
      continue;
    }
    assignText(layer, option, value, token.rawName);
  }
  return { ...layer, help, configFile };
}
