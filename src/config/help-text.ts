/**
 * The table of settings presented to people: the flag section of `osprey broker --help`, and the
 * settings table of docs/configuration.md (`npm run docs:config` writes it; a test checks it).
 */
import { configFileEnv, configFileFlag, configOptions, sectionNames } from './settings-table.js';
import type { ConfigOption, SectionName } from './settings-table.js';

const units: ReadonlyArray<readonly [number, string]> = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
const durations: ReadonlyArray<readonly [number, string]> = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1000, 's']];

/** A default as shown to people: `1073741824 (1 GiB)`, `604800000 (7 d)`, `''`. */
function formatDefault(option: ConfigOption): string {
  const value = option.defaultValue;
  if (value === '') return "''";
  if (typeof value !== 'number' || value <= 0) return String(value);
  const scale = option.placeholder === 'BYTES' ? units : option.placeholder === 'MS' ? durations : [];
  const unit = scale.find(([size]) => value % size === 0 && value >= size);
  return unit === undefined ? String(value) : `${value} (${value / unit[0]} ${unit[1]})`;
}

/** The flag as written in help: `--kafka-port PORT`, `--auto-create-topics[=true|false]`. */
function flagUsage(option: ConfigOption): string {
  return option.isBoolean ? `${option.flag}[=true|false]` : `${option.flag} ${option.placeholder}`;
}

const sectionTitles: Record<SectionName | 'broker', string> = {
  broker: 'Broker',
  topicDefaults: 'Topic defaults (YAML mapping `topicDefaults`)',
  limits: 'Limits (YAML mapping `limits`)',
  groups: 'Consumer groups and committed offsets (YAML mapping `groups`)',
  amqp: 'AMQP 0-9-1 listener and connections (YAML mapping `amqp`)',
};

/** The settings table of docs/configuration.md; a test checks the document holds exactly this. */
export function configurationReferenceMarkdown(): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const lines: string[] = [];
  for (const section of ['broker', ...sectionNames] as const) {
    lines.push(`### ${sectionTitles[section]}`, '', '| YAML key | Flag | Environment variable | Default | Meaning |', '|---|---|---|---|---|');
    for (const option of configOptions.filter((candidate) => (candidate.section ?? 'broker') === section)) {
      const flags = [option.flag, ...option.aliases].map((flag) => `\`${flag}\``).join(', ');
      const kafka = option.kafkaName === null ? '' : ` Kafka: \`${option.kafkaName}\`.`;
      const meaning = `${option.description}${kafka} Accepts ${option.expected}.`;
      lines.push(`| \`${option.key}\` | ${flags} | \`${option.env}\` | \`${formatDefault(option)}\` | ${escape(meaning)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The flag section of `osprey broker --help`. */
export function flagsHelpText(): string {
  const lines: string[] = [
    'Config file:',
    `  ${configFileFlag} FILE`,
    '      YAML file of settings (camelCase keys, sections topicDefaults:, limits:, groups: and amqp:).',
    `      env ${configFileEnv} · default none`,
  ];
  for (const section of ['broker', ...sectionNames] as const) {
    const note = section === 'broker' ? '' : section === 'topicDefaults' ? '; Kafka topic config names in brackets' : '';
    lines.push('', `${sectionTitles[section].replace(/`/g, '').replace(/\)$/, `${note})`)}:`);
    for (const option of configOptions.filter((candidate) => (candidate.section ?? 'broker') === section)) {
      const aliases = option.aliases.length === 0 ? '' : `  (alias ${option.aliases.join(', ')})`;
      const negation = option.isBoolean ? `, --no-${option.flag.slice(2)}` : '';
      const kafka = option.kafkaName === null ? '' : ` [${option.kafkaName}]`;
      lines.push(
        `  ${flagUsage(option)}${negation}${aliases}`,
        ...wrap(`${option.description}${kafka}`, 94).map((line) => `      ${line}`),
        `      env ${option.env} · default ${formatDefault(option)}`,
      );
    }
  }
  return lines.join('\n');
}

function wrap(paragraph: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of paragraph.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
