/**
 * What the topic and config admin handlers share: config resource types, finding the resource a
 * request names (this broker, or one of its topics), config lists turned into maps, names given
 * twice in one request, and the loop AlterConfigs and IncrementalAlterConfigs both run.
 */
import type { Broker, OperationResult, Topic } from '../../broker/broker.js';
import { topicNameProblem } from '../../broker/topic-name.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';

/** Kafka's ConfigResource.Type values we answer for. */
export const ConfigResourceType = { topic: 2, broker: 4 } as const;

export function problem(errorCode: number, errorMessage: string): OperationResult {
  return { errorCode, errorMessage };
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
  if (repeated.size > 0) return problem(ErrorCode.invalidRequest, `config '${[...repeated].join("', '")}' given more than once`);
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

/** A broker resource is named by our node id, or by the empty string (the broker answering). */
export function brokerResourceProblem(broker: Broker, name: string): OperationResult | null {
  if (name === '' || name === String(broker.nodeId)) return null;
  return problem(ErrorCode.invalidRequest, `this is broker ${broker.nodeId}; the broker resource must be named '${broker.nodeId}' or '', got '${name}'`);
}

export function unsupportedResourceType(resourceType: number): OperationResult {
  return problem(
    ErrorCode.invalidRequest,
    `config resource type ${resourceType} is not supported: only topics (${ConfigResourceType.topic}) and brokers (${ConfigResourceType.broker}) have configs here`,
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

export interface AlterOptions<Resource extends ConfigResourceRequest> {
  /** AlterConfigs replaces every override; IncrementalAlterConfigs edits them. */
  readonly replaceAll: boolean;
  readonly validateOnly: boolean;
  /** The changes to apply to the topic: key → new value, or null to remove the override. */
  changes(resource: Resource, topic: Topic): Map<string, string | null> | OperationResult;
}

/**
 * Applies config changes to each resource in turn and answers one entry per distinct resource.
 * A resource named twice is INVALID_REQUEST; broker configs are read-only at run time.
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
  for (const resource of resources) {
    const key = resourceKey(resource);
    if (answered.has(key)) continue;
    answered.add(key);
    const result = repeated.has(key)
      ? problem(ErrorCode.invalidRequest, `resource '${resource.resourceName}' of type ${resource.resourceType} appears more than once in the request`)
      : await alterOne(broker, resource, options);
    responses.push({ errorCode: result.errorCode, errorMessage: result.errorMessage, resourceType: resource.resourceType, resourceName: resource.resourceName });
  }
  return responses;
}

async function alterOne<Resource extends ConfigResourceRequest>(broker: Broker, resource: Resource, options: AlterOptions<Resource>): Promise<OperationResult> {
  if (resource.resourceType === ConfigResourceType.broker) {
    return (
      brokerResourceProblem(broker, resource.resourceName) ??
      problem(ErrorCode.invalidRequest, 'broker configs are read-only at run time, set them in the config file')
    );
  }
  if (resource.resourceType !== ConfigResourceType.topic) return unsupportedResourceType(resource.resourceType);
  const topic = topicResource(broker, resource.resourceName);
  if (isProblem(topic)) return topic;
  const changes = options.changes(resource, topic);
  if (isProblem(changes)) return changes;
  return broker.alterTopicConfig(topic.name, changes, options.replaceAll, options.validateOnly);
}
