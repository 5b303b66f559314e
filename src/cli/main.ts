/**
 * The `osprey` command: `osprey <command> [flags]`. Running this module runs the command line
 * (bin/osprey.js and `npm start` both land here).
 *
 * Commands live in one table; those planned but not written yet are listed so the dispatcher and
 * the help already have their place, and answer "not implemented yet" instead of "unknown".
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerCommandSummary, brokerHelpText, runBrokerCommand } from './broker-command.js';
import type { CommandContext } from './broker-command.js';
import { flagsHelpText } from '../config/loader.js';

interface Command {
  readonly summary: string;
  run(context: CommandContext): Promise<number>;
  help(): string;
}

const commands: Readonly<Record<string, Command>> = {
  broker: { summary: brokerCommandSummary, run: runBrokerCommand, help: brokerHelpText },
};

/** Reserved for what comes next (see DESIGN.md); each will get a file beside broker-command.ts. */
const plannedCommands: Readonly<Record<string, string>> = {
  topic: 'create, list, describe and delete topics',
  produce: 'write records from stdin to a topic',
  consume: 'print records of a topic',
  group: 'list and describe consumer groups, reset offsets',
  perf: 'measure produce and consume throughput',
  cluster: 'inspect brokers and partition leadership',
};

function mainHelpText(): string {
  const width = Math.max(...[...Object.keys(commands), ...Object.keys(plannedCommands)].map((name) => name.length)) + 2;
  const list = (entries: [string, string][]): string[] => entries.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`);
  return [
    'Usage: osprey <command> [flags]',
    '',
    'Osprey is a message broker that speaks the Kafka wire protocol.',
    '',
    'Commands:',
    ...list(Object.entries(commands).map(([name, command]) => [name, command.summary])),
    '',
    'Planned, not implemented yet:',
    ...list(Object.entries(plannedCommands)),
    '',
    'Global flags:',
    '  -h, --help       show help (osprey <command> --help for one command)',
    '  -V, --version    print the version',
    '',
    'osprey broker flags (defaults < YAML file < environment < flags):',
    '',
    flagsHelpText(),
    '',
  ].join('\n');
}

/** The version in the package.json above this file (dist/src/cli or src/cli). */
function packageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest: unknown = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8'));
      if (typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // not here; look higher
    }
    const parent = dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  const context = (args: readonly string[]): CommandContext => ({
    version: packageVersion(),
    argv: args,
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
  if (first === undefined) {
    process.stderr.write(mainHelpText());
    return 1;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(mainHelpText());
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0] === undefined ? undefined : commands[rest[0]];
    process.stdout.write(topic === undefined ? mainHelpText() : topic.help());
    return 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    process.stdout.write(`osprey ${packageVersion()}\n`);
    return 0;
  }
  const command = commands[first];
  if (command !== undefined) return command.run(context(rest));
  if (plannedCommands[first] !== undefined) {
    process.stderr.write(`osprey: '${first}' is planned but not implemented yet; see osprey --help\n`);
    return 1;
  }
  const hint = first.startsWith('-') ? ` (flags go after the command: osprey broker ${first})` : '';
  process.stderr.write(`osprey: unknown command '${first}'${hint}; see osprey --help\n`);
  return 1;
}

// Exit explicitly: after the broker has closed, nothing left over (a stray timer) may keep us alive.
process.exit(await main(process.argv.slice(2)));
