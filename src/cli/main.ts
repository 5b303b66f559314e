/**
 * The `osprey` command: `osprey <command> [flags]`. Running this module runs the command line
 * (bin/osprey.js and `npm start` both land here).
 *
 * Commands live in one table. `broker` runs a broker; the others are clients, declared with
 * command-kit.ts: most talk the Kafka protocol to --brokers (src/client); queue, exchange, vhost and
 * policy talk to the broker's HTTP admin API at --http-address (admin-api-client.ts).
 */
import { packageVersion } from '../version.js';
import { brokerCommandSummary, brokerHelpText, runBrokerCommand } from './broker-command.js';
import type { CommandContext } from './broker-command.js';
import { groupHelp, runSubcommand, subcommandHelp } from './command-kit.js';
import type { Subcommand } from './command-kit.js';
import { clusterCommands, clusterSummary } from './cluster-command.js';
import { topicCommands, topicSummary } from './topic-command.js';
import { produceCommand } from './produce-command.js';
import { consumeCommand } from './consume-command.js';
import { groupCommands, groupSummary } from './group-command.js';
import { perfCommands, perfSummary } from './perf-command.js';
import { queueCommands, queueSummary } from './queue-command.js';
import { exchangeCommands, exchangeSummary } from './exchange-command.js';
import { vhostCommands, vhostSummary } from './vhost-command.js';
import { policyCommands, policySummary } from './policy-command.js';

interface Command {
  readonly summary: string;
  run(context: CommandContext): Promise<number>;
  help(): string;
}

const isTerminal = process.stdout.isTTY === true;

/** `osprey NAME <subcommand> …`: dispatches to one of `subcommands` ("NAME sub"). */
function commandGroup(name: string, summary: string, subcommands: readonly Subcommand[]): Command {
  const help = () => groupHelp(name, summary, subcommands);
  return {
    summary,
    help,
    async run(context) {
      const [sub, ...rest] = context.argv;
      if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
        (sub === undefined ? context.stderr : context.stdout)(help());
        return sub === undefined ? 2 : 0;
      }
      const command = subcommands.find((candidate) => candidate.name === `${name} ${sub}`);
      if (command === undefined) {
        context.stderr(`osprey ${name}: unknown command '${sub}'; one of: ${subcommands.map((candidate) => candidate.name.slice(name.length + 1)).join(', ')}\n`);
        return 2;
      }
      return runSubcommand(command, context, rest, isTerminal);
    },
  };
}

function single(command: Subcommand): Command {
  return { summary: command.summary, help: () => subcommandHelp(command), run: (context) => runSubcommand(command, context, context.argv, isTerminal) };
}

const commands: Readonly<Record<string, Command>> = {
  broker: { summary: brokerCommandSummary, run: runBrokerCommand, help: brokerHelpText },
  topic: commandGroup('topic', topicSummary, topicCommands),
  produce: single(produceCommand),
  consume: single(consumeCommand),
  group: commandGroup('group', groupSummary, groupCommands),
  cluster: commandGroup('cluster', clusterSummary, clusterCommands),
  perf: commandGroup('perf', perfSummary, perfCommands),
  queue: commandGroup('queue', queueSummary, queueCommands),
  exchange: commandGroup('exchange', exchangeSummary, exchangeCommands),
  vhost: commandGroup('vhost', vhostSummary, vhostCommands),
  policy: commandGroup('policy', policySummary, policyCommands),
};

/** Reserved for what comes next (see DESIGN.md); each will get a file beside broker-command.ts. */
const plannedCommands: Readonly<Record<string, string>> = {};

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
    ...(Object.keys(plannedCommands).length === 0 ? [] : ['', 'Planned, not implemented yet:', ...list(Object.entries(plannedCommands))]),
    '',
    'Global flags:',
    '  -h, --help       show help (osprey <command> --help for one command)',
    '  -V, --version    print the version',
    '',
    'Client commands talk the Kafka protocol to --brokers HOST:PORT[,…] (default 127.0.0.1:9092, or',
    'OSPREY_BROKERS), so they work against Osprey and any Kafka-compatible broker. Each takes --json',
    'for scripts and --help for its flags and examples. Exit codes: 0 ok, 1 failed, 2 invalid usage.',
    '',
    'queue, exchange, vhost and policy administer the AMQP side through the broker\'s HTTP admin API at',
    '--http-address HOST:PORT (default 127.0.0.1:8080, or OSPREY_HTTP_ADDRESS); each takes --vhost',
    '(default "/").',
    '',
    'The broker\'s settings (flags, OSPREY_* variables, YAML file): osprey broker --help',
    '',
  ].join('\n');
}


async function main(argv: readonly string[]): Promise<number> {
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
    return 2;
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
  const named = rest.find((word) => commands[word] !== undefined);
  const hint = first.startsWith('-') ? ` (flags go after the command${named === undefined ? '' : `: osprey ${named} … ${first}`})` : '';
  process.stderr.write(`osprey: unknown command '${first}'${hint}; see osprey --help\n`);
  return 2;
}

// Exit explicitly: after the broker has closed, nothing left over (a stray timer) may keep us alive.
process.exit(await main(process.argv.slice(2)));
