/**
 * The `osprey` command: `osprey <command> [flags]`. Running this module runs the command line
 * (bin/osprey.js and `npm start` both land here).
 *
 * Commands live in one table. `broker` runs a broker; the others are clients, declared with
 * command-kit.ts: most talk the Kafka protocol to --brokers (src/client); queue, exchange, vhost and
 * policy talk to the broker's HTTP admin API at --http-address (admin-api-client.ts).
 *
 * Each command's module is loaded when that command runs, not before: a client command does not
 * load the broker, its YAML parser or the perf tools (an `osprey topic list` starts in a third of the
 * time). Only the overall help loads them all, for their summaries.
 */
import { packageVersion } from '../version.js';
import type { CommandContext } from './broker-command.js';
import { groupHelp, runSubcommand, subcommandHelp } from './command-kit.js';
import type { Subcommand } from './command-kit.js';

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

/** Every command, by name, loaded on demand. */
const commands: Readonly<Record<string, () => Promise<Command>>> = {
  broker: async () => {
    const { brokerCommandSummary, brokerHelpText, runBrokerCommand } = await import('./broker-command.js');
    return { summary: brokerCommandSummary, run: runBrokerCommand, help: brokerHelpText };
  },
  topic: async () => {
    const { topicCommands, topicSummary } = await import('./topic-command.js');
    return commandGroup('topic', topicSummary, topicCommands);
  },
  produce: async () => single((await import('./produce-command.js')).produceCommand),
  consume: async () => single((await import('./consume-command.js')).consumeCommand),
  group: async () => {
    const { groupCommands, groupSummary } = await import('./group-command.js');
    return commandGroup('group', groupSummary, groupCommands);
  },
  cluster: async () => {
    const { clusterCommands, clusterSummary } = await import('./cluster-command.js');
    return commandGroup('cluster', clusterSummary, clusterCommands);
  },
  perf: async () => {
    const { perfCommands, perfSummary } = await import('./perf-command.js');
    return commandGroup('perf', perfSummary, perfCommands);
  },
  queue: async () => {
    const { queueCommands, queueSummary } = await import('./queue-command.js');
    return commandGroup('queue', queueSummary, queueCommands);
  },
  exchange: async () => {
    const { exchangeCommands, exchangeSummary } = await import('./exchange-command.js');
    return commandGroup('exchange', exchangeSummary, exchangeCommands);
  },
  vhost: async () => {
    const { vhostCommands, vhostSummary } = await import('./vhost-command.js');
    return commandGroup('vhost', vhostSummary, vhostCommands);
  },
  policy: async () => {
    const { policyCommands, policySummary } = await import('./policy-command.js');
    return commandGroup('policy', policySummary, policyCommands);
  },
};

/** Reserved for what comes next (see DESIGN.md); each will get a file beside broker-command.ts. */
const plannedCommands: Readonly<Record<string, string>> = {};

async function mainHelpText(): Promise<string> {
  const summaries = await Promise.all(Object.entries(commands).map(async ([name, load]): Promise<[string, string]> => [name, (await load()).summary]));
  const width = Math.max(...[...Object.keys(commands), ...Object.keys(plannedCommands)].map((name) => name.length)) + 2;
  const list = (entries: [string, string][]): string[] => entries.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`);
  return [
    'Usage: osprey <command> [flags]',
    '',
    'Osprey is a message broker that speaks the Kafka wire protocol.',
    '',
    'Commands:',
    ...list(summaries),
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
    process.stderr.write(await mainHelpText());
    return 2;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(await mainHelpText());
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0] === undefined ? undefined : commands[rest[0]];
    process.stdout.write(topic === undefined ? await mainHelpText() : (await topic()).help());
    return 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    process.stdout.write(`osprey ${packageVersion()}\n`);
    return 0;
  }
  const command = commands[first];
  if (command !== undefined) return (await command()).run(context(rest));
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
