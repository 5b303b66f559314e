/**
 * Group config resources (ConfigResource type 32, KIP-848): the settings a consumer group may
 * have of its own, set with IncrementalAlterConfigs or AlterConfigs on the group's name and read
 * with DescribeConfigs, kept in the cluster metadata (`group:<id>`, metadata-store.ts).
 *
 *   consumer.session.timeout.ms      ← group.consumer.session.timeout.ms     bounded by group.consumer.{min,max}.session.timeout.ms
 *   consumer.heartbeat.interval.ms   ← group.consumer.heartbeat.interval.ms  bounded by group.consumer.{min,max}.heartbeat.interval.ms
 *
 * Kafka 4.1 also lists share.* and streams.* group configs; this broker has no share or streams
 * groups over the Kafka protocol, so they are not listed and are refused as unknown (INVALID_CONFIG).
 */
import type { GroupSettings } from '../config/broker-config.js';
import type { ConsumerGroupConfig } from '../groups/consumer-group.js';
import { ConfigType } from './topic-config.js';

export const sessionTimeoutConfig = 'consumer.session.timeout.ms';
export const heartbeatIntervalConfig = 'consumer.heartbeat.interval.ms';

export interface GroupConfigKey {
  readonly name: string;
  readonly type: typeof ConfigType.int;
  readonly documentation: string;
  /** The broker config it defaults to. */
  readonly brokerName: string;
  defaultValue(settings: GroupSettings): number;
  bounds(settings: GroupSettings): { minimum: number; minimumName: string; maximum: number; maximumName: string };
}

const keys: readonly GroupConfigKey[] = [
  {
    name: sessionTimeoutConfig,
    type: ConfigType.int,
    documentation: 'a member of this consumer group not heard from for this long is removed and its partitions reassigned',
    brokerName: 'group.consumer.session.timeout.ms',
    defaultValue: (settings) => settings.consumerSessionTimeoutMs,
    bounds: (settings) => ({
      minimum: settings.consumerMinSessionTimeoutMs,
      minimumName: 'group.consumer.min.session.timeout.ms',
      maximum: settings.consumerMaxSessionTimeoutMs,
      maximumName: 'group.consumer.max.session.timeout.ms',
    }),
  },
  {
    name: heartbeatIntervalConfig,
    type: ConfigType.int,
    documentation: 'how often members of this consumer group are told to heartbeat (ConsumerGroupHeartbeat heartbeatIntervalMs)',
    brokerName: 'group.consumer.heartbeat.interval.ms',
    defaultValue: (settings) => settings.consumerHeartbeatIntervalMs,
    bounds: (settings) => ({
      minimum: settings.consumerMinHeartbeatIntervalMs,
      minimumName: 'group.consumer.min.heartbeat.interval.ms',
      maximum: settings.consumerMaxHeartbeatIntervalMs,
      maximumName: 'group.consumer.max.heartbeat.interval.ms',
    }),
  },
];

const keysByName = new Map(keys.map((key) => [key.name, key]));

export function groupConfigKeys(): readonly GroupConfigKey[] {
  return keys;
}

/** Why one group config value is refused (INVALID_CONFIG), or null. */
export function groupConfigValueProblem(name: string, value: string, settings: GroupSettings): string | null {
  const key = keysByName.get(name);
  if (key === undefined) return `Unknown group config name: ${name}`;
  if (!/^[-+]?\d+$/.test(value.trim())) return `${name}: expected an integer, got '${value}'`;
  const parsed = Number(value.trim());
  const { minimum, minimumName, maximum, maximumName } = key.bounds(settings);
  if (parsed < minimum) return `${name} must be greater than or equal to ${minimumName} (${minimum}), got ${value}`;
  if (parsed > maximum) return `${name} must be less than or equal to ${maximumName} (${maximum}), got ${value}`;
  return null;
}

/** Why a group's whole set of configs is refused (INVALID_CONFIG), or null: each value, then the session timeout above the heartbeat interval. */
export function groupConfigsProblem(configs: ReadonlyMap<string, string>, settings: GroupSettings): string | null {
  for (const [name, value] of configs) {
    const problem = groupConfigValueProblem(name, value, settings);
    if (problem !== null) return problem;
  }
  const effective = effectiveGroupConfig(configs, settings);
  if (effective.sessionTimeoutMs <= effective.heartbeatIntervalMs) {
    return `${sessionTimeoutConfig} (${effective.sessionTimeoutMs}) must be greater than ${heartbeatIntervalConfig} (${effective.heartbeatIntervalMs})`;
  }
  return null;
}

/** What a consumer group runs with: its own values, else the broker's. */
export function effectiveGroupConfig(configs: ReadonlyMap<string, string>, settings: GroupSettings): Required<ConsumerGroupConfig> {
  const number = (key: string, fallback: number) => {
    const value = configs.get(key);
    return value === undefined ? fallback : Number(value.trim());
  };
  return {
    sessionTimeoutMs: number(sessionTimeoutConfig, settings.consumerSessionTimeoutMs),
    heartbeatIntervalMs: number(heartbeatIntervalConfig, settings.consumerHeartbeatIntervalMs),
  };
}
