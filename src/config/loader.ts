/**
 * Builds the BrokerConfig from four layers; later layers win:
 *
 *     defaults (broker-config.ts)  <  YAML file (--config / OSPREY_CONFIG)  <  environment  <  flags
 *
 * Every name is derived from the config key by one rule, so nobody has to remember a list:
 *
 *   key                          YAML                                  flag                              environment
 *   kafkaPort                    kafkaPort: 9092                       --kafka-port                      OSPREY_KAFKA_PORT
 *   topicDefaults.numPartitions  topicDefaults:                        --topic-defaults.num-partitions   OSPREY_TOPIC_DEFAULTS_NUM_PARTITIONS
 *                                  numPartitions: 3
 *
 * A few flags have a short alias where users expect one (`--num-partitions`). YAML keys are camelCase
 * only; Kafka's dotted names (`num.partitions`) are not accepted, but an unknown key that matches one
 * is answered with the key to use instead. Unknown YAML keys and bad values are errors naming the
 * source (`--kafka-port: expected an integer 0-65535, got 'abc'`); unknown OSPREY_* variables are
 * only warnings, since environments collect stray variables. Empty environment variables are unset.
 *
 *   settings-table.ts (value-types.ts)   the single table of settings, and the names derived from it
 *   flag-source.ts, environment-source.ts, yaml-source.ts   one layer each (layer.ts)
 *   loader.ts                            the layers applied in order, then checks across settings
 *   help-text.ts                         the table as `osprey broker --help` and docs/configuration.md
 *                                        (a test checks the document matches)
 */
import { resolve as resolvePath } from 'node:path';
import { defaultBrokerConfig } from './broker-config.js';
import type { BrokerConfig } from './broker-config.js';
import { environmentLayer } from './environment-source.js';
import { parseBrokerFlags } from './flag-source.js';
import type { Assignment, Layer } from './layer.js';
import { configFileEnv } from './settings-table.js';
import { yamlFileLayer } from './yaml-source.js';

/** A configuration that cannot be used; one problem per line, each naming where the value came from. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ConfigInputs {
  /** Flags after `osprey broker`. */
  readonly argv: readonly string[];
  /** Usually process.env. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative dataDir and config file paths resolve against this; process.cwd() by default. */
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: BrokerConfig;
  /** For each key set by something other than the defaults: where it came from. */
  readonly sources: ReadonlyMap<string, string>;
  readonly configFile: string | null;
  /** Things worth a log line that do not stop the broker. */
  readonly warnings: readonly string[];
  /** --help was given: show help, ignore everything else. */
  readonly help: boolean;
}

function cloneDefaults(): BrokerConfig {
  return { ...defaultBrokerConfig, topicDefaults: { ...defaultBrokerConfig.topicDefaults }, limits: { ...defaultBrokerConfig.limits }, groups: { ...defaultBrokerConfig.groups }, amqp: { ...defaultBrokerConfig.amqp } };
}

function apply(config: BrokerConfig, assignment: Assignment): void {
  const { option, value } = assignment;
  const target: Record<string, unknown> = option.section === null ? (config as unknown as Record<string, unknown>) : (config[option.section] as unknown as Record<string, unknown>);
  target[option.name] = value;
}

function crossChecks(config: BrokerConfig, sourceOf: (key: string) => string, problems: string[], warnings: string[]): void {
  const { numPartitions } = config.topicDefaults;
  const { maxPartitionsPerTopic } = config.limits;
  if (numPartitions > maxPartitionsPerTopic) {
    problems.push(
      `topicDefaults.numPartitions ${numPartitions} (from ${sourceOf('topicDefaults.numPartitions')}) exceeds ` +
        `limits.maxPartitionsPerTopic ${maxPartitionsPerTopic} (from ${sourceOf('limits.maxPartitionsPerTopic')})`,
    );
  }
  const { minSessionTimeoutMs, maxSessionTimeoutMs, consumerSessionTimeoutMs, consumerHeartbeatIntervalMs } = config.groups;
  if (consumerHeartbeatIntervalMs >= consumerSessionTimeoutMs) {
    problems.push(
      `groups.consumerHeartbeatIntervalMs ${consumerHeartbeatIntervalMs} (from ${sourceOf('groups.consumerHeartbeatIntervalMs')}) must be below ` +
        `groups.consumerSessionTimeoutMs ${consumerSessionTimeoutMs} (from ${sourceOf('groups.consumerSessionTimeoutMs')})`,
    );
  }
  if (minSessionTimeoutMs > maxSessionTimeoutMs) {
    problems.push(
      `groups.minSessionTimeoutMs ${minSessionTimeoutMs} (from ${sourceOf('groups.minSessionTimeoutMs')}) exceeds ` +
        `groups.maxSessionTimeoutMs ${maxSessionTimeoutMs} (from ${sourceOf('groups.maxSessionTimeoutMs')})`,
    );
  }
  for (const [minimum, maximum] of [['consumerMinSessionTimeoutMs', 'consumerMaxSessionTimeoutMs'], ['consumerMinHeartbeatIntervalMs', 'consumerMaxHeartbeatIntervalMs']] as const) {
    if (config.groups[minimum] > config.groups[maximum]) {
      problems.push(`groups.${minimum} ${config.groups[minimum]} (from ${sourceOf(`groups.${minimum}`)}) exceeds groups.${maximum} ${config.groups[maximum]} (from ${sourceOf(`groups.${maximum}`)})`);
    }
  }
  if (config.etcdEndpoints !== '' && sourceOf('nodeId') === 'default') {
    problems.push(`etcdEndpoints (from ${sourceOf('etcdEndpoints')}) joins a cluster, where every broker needs a node id of its own: set --node-id`);
  }
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  if (wildcard && config.advertisedHost === '') {
    warnings.push(`host ${config.host} listens on every interface, but clients would be told to connect to ${config.host}; set --advertised-host`);
  }
}

/**
 * The broker configuration from defaults, the YAML file, the environment and flags, in that order.
 * Throws ConfigError listing every problem found, each naming its source.
 */
export function loadBrokerConfig(inputs: ConfigInputs): LoadedConfig {
  const cwd = inputs.cwd ?? process.cwd();
  const warnings: string[] = [];
  const flags = parseBrokerFlags(inputs.argv);
  if (flags.help) return { config: cloneDefaults(), sources: new Map(), configFile: null, warnings, help: true };

  const fileFromEnv = inputs.env[configFileEnv];
  const fileSetting = flags.configFile ?? (fileFromEnv === undefined || fileFromEnv === '' ? undefined : { path: fileFromEnv, source: configFileEnv });
  const layers: Layer[] = [];
  if (fileSetting !== undefined) layers.push(yamlFileLayer(fileSetting.path, fileSetting.source, cwd));
  layers.push(environmentLayer(inputs.env, warnings), flags);

  const config = cloneDefaults();
  const sources = new Map<string, string>();
  const problems: string[] = [];
  for (const layer of layers) {
    problems.push(...layer.problems);
    for (const assignment of layer.assignments) {
      apply(config, assignment);
      sources.set(assignment.option.key, assignment.source);
    }
  }
  crossChecks(config, (key) => sources.get(key) ?? 'default', problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems);

  config.dataDir = resolvePath(cwd, config.dataDir);
  return { config, sources, configFile: fileSetting === undefined ? null : resolvePath(cwd, fileSetting.path), warnings, help: false };
}
