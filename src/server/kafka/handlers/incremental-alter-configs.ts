/**
 * IncrementalAlterConfigs (44), v0-1.
 *
 * Behaviour: each config operation edits the configs a resource has: 0 SET (a value is required),
 * 1 DELETE (back to the default), 2 APPEND and 3 SUBTRACT (list-typed keys only, e.g.
 * cleanup.policy: the items are added to, or removed from, the current value, else the default).
 * - topic (resource type 2): the topic's overrides; INVALID_CONFIG for an unknown key, a bad value
 *   (remote.storage.enable=true among them) or APPEND/SUBTRACT on a non-list key.
 * - broker (4), named by our node id (this broker's own) or '' (the cluster-wide defaults): the
 *   dynamic broker configs, the log.* topic defaults Kafka lets change at run time
 *   (broker/broker-settings.ts), recorded in the cluster metadata and applied at once; DELETE
 *   returns to the config file's value. Every refusal is INVALID_REQUEST as in Kafka ("Cannot
 *   update these configs dynamically" for num.partitions and the like).
 * - group (32), named by a group id: consumer.session.timeout.ms and consumer.heartbeat.interval.ms
 *   (INVALID_CONFIG outside the broker's group.consumer.min/max.* bounds); the group's members get
 *   them at their next heartbeat.
 * Keys and resulting values are checked before anything changes; INVALID_REQUEST for an unknown
 * operation, a missing value or a key given twice; validateOnly checks and changes nothing. An
 * unknown topic is UNKNOWN_TOPIC_OR_PARTITION; another broker id, another resource type, or a
 * resource named twice, INVALID_REQUEST.
 *
 * Not implemented: alter-config policies (POLICY_VIOLATION), broker loggers (8), client metrics (16).
 */
import { ConfigType, topicConfigKey } from '../../../broker/topic-config.js';
import { brokerSetting } from '../../../broker/broker-settings.js';
import { groupConfigKeys } from '../../../broker/group-config.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../../../protocol/kafka/messages/incremental-alter-configs.js';
import type { IncrementalAlterConfigsRequest } from '../../../protocol/kafka/messages/incremental-alter-configs.js';
import { alterConfigResources, ConfigResourceType, problem, repeatedNames } from '../config-resources.js';
import type { CurrentValue, RequestProblem } from '../config-resources.js';
import { defineHandler } from '../handler.js';

type Resource = IncrementalAlterConfigsRequest['resources'][number];
type ConfigOperation = Resource['configs'][number];

const Operation = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

function listItems(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** The type of a config of this resource type, or undefined when the key is unknown there. */
function configType(resourceType: number, name: string): number | undefined {
  if (resourceType === ConfigResourceType.topic) return topicConfigKey(name)?.type;
  if (resourceType === ConfigResourceType.broker) return brokerSetting(name)?.type;
  if (resourceType === ConfigResourceType.group) return groupConfigKeys().find((key) => key.name === name)?.type;
  return undefined;
}

/** The new value of a list-typed key after APPEND or SUBTRACT; on another type INVALID_CONFIG, as Kafka answers for every resource type. */
function editedList(operation: ConfigOperation, value: string, resourceType: number, current: CurrentValue): string | RequestProblem {
  const type = configType(resourceType, operation.name);
  if (type === undefined) return problem(ErrorCode.invalidConfig, `Unknown config name: ${operation.name}`);
  const start = current(operation.name);
  if (type !== ConfigType.list || start === null) return problem(ErrorCode.invalidConfig, `${operation.name} is not a list: APPEND and SUBTRACT apply to list configs only`);
  const currentItems = listItems(start);
  const given = listItems(value);
  const edited = operation.configOperation === Operation.append ? [...currentItems, ...given.filter((item) => !currentItems.includes(item))] : currentItems.filter((item) => !given.includes(item));
  return edited.join(',');
}

function change(operation: ConfigOperation, resourceType: number, current: CurrentValue): string | null | RequestProblem {
  const { name, value, configOperation } = operation;
  if (configOperation === Operation.delete) return null;
  if (configOperation !== Operation.set && configOperation !== Operation.append && configOperation !== Operation.subtract) {
    return problem(ErrorCode.invalidRequest, `unknown config operation ${configOperation} for '${name}': 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT`, 'configs.configOperation');
  }
  if (value === null) return problem(ErrorCode.invalidRequest, `config '${name}': a value is required to SET, APPEND or SUBTRACT`, 'configs.value');
  return configOperation === Operation.set ? value : editedList(operation, value, resourceType, current);
}

function changesOf(resource: Resource, current: CurrentValue): Map<string, string | null> | RequestProblem {
  const operations = resource.configs;
  const repeated = repeatedNames(operations.map((operation) => operation.name));
  if (repeated.size > 0) return problem(ErrorCode.invalidRequest, `config '${[...repeated].join("', '")}' given more than once`, 'configs.name');
  const changes = new Map<string, string | null>();
  for (const operation of operations) {
    const next = change(operation, resource.resourceType, current);
    if (next !== null && typeof next !== 'string') return next;
    changes.set(operation.name, next);
  }
  return changes;
}

export const incrementalAlterConfigsHandler = defineHandler({
  request: incrementalAlterConfigsRequest,
  response: incrementalAlterConfigsResponse,
  async handle(request, context) {
    const responses = await alterConfigResources(context.broker, request.resources, {
      api: 'IncrementalAlterConfigs',
      logger: context.logger,
      replaceAll: false,
      validateOnly: request.validateOnly,
      changes: changesOf,
    });
    return { throttleTimeMs: 0, responses };
  },
});
