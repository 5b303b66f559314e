/**
 * What every client command (topic, produce, consume, group, cluster, perf) shares: flag parsing
 * (node:util parseArgs, strict: an unknown flag is an error), --brokers / OSPREY_BROKERS (or, for
 * the AMQP admin commands, --http-address / OSPREY_HTTP_ADDRESS), --json,
 * --help generated from the same declaration as the parser (with examples), and one place that turns
 * errors into a message saying what happened and what to do, plus the exit code:
 *
 *   0 success   1 the operation failed (broker unreachable, unknown topic, …)   2 invalid usage
 */
import { parseArgs } from 'node:util';
import { Admin } from '../client/admin.js';
import { KafkaClient } from '../client/client.js';
import { BrokerUnreachableError, KafkaClientError, KafkaProtocolError, RequestTimeoutError, UnsupportedVersionError } from '../client/errors.js';
import { AdminApiClient, AdminApiRequestError, AdminApiUnreachableError } from './admin-api-client.js';
import type { CommandContext } from './broker-command.js';
import { styleFor } from './output.js';
import type { Style } from './output.js';

const defaultBrokers = '127.0.0.1:9092';
const defaultHttpAddress = '127.0.0.1:8080';
const defaultTimeoutMs = 30_000;

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Name of the value in help: --partitions N. */
  readonly value?: string;
  readonly description: string;
}

export interface Subcommand {
  /** "topic create", "produce", "perf produce". */
  readonly name: string;
  readonly summary: string;
  /** Positional arguments as shown in help: "NAME". */
  readonly args?: string;
  readonly positionals?: { readonly min: number; readonly max: number };
  readonly description?: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly string[];
  /** Commands that never talk to a broker leave this false. */
  readonly usesBrokers?: boolean;
  /** Commands that talk to the broker's HTTP admin API (queue, exchange, vhost) instead of the Kafka protocol. */
  readonly usesAdminApi?: boolean;
  run(run: RunContext): Promise<number>;
}

export type FlagValues = Readonly<Record<string, string | boolean | string[] | boolean[] | undefined>>;

export class UsageError extends Error {}

const commonOptions: Readonly<Record<string, OptionSpec>> = {
  brokers: { type: 'string', short: 'b', value: 'HOST:PORT[,…]', description: `brokers to bootstrap from (default ${defaultBrokers}, or OSPREY_BROKERS)` },
  json: { type: 'boolean', description: 'machine-readable JSON output' },
  timeout: { type: 'string', value: 'DURATION', description: 'request timeout (default 30s)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const adminApiOptions: Readonly<Record<string, OptionSpec>> = {
  'http-address': { type: 'string', value: 'HOST:PORT', description: `the broker's HTTP listener, where the admin API is (default ${defaultHttpAddress}, or OSPREY_HTTP_ADDRESS)` },
  json: commonOptions['json']!,
  timeout: commonOptions['timeout']!,
  help: commonOptions['help']!,
};

/** The command's own flags and the shared ones it takes. */
function optionsOf(command: Subcommand): Readonly<Record<string, OptionSpec>> {
  const shared = command.usesAdminApi === true ? adminApiOptions : command.usesBrokers === false ? { help: commonOptions['help']! } : commonOptions;
  return { ...(command.options ?? {}), ...shared };
}

export class RunContext {
  readonly style: Style;
  private clientInstance: KafkaClient | null = null;

  constructor(
    readonly command: Subcommand,
    readonly context: CommandContext,
    readonly values: FlagValues,
    readonly positionals: readonly string[],
    isTerminal: boolean,
  ) {
    this.style = styleFor(isTerminal && values['json'] !== true, context.env);
  }

  get json(): boolean {
    return this.values['json'] === true;
  }

  out(text: string): void {
    this.context.stdout(text);
  }

  err(text: string): void {
    this.context.stderr(text);
  }

  /** Pretty JSON with a trailing newline; bigint as number. */
  outJson(value: unknown): void {
    this.out(JSON.stringify(value, (_, item: unknown) => (typeof item === 'bigint' ? Number(item) : item), 2) + '\n');
  }

  get brokers(): string[] {
    const text = this.string('brokers') ?? this.context.env['OSPREY_BROKERS'] ?? defaultBrokers;
    const list = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    if (list.length === 0) throw new UsageError('--brokers: no address given');
    return list;
  }

  client(): KafkaClient {
    if (this.clientInstance === null) {
      const timeout = this.duration('timeout');
      this.clientInstance = new KafkaClient({
        brokers: this.brokers,
        clientId: `osprey-${this.command.name.replace(' ', '-')}`,
        ...(timeout === undefined ? {} : { requestTimeoutMs: timeout, connectTimeoutMs: Math.min(timeout, 5000) }),
      });
    }
    return this.clientInstance;
  }

  admin(): Admin {
    return new Admin(this.client());
  }

  /** The broker's HTTP admin API (queue, exchange and vhost commands). */
  adminApi(): AdminApiClient {
    const address = (this.string('http-address') ?? this.context.env['OSPREY_HTTP_ADDRESS'] ?? defaultHttpAddress).trim();
    if (address === '') throw new UsageError('--http-address: no address given');
    return new AdminApiClient(address, this.duration('timeout') ?? defaultTimeoutMs);
  }

  close(): void {
    this.clientInstance?.close();
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  strings(name: string): string[] {
    const value = this.values[name];
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : typeof value === 'string' ? [value] : [];
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  integer(name: string, limits: { min?: number; max?: number } = {}): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    return parseInteger(`--${name}`, text, limits);
  }

  duration(name: string): number | undefined {
    const text = this.string(name);
    return text === undefined ? undefined : parseDuration(`--${name}`, text);
  }

  size(name: string): number | undefined {
    const text = this.string(name);
    return text === undefined ? undefined : parseSize(`--${name}`, text);
  }

  /** The positional at `index` (checked present by the parser when required). */
  arg(index: number): string {
    const value = this.positionals[index];
    if (value === undefined) throw new UsageError(`missing ${this.command.args ?? 'argument'}`);
    return value;
  }
}

export function parseInteger(what: string, text: string, limits: { min?: number; max?: number } = {}): number {
  const value = Number(text);
  const min = limits.min ?? Number.MIN_SAFE_INTEGER;
  const max = limits.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = limits.min !== undefined && limits.max !== undefined ? ` ${limits.min}-${limits.max}` : limits.min !== undefined ? ` ≥ ${limits.min}` : '';
    throw new UsageError(`${what}: expected an integer${range}, got '${text}'`);
  }
  return value;
}

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "500ms", "10s", "2m", "1h"; a bare number is milliseconds. */
export function parseDuration(what: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new UsageError(`${what}: expected a duration like 500ms, 10s or 2m, got '${text}'`);
  return Math.round(Number(match[1]) * (durationUnits[match[2] ?? 'ms'] ?? 1));
}

const sizeUnits: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** "100", "16k", "1MiB", "64KB". */
export function parseSize(what: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = sizeUnits[(match?.[2] ?? '?').toLowerCase()];
  if (match === null || unit === undefined) throw new UsageError(`${what}: expected a size like 100, 16KiB or 1MiB, got '${text}'`);
  return Math.round(Number(match[1]) * unit);
}

// ── help ──

export function subcommandHelp(command: Subcommand): string {
  const options = optionsOf(command);
  const lines = [`Usage: osprey ${command.name}${command.args ? ` ${command.args}` : ''} [flags]`, '', command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + '.'];
  if (command.description) lines.push('', command.description);
  lines.push('', 'Flags:');
  const entries = Object.entries(options).map(([name, spec]) => {
    const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    return [left, spec.description + (spec.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...entries.map(([left]) => left.length)) + 2;
  for (const [left, right] of entries) lines.push(`  ${left.padEnd(width)}${right}`);
  lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`), '');
  return lines.join('\n');
}

export function groupHelp(group: string, summary: string, subcommands: readonly Subcommand[]): string {
  const width = Math.max(...subcommands.map((command) => command.name.length)) + 2;
  return [
    `Usage: osprey ${group} <command> [flags]`,
    '',
    summary.charAt(0).toUpperCase() + summary.slice(1) + '.',
    '',
    'Commands:',
    ...subcommands.map((command) => `  osprey ${command.name.padEnd(width)}${command.summary}`),
    '',
    `osprey ${group} <command> --help shows the flags and examples of one.`,
    '',
  ].join('\n');
}

// ── running ──

/** Parses flags, runs, and maps errors to messages and exit codes. */
export async function runSubcommand(command: Subcommand, context: CommandContext, argv: readonly string[], isTerminal: boolean): Promise<number> {
  const options = optionsOf(command);
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
    for (const [name, spec] of Object.entries(options)) {
      config[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
    }
    parsed = parseArgs({ args: [...argv], options: config, allowPositionals: true, strict: true }) as { values: FlagValues; positionals: string[] };
  } catch (error) {
    return usageFailure(command, context, describeParseError(error));
  }
  if (parsed.values['help'] === true) {
    context.stdout(subcommandHelp(command));
    return 0;
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length < min) return usageFailure(command, context, `missing ${command.args ?? 'argument'}`);
  if (parsed.positionals.length > max) return usageFailure(command, context, `unexpected argument '${parsed.positionals[max]}'`);
  const run = new RunContext(command, context, parsed.values, parsed.positionals, isTerminal);
  try {
    return await command.run(run);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(command, context, error.message);
    context.stderr(`osprey ${command.name}: ${explain(error)}\n`);
    return 1;
  } finally {
    run.close();
  }
}

function usageFailure(command: Subcommand, context: CommandContext, message: string): number {
  context.stderr(`osprey ${command.name}: ${message}\nSee 'osprey ${command.name} --help'.\n`);
  return 2;
}

function describeParseError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const option = /'(-[^']+)'/.exec(error.message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown flag ${option ?? error.message}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(error.message)) return `${option ?? 'a flag'} needs a value`;
    // "--from -1": parseArgs will not take a value that starts with a dash as a separate word.
    if (/argument is ambiguous/.test(error.message)) return `${option ?? 'a flag'} needs its value attached when it starts with '-': write ${option ?? '--flag'}=-N`;
    return `${option ?? 'a flag'} takes no value`;
  }
  return error.message;
}

/** One sentence of what happened, and a hint of what to do when we have one. */
export function explain(error: unknown): string {
  if (error instanceof BrokerUnreachableError) return error.message;
  if (error instanceof RequestTimeoutError) return `${error.message}; the broker may be overloaded, or raise --timeout`;
  if (error instanceof KafkaProtocolError) return error.message + protocolHint(error);
  if (error instanceof UnsupportedVersionError) return error.message;
  if (error instanceof KafkaClientError) return error.message;
  if (error instanceof AdminApiUnreachableError) return `${error.message}; is the broker's HTTP listener there? (--http-address or OSPREY_HTTP_ADDRESS)`;
  if (error instanceof AdminApiRequestError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

function protocolHint(error: KafkaProtocolError): string {
  switch (error.errorName) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return '; no such topic or partition (osprey topic list shows the topics)';
    case 'TOPIC_ALREADY_EXISTS':
      return '; pick another name, or osprey topic describe it';
    case 'NON_EMPTY_GROUP':
      return '; the group still has members: stop its consumers first';
    case 'GROUP_ID_NOT_FOUND':
      return '; no such group (osprey group list shows the groups)';
    case 'INVALID_PARTITIONS':
      return '; partition counts must be positive, and can only grow';
    case 'INVALID_CONFIG':
      return '; check the config name and value';
    case 'POLICY_VIOLATION':
    case 'TOPIC_DELETION_DISABLED':
      return '; the broker does not allow this';
    default:
      return '';
  }
}

/** `k=v` pairs (from repeated flags) as an object; a pair without '=' is a usage error. */
export function keyValuePairs(what: string, pairs: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`${what}: expected key=value, got '${pair}'`);
    result[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return result;
}
