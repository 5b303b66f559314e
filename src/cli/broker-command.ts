/**
 * `osprey broker [flags]`: load the configuration, check the data directory, start the broker and
 * keep it running until SIGTERM or SIGINT. `osprey broker check …` is broker-check-command.ts, `osprey broker drain …` reassign-command.ts.
 *
 * Exit codes: 0 after a clean shutdown; 1 when the broker cannot start (bad config, port in use,
 * data directory unusable) or shutting down failed, with one line per problem on stderr and no stack
 * trace (set --log-level debug for one); 128+N when a second signal N cuts the shutdown short.
 */
import { constants as fsConstants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { BrokerConfig } from '../config/broker-config.js';
import { flagsHelpText } from '../config/help-text.js';
import { ConfigError, loadBrokerConfig } from '../config/loader.js';
import type { LoadedConfig } from '../config/loader.js';
import { createLogger } from '../logging/logger.js';
import type { Logger } from '../logging/logger.js';

export const brokerCommandSummary = 'run a broker: the Kafka protocol listener over the partition logs in --data-dir';

export function brokerHelpText(): string {
  return [
    'Usage: osprey broker [flags]',
    '',
    brokerCommandSummary + '.',
    'Settings come from, later ones winning: defaults < YAML file (--config) < environment (OSPREY_*) < flags.',
    'Nested settings are written --section.name and OSPREY_SECTION_NAME. Stop the broker with SIGTERM or',
    'Ctrl-C (a second one exits at once).',
    '',
    'osprey broker check --data-dir DIR reads a data directory and reports damaged data (see its --help).',
    'osprey broker drain N moves every replica off broker N of a cluster (see its --help).',
    '',
    flagsHelpText(),
    '',
    '  -h, --help',
    '      Show this help.',
    '',
  ].join('\n');
}

export interface CommandContext {
  readonly version: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Runs until the broker has been stopped; resolves to the process exit code. */
export async function runBrokerCommand(context: CommandContext): Promise<number> {
  if (context.argv[0] === 'check') {
    const { runBrokerCheckCommand } = await import('./broker-check-command.js');
    return runBrokerCheckCommand({ ...context, argv: context.argv.slice(1) });
  }
  if (context.argv[0] === 'drain') {
    const [{ brokerDrainCommand }, { runSubcommand }] = await Promise.all([import('./reassign-command.js'), import('./command-kit.js')]);
    return runSubcommand(brokerDrainCommand, context, context.argv.slice(1), process.stdout.isTTY === true);
  }
  if (context.argv.includes('--help') || context.argv.includes('-h')) {
    context.stdout(brokerHelpText());
    return 0;
  }
  let loaded: LoadedConfig;
  try {
    loaded = loadBrokerConfig({ argv: context.argv, env: context.env });
  } catch (error) {
    reportStartupFailure(context, error, undefined);
    return 1;
  }
  const { config } = loaded;
  const logger = createLogger(config.logLevel, undefined, {}, { linesPerMessage: config.logLinesPerMessage, windowMs: config.logSuppressionWindowMs });
  for (const warning of loaded.warnings) logger.warn(warning);

  const shutdown = new ShutdownSignals(logger);
  try {
    await prepareDataDir(config.dataDir, loaded.sources.get('dataDir') ?? 'default');
    logger.info('starting osprey', { version: context.version, dataDir: config.dataDir, configFile: loaded.configFile ?? undefined });
    for (const [key, source] of loaded.sources) logger.debug('setting', { key, from: source });
    // Loaded here rather than at the top, so --help and config mistakes answer without loading the broker.
    const { startBroker } = await import('../server/start.js');
    const running = await startBroker(config, logger);
    return await shutdown.closeWhenAsked(running);
  } catch (error) {
    shutdown.dispose();
    reportStartupFailure(context, error, config);
    return 1;
  }
}

/**
 * SIGTERM and SIGINT, from the moment the config is read: the first asks for a clean close (even
 * mid-start-up, once the broker is up), the second exits at once.
 */
class ShutdownSignals {
  private requested: NodeJS.Signals | undefined;
  private onRequest: ((signal: NodeJS.Signals) => void) | undefined;
  private readonly listener = (signal: NodeJS.Signals): void => this.receive(signal);

  constructor(private readonly logger: Logger) {
    process.on('SIGTERM', this.listener);
    process.on('SIGINT', this.listener);
  }

  closeWhenAsked(running: { close(): Promise<void> }): Promise<number> {
    return new Promise<number>((resolve) => {
      const close = (signal: NodeJS.Signals): void => {
        this.logger.info('shutting down; a second signal exits at once', { signal });
        running.close().then(
          () => resolve(0),
          (error: unknown) => {
            this.logger.error('shutdown failed', { error: describeError(error) });
            resolve(1);
          },
        );
      };
      if (this.requested !== undefined) close(this.requested);
      else this.onRequest = close;
    });
  }

  dispose(): void {
    process.off('SIGTERM', this.listener);
    process.off('SIGINT', this.listener);
  }

  private receive(signal: NodeJS.Signals): void {
    if (this.requested !== undefined) {
      this.logger.warn('second signal: exiting without finishing the shutdown', { signal });
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
    this.requested = signal;
    if (this.onRequest === undefined) this.logger.info('signal received during start-up; stopping once started', { signal });
    else this.onRequest(signal);
  }
}

/** Creates the data directory and checks we may write in it, so the failure names the setting. */
async function prepareDataDir(dataDir: string, source: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
    await access(dataDir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    throw new StartupError(`data dir ${dataDir} (from ${source}) is not a writable directory: ${describeDirectoryError(error)}`);
  }
}

function describeDirectoryError(error: unknown): string {
  const reasons: Record<string, string> = {
    EEXIST: 'it is a file',
    ENOTDIR: 'a parent is not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
  };
  const code = errorCode(error);
  const reason = code === undefined ? undefined : reasons[code];
  return reason === undefined ? describeError(error) : `${reason} (${code})`;
}

/** A start-up failure already worded for the operator. */
class StartupError extends Error {}

function reportStartupFailure(context: CommandContext, error: unknown, config: BrokerConfig | undefined): void {
  const problems = error instanceof ConfigError ? error.problems : [describeStartupError(error, config)];
  for (const problem of problems) context.stderr(`osprey: ${problem}\n`);
  if (config?.logLevel === 'debug' && error instanceof Error && error.stack !== undefined) context.stderr(`${error.stack}\n`);
}

function describeStartupError(error: unknown, config: BrokerConfig | undefined): string {
  if (error instanceof StartupError || config === undefined) return describeError(error);
  const code = errorCode(error);
  // Node's listen errors carry the port: the Kafka, the HTTP or the AMQP listener's.
  const port = error instanceof Error && 'port' in error && typeof error.port === 'number' ? error.port : config.kafkaPort;
  const portFlag = port === config.kafkaPort ? '--kafka-port' : port === config.httpPort ? '--http-port' : port === config.amqpPort ? '--amqp-port' : '--kafka-port';
  const listener = `${config.host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${listener}: the address is already in use (another broker? choose one with ${portFlag})`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${listener}: ${config.host} is not an address of this machine (--host)`;
    case 'EACCES':
      if (syscallOf(error) === 'listen') return `cannot listen on ${listener}: permission denied (ports below 1024 need privileges)`;
      return `permission denied: ${describeError(error)}`;
    case 'ENOTFOUND':
      return `cannot listen on ${listener}: host name ${config.host} does not resolve (--host)`;
    default:
      return describeError(error);
  }
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function syscallOf(error: unknown): string | undefined {
  return error instanceof Error && 'syscall' in error && typeof error.syscall === 'string' ? error.syscall : undefined;
}

/** One line: the message without the stack. */
function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
