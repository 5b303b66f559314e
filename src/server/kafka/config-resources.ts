/**
 * What the topic and config admin handlers share: config resource types, finding the resource a
 * request names (this broker, one of its topics, a group), config lists turned into maps, names
 * given twice in one request, and the loop AlterConfigs and IncrementalAlterConfigs both run.
 */
import type { Broker, OperationResult, Topic } from '../../broker/broker.js';
import { brokerSetting } from '../../broker/broker-settings.js';
import type { BrokerConfigLevel } from '../../broker/broker-settings.js';
import { topicConfigKey } from '../../broker/topic-config.js';
import { topicNameProblem } from '../../broker/topic-name.js';
import type { Logger } from '../../logging/logger.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';
import { InvalidRequestNotes } from './invalid-request.js';

/** Kafka's ConfigResource.Type values we answer for. */
export const ConfigResourceType = { topic: 2, broker: 4, group: 32 } as const;

/** A refusal; for INVALID_REQUEST, the request field at fault (logged at debug by the handlers). */
export interface RequestProblem extends OperationResult {
  readonly field?: string;
}

export function problem(errorCode: number, errorMessage: string, field?: string): RequestProblem {
  return field === undefined ? { errorCode, errorMessage } : { errorCode, errorMessage, field };
}

/** Notes a resource refused as INVALID_REQUEST, by the field at fault, for the request's debug line. */
export function noteInvalidRequest(notes: InvalidRequestNotes, result: RequestProblem): void {
  notes.check(result.field ?? 'resources', result);
}

export function isProblem(value: object): value is OperationResult {
  return 'errorCode' in value;
}

/** Names that appear more than once in `names`. */
export function repeatedNames(names: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) repeated.add(name);
    seen.add(name);
  }
  return repeated;
}

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
}

/** A request's config list as a map; a key given twice is INVALID_REQUEST. */
export function configListToMap(configs: readonly ConfigEntry[]): Map<string, string | null> | OperationResult {
  const repeated = repeatedNames(configs.map((config) => config.name));
  if (repeated.size > 0) return problem(ErrorCode.invalidRequest, `config '${[...repeated].join("', '")}' given more than once`, 'configs.name');
  return new Map(configs.map((config) => [config.name, config.value]));
}

/** The topic a config resource names: INVALID_TOPIC_EXCEPTION for an impossible name, UNKNOWN_TOPIC_OR_PARTITION for a missing one. */
export function topicResource(broker: Broker, name: string): Topic | OperationResult {
  const topic = broker.topic(name);
  if (topic !== undefined) return topic;
  const nameProblem = topicNameProblem(name);
  if (nameProblem !== null) return problem(ErrorCode.invalidTopicException, nameProblem);
  return problem(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
}

/**
 * The level of dynamic configs a broker resource names: our node id is this broker's own, the
 * empty string the cluster-wide defaults (as in Kafka). Another name is INVALID_REQUEST.
 */
export function brokerResourceLevel(broker: Broker, name: string): BrokerConfigLevel | RequestProblem {
  if (name === '') return 'clusterDefault';
  if (name === String(broker.nodeId)) return 'broker';
  return problem(ErrorCode.invalidRequest, `this is broker ${broker.nodeId}; the broker resource must be named '${broker.nodeId}' or '' (the cluster-wide defaults), got '${name}'`, 'resourceName');
}

/** A group resource is named by a group id; the empty name (Kafka's default group resource) is INVALID_REQUEST. */
export function groupResourceProblem(name: string): RequestProblem | null {
  return name === '' ? problem(ErrorCode.invalidRequest, 'Group name must not be empty', 'resourceName') : null;
}

export function unsupportedResourceType(resourceType: number): RequestProblem {
  return problem(
    ErrorCode.invalidRequest,
    `config resource type ${resourceType} is not supported: only topics (${ConfigResourceType.topic}), brokers (${ConfigResourceType.broker}) and groups (${ConfigResourceType.group}) have configs here`,
    'resourceType',
  );
}

export interface ConfigResourceRequest {
  readonly resourceType: number;
  readonly resourceName: string;
}

export interface ConfigResourceResponse {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/** The current value of a key of the resource being altered, or its default (APPEND and SUBTRACT start from it); null for an unknown key. */
export type CurrentValue = (name: string) => string | null;

export interface AlterOptions<Resource extends ConfigResourceRequest> {
  /** The API name, for the debug line of an INVALID_REQUEST. */
  readonly api: string;
  readonly logger: Logger;
  /** AlterConfigs replaces every override; IncrementalAlterConfigs edits them. */
  readonly replaceAll: boolean;
  readonly validateOnly: boolean;
  /** The changes to apply to the resource: key → new value, or null to remove the override. */
  changes(resource: Resource, current: CurrentValue): Map<string, string | null> | RequestProblem;
}

/**
 * Applies config changes to each resource in turn and answers one entry per distinct resource.
 * A resource named twice is INVALID_REQUEST.
 */
export async function alterConfigResources<Resource extends ConfigResourceRequest>(
  broker: Broker,
  resources: readonly Resource[],
  options: AlterOptions<Resource>,
): Promise<ConfigResourceResponse[]> {
  const resourceKey = (resource: Resource) => `${resource.resourceType}:${resource.resourceName}`;
  const repeated = repeatedNames(resources.map(resourceKey));
  const answered = new Set<string>();
  const responses: ConfigResourceResponse[] = [];
  const notes = new InvalidRequestNotes(options.api);
  for (const resource of resources) {
    const key = resourceKey(resource);
    if (answered.has(key)) continue;
    answered.add(key);
    const result: RequestProblem = repeated.has(key)
      ? problem(ErrorCode.invalidRequest, `resource '${resource.resourceName}' of type ${resource.resourceType} appears more than once in the request`, 'resources')
      : await alterOne(broker, resource, options);
    noteInvalidRequest(notes, result);
    responses.push({ errorCode: result.errorCode, errorMessage: result.errorMessage, resourceType: resource.resourceType, resourceName: resource.resourceName });
  }
  notes.write(options.logger);
  return responses;
}

async function alterOne<Resource extends ConfigResourceRequest>(broker: Broker, resource: Resource, options: AlterOptions<Resource>): Promise<RequestProblem> {
  const { replaceAll, validateOnly } = options;
  switch (resource.resourceType) {
    case ConfigResourceType.topic: {
      const topic = topicResource(broker, resource.resourceName);
      if (isProblem(topic)) return topic;
      const changes = options.changes(resource, topicCurrentValue(broker, topic));
      if (isProblem(changes)) return changes;
      return broker.alterTopicConfig(topic.name, changes, replaceAll, validateOnly);
    }
    case ConfigResourceType.broker: {
      const level = brokerResourceLevel(broker, resource.resourceName);
      if (typeof level !== 'string') return level;
      const changes = options.changes(resource, brokerCurrentValue(broker, level));
      if (isProblem(changes)) return changes;
      const result = await broker.alterBrokerConfigs(level, changes, replaceAll, validateOnly);
      return result.errorCode === ErrorCode.invalidRequest ? { ...result, field: 'configs' } : result;
    }
    case ConfigResourceType.group: {
      const nameProblem = groupResourceProblem(resource.resourceName);
      if (nameProblem !== null) return nameProblem;
      const own = broker.groupConfig(resource.resourceName);
      const changes = options.changes(resource, (name) => own.get(name) ?? null);
      if (isProblem(changes)) return changes;
      return broker.alterGroupConfigs(resource.resourceName, changes, replaceAll, validateOnly);
    }
    default:
      return unsupportedResourceType(resource.resourceType);
  }
}

function topicCurrentValue(broker: Broker, topic: Topic): CurrentValue {
  return (name) => {
    const key = topicConfigKey(name);
    if (key === undefined) return null;
    return topic.configOverrides.get(name) ?? broker.dynamicConfigs.topicValues().get(name) ?? key.defaultValue(broker.config.topicDefaults);
  };
}

function brokerCurrentValue(broker: Broker, level: BrokerConfigLevel): CurrentValue {
  return (name) => {
    const setting = brokerSetting(name);
    if (setting === undefined) return null;
    return broker.dynamicConfigs.values(level).get(name) ?? (level === 'broker' ? broker.dynamicConfigs.values('clusterDefault').get(name) : undefined) ?? setting.value(broker.config);
  };
}
