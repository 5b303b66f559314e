/**
 * IncrementalAlterConfigs (44), v0-1.
 *
 * Behaviour: for a topic (resource type 2), each config operation edits the overrides: 0 SET (a
 * value is required), 1 DELETE (back to the broker default), 2 APPEND and 3 SUBTRACT (list-typed
 * keys only, e.g. cleanup.policy: the items are added to, or removed from, the current value, the
 * override or else the default). Keys and resulting values are checked before anything changes
 * (INVALID_CONFIG for an unknown key, a bad value or APPEND/SUBTRACT on a non-list key;
 * INVALID_REQUEST for an unknown operation, a missing value or a key given twice); validateOnly
 * checks and changes nothing. Broker configs (resource type 4) are read-only at run time:
 * INVALID_REQUEST. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION; another resource type, or a
 * resource named twice, INVALID_REQUEST.
 *
 * Not implemented: dynamic broker configs, alter-config policies (POLICY_VIOLATION).
 */
import type { OperationResult, Topic } from '../../../broker/broker.js';
import type { BrokerConfig } from '../../../config/broker-config.js';
import { ConfigType, topicConfigKey } from '../../../broker/topic-config.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../../../protocol/kafka/messages/incremental-alter-configs.js';
import type { IncrementalAlterConfigsRequest } from '../../../protocol/kafka/messages/incremental-alter-configs.js';
import { alterConfigResources, problem, repeatedNames } from '../config-resources.js';
import { defineHandler } from '../handler.js';

type ConfigOperation = IncrementalAlterConfigsRequest['resources'][number]['configs'][number];

const Operation = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

function listItems(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** The new value of a list-typed key after APPEND or SUBTRACT. */
function editedList(operation: ConfigOperation, value: string, topic: Topic, config: BrokerConfig): string | OperationResult {
  const key = topicConfigKey(operation.name);
  if (key === undefined) return problem(ErrorCode.invalidConfig, `unknown topic config '${operation.name}'`);
  if (key.type !== ConfigType.list) return problem(ErrorCode.invalidConfig, `${operation.name} is not a list: APPEND and SUBTRACT apply to list configs only`);
  const current = listItems(topic.configOverrides.get(operation.name) ?? key.defaultValue(config.topicDefaults));
  const given = listItems(value);
  const edited = operation.configOperation === Operation.append ? [...current, ...given.filter((item) => !current.includes(item))] : current.filter((item) => !given.includes(item));
  return edited.join(',');
}

function change(operation: ConfigOperation, topic: Topic, config: BrokerConfig): string | null | OperationResult {
  const { name, value, configOperation } = operation;
  if (configOperation === Operation.delete) return null;
  if (configOperation !== Operation.set && configOperation !== Operation.append && configOperation !== Operation.subtract) {
    return problem(ErrorCode.invalidRequest, `unknown config operation ${configOperation} for '${name}': 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT`);
  }
  if (value === null) return problem(ErrorCode.invalidRequest, `config '${name}': a value is required to SET, APPEND or SUBTRACT`);
  return configOperation === Operation.set ? value : editedList(operation, value, topic, config);
}

function changesOf(operations: readonly ConfigOperation[], topic: Topic, config: BrokerConfig): Map<string, string | null> | OperationResult {
  const repeated = repeatedNames(operations.map((operation) => operation.name));
  if (repeated.size > 0) return problem(ErrorCode.invalidRequest, `config '${[...repeated].join("', '")}' given more than once`);
  const changes = new Map<string, string | null>();
  for (const operation of operations) {
    const next = change(operation, topic, config);
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
      replaceAll: false,
      validateOnly: request.validateOnly,
      changes: (resource, topic) => changesOf(resource.configs, topic, context.broker.config),
    });
    return { throttleTimeMs: 0, responses };
  },
});
