/**
 * The etcd keys of a cluster and the JSON values they hold (docs/cluster.md tells who writes each,
 * under which lease, and why that is safe):
 *
 *   /osprey/brokers/<nodeId>   {"formatVersion":1,"nodeId":2,"host":"10.0.0.2","kafkaPort":9092,
 *                               "amqpPort":5672,"rack":"eu-1a","leaseTtlSeconds":10}
 *                              one per live broker, under that broker's lease (amqpPort absent
 *                              when its AMQP listener is off)
 *   /osprey/controller         {"formatVersion":1,"nodeId":2}
 *                              the controller, under the same lease; its createRevision is the
 *                              controller epoch
 *   /osprey/cluster-id         {"formatVersion":1,"clusterId":"<letters, digits, - and _>"}
 *                              written once, by the first broker to join (only if absent); never
 *                              changed, no lease
 *   /osprey/topics/<name>      {"formatVersion":1,"topicId":"<32 hex digits>","partitionCount":3,
 *                               "configs":{"retention.ms":"60000"},"replicaAssignment":[[1,2],[2,3],[3,1]]}
 *                              created by the broker that received CreateTopics (only if absent);
 *                              rewritten by CreatePartitions and topic config changes (conditioned
 *                              on its modRevision); deleted by DeleteTopics with its partitions' keys
 *   /osprey/partitions/<name>/<index>
 *                              {"formatVersion":1,"replicas":[1,2],"leader":1,"leaderEpoch":0,
 *                               "isr":[1],"partitionEpoch":0}
 *                              and while a reassignment is under way also
 *                              "addingReplicas":[3],"removingReplicas":[1] (absent: none)
 *                              created with the topic or by CreatePartitions; then written by the
 *                              controller (conditioned on the key's modRevision and the controller
 *                              key's), by the leader changing the ISR and by
 *                              AlterPartitionReassignments (both on the key's modRevision)
 *   /osprey/configs/<resource> {"formatVersion":1,"configs":{"log.retention.ms":"3600000"}}
 *                              configs that hold for the whole cluster: `broker:`, the cluster-wide
 *                              dynamic broker defaults (AlterConfigs on the broker resource ''), and
 *                              `group:<group id>`, a group's own configs; written by the broker that
 *                              received the change, deleted when none is left (a broker's own
 *                              dynamic configs, `broker:<node id>`, stay with that broker, on its disk)
 *   /osprey/producer-id-block  {"formatVersion":1,"nextProducerId":5000}
 *                              the first producer id no broker has reserved; a broker reserving a
 *                              block of ids moves it on, conditioned on the key's modRevision
 *   /osprey/inter-broker-secret {"formatVersion":1,"secret":"<64 hex digits>"}
 *                              the password brokers give each other's AMQP listeners (queue
 *                              links, queue-links.ts); written once by the first broker to join
 *                              (only if absent), never changed, no lease
 *   /osprey/amqp/…             the AMQP definitions the brokers share (virtual hosts, exchanges,
 *                              queues, bindings, policies): amqp-definition-keys.ts
 *
 * Values are read from a store other processes write, so they are checked field by field and a
 * malformed one is reported, not trusted.
 */

export const clusterRoot = '/osprey/';
export const brokersPrefix = `${clusterRoot}brokers/`;
export const controllerKey = `${clusterRoot}controller`;
export const clusterIdKey = `${clusterRoot}cluster-id`;
export const interBrokerSecretKey = `${clusterRoot}inter-broker-secret`;

export const producerIdBlockKey = `${clusterRoot}producer-id-block`;

export const topicsPrefix = `${clusterRoot}topics/`;
export const partitionsPrefix = `${clusterRoot}partitions/`;
export const configsPrefix = `${clusterRoot}configs/`;

/** The key of a cluster-wide config resource (`broker:` or `group:<id>`). */
export function configsKey(resource: string): string {
  return `${configsPrefix}${resource}`;
}

export function brokerKey(nodeId: number): string {
  return `${brokersPrefix}${nodeId}`;
}

/** Topic names hold only [a-zA-Z0-9._-] (topic-name.ts), so a name never contains the '/' that ends it. */
export function topicKey(name: string): string {
  return `${topicsPrefix}${name}`;
}

/** The prefix of one topic's partition keys (with its trailing '/', so topic "a" never matches "a.b"). */
export function topicPartitionsPrefix(name: string): string {
  return `${partitionsPrefix}${name}/`;
}

export function partitionKey(name: string, index: number): string {
  return `${topicPartitionsPrefix(name)}${index}`;
}

/** The topic a /osprey/topics/ key names, or null for a key of another shape. */
export function topicOfKey(key: string): string | null {
  if (!key.startsWith(topicsPrefix)) return null;
  const name = key.slice(topicsPrefix.length);
  return name === '' || name.includes('/') ? null : name;
}

/** The topic and partition index a /osprey/partitions/ key names, or null for a key of another shape. */
export function partitionOfKey(key: string): { topic: string; index: number } | null {
  if (!key.startsWith(partitionsPrefix)) return null;
  const match = /^([^/]+)\/(0|[1-9][0-9]{0,9})$/.exec(key.slice(partitionsPrefix.length));
  return match === null ? null : { topic: match[1]!, index: Number(match[2]) };
}

/** What a broker registers: how clients and peers reach it. */
export interface BrokerRegistration {
  readonly nodeId: number;
  readonly host: string;
  readonly kafkaPort: number;
  /** Its AMQP listener's port, where other brokers link to the queues it serves; absent when the listener is off. */
  readonly amqpPort?: number;
  /** Null when the broker has no rack. */
  readonly rack: string | null;
  /** The TTL of the lease it registered under: how long a dead holder can keep the key. */
  readonly leaseTtlSeconds: number;
}

export interface ControllerRecord {
  readonly nodeId: number;
}

/**
 * A topic as the cluster knows it. replicaAssignment[i] lists partition i's replicas as created,
 * preferred leader first; it only grows (CreatePartitions). A reassignment changes the partition
 * record's replicas only, which is what counts once it exists.
 */
export interface TopicRecord {
  /** 16 bytes: the topic id clients see (Metadata v10+, Produce v13+). */
  readonly topicId: Buffer;
  readonly partitionCount: number;
  /** The topic's config overrides (topic-config.ts checks keys and values before they are written). */
  readonly configs: ReadonlyMap<string, string>;
  readonly replicaAssignment: readonly (readonly number[])[];
}

/** Producer ids below nextProducerId may have been handed out; the next block starts there. */
export interface ProducerIdBlockRecord {
  readonly nextProducerId: number;
}

/** The leader of a partition without one (no live replica may lead it): Kafka's -1. */
export const noLeader = -1;

/**
 * A partition's leadership, docs/cluster.md ("Partition state machine"). leaderEpoch grows with
 * every change of leader (including to and from noLeader); partitionEpoch grows with every write of
 * the key. Conditional writes use the key's modRevision, not these numbers.
 */
export interface PartitionRecord {
  readonly replicas: readonly number[];
  /** A node id among replicas, or noLeader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  /** In-sync replicas: a non-empty subset of replicas that includes the leader when there is one. */
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
  /**
   * A reassignment under way (KIP-455), both absent (or empty) when there is none: replicas then
   * holds the target first, then the replicas being removed; addingReplicas are in replicas and
   * may not be in sync yet. Records written before reassignment existed have neither field.
   */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

/** Whether a reassignment of the partition is under way. */
export function reassigning(partition: PartitionRecord): boolean {
  return (partition.addingReplicas?.length ?? 0) > 0 || (partition.removingReplicas?.length ?? 0) > 0;
}

/** The replicas a reassignment under way ends with (replicas itself when there is none). */
export function targetReplicas(partition: PartitionRecord): number[] {
  const removing = partition.removingReplicas ?? [];
  return partition.replicas.filter((nodeId) => !removing.includes(nodeId));
}

/** The partition without its reassignment fields (a reassignment ended or was cancelled). */
export function withoutReassignment(partition: PartitionRecord): PartitionRecord {
  const { addingReplicas: _adding, removingReplicas: _removing, ...rest } = partition;
  return rest;
}

const formatVersion = 1;

export function encodeRegistration(registration: BrokerRegistration): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, ...registration }));
}

export function encodeController(controller: ControllerRecord): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, nodeId: controller.nodeId }));
}

export function encodeClusterId(clusterId: string): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, clusterId }));
}

export function encodeTopic(topic: TopicRecord): Buffer {
  return Buffer.from(
    JSON.stringify({
      formatVersion,
      topicId: topic.topicId.toString('hex'),
      partitionCount: topic.partitionCount,
      configs: Object.fromEntries(topic.configs),
      replicaAssignment: topic.replicaAssignment,
    }),
  );
}

export function encodePartition(partition: PartitionRecord): Buffer {
  const { replicas, leader, leaderEpoch, isr, partitionEpoch, addingReplicas, removingReplicas } = partition;
  // The reassignment fields only while one is under way: other records keep their first shape.
  const reassignment = reassigning(partition) ? { addingReplicas: addingReplicas ?? [], removingReplicas: removingReplicas ?? [] } : {};
  return Buffer.from(JSON.stringify({ formatVersion, replicas, leader, leaderEpoch, isr, partitionEpoch, ...reassignment }));
}

export function encodeProducerIdBlock(block: ProducerIdBlockRecord): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, nextProducerId: block.nextProducerId }));
}

/** The registration in value, or an Error saying what is wrong with it. */
export function decodeRegistration(value: Buffer): BrokerRegistration | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const { nodeId, host, kafkaPort, amqpPort, rack, leaseTtlSeconds } = fields;
  if (!isNodeId(nodeId)) return new Error(`registration: nodeId ${JSON.stringify(nodeId)} is not a node id`);
  if (typeof host !== 'string' || host === '') return new Error('registration: host is not a non-empty string');
  if (!isPort(kafkaPort)) return new Error(`registration: kafkaPort ${JSON.stringify(kafkaPort)} is not a port`);
  if (amqpPort !== undefined && !isPort(amqpPort)) return new Error(`registration: amqpPort ${JSON.stringify(amqpPort)} is not a port`);
  if (rack !== null && typeof rack !== 'string') return new Error('registration: rack is neither null nor a string');
  if (typeof leaseTtlSeconds !== 'number' || !Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 1) return new Error('registration: leaseTtlSeconds is not a positive integer');
  return amqpPort === undefined ? { nodeId, host, kafkaPort, rack, leaseTtlSeconds } : { nodeId, host, kafkaPort, amqpPort, rack, leaseTtlSeconds };
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

export function decodeController(value: Buffer): ControllerRecord | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  return isNodeId(fields['nodeId']) ? { nodeId: fields['nodeId'] } : new Error(`controller: nodeId ${JSON.stringify(fields['nodeId'])} is not a node id`);
}

export function decodeProducerIdBlock(value: Buffer): ProducerIdBlockRecord | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const next = fields['nextProducerId'];
  if (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 0) return new Error(`producer id block: nextProducerId ${JSON.stringify(next)} is not a non-negative safe integer`);
  return { nextProducerId: next };
}

/** The cluster id: what --cluster-id accepts (letters, digits, - and _), not empty. */
export function decodeClusterId(value: Buffer): string | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const { clusterId } = fields;
  return typeof clusterId === 'string' && /^[A-Za-z0-9_-]+$/.test(clusterId) ? clusterId : new Error(`cluster id: ${JSON.stringify(clusterId)} is not a non-empty string of letters, digits, - and _`);
}

export function encodeInterBrokerSecret(secret: string): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, secret }));
}

export function decodeInterBrokerSecret(value: Buffer): string | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const { secret } = fields;
  return typeof secret === 'string' && /^[0-9a-f]{64}$/.test(secret) ? secret : new Error('inter-broker secret: not 64 hex digits');
}

export function encodeConfigs(configs: ReadonlyMap<string, string>): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, configs: Object.fromEntries(configs) }));
}

export function decodeConfigs(value: Buffer): ReadonlyMap<string, string> | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  return configMapOf(fields.configs, 'configs');
}

/** A JSON object of string values as a map, or what is wrong with it. */
function configMapOf(configs: unknown, what: string): Map<string, string> | Error {
  if (typeof configs !== 'object' || configs === null || Array.isArray(configs)) return new Error(`${what}: configs is not an object`);
  const configMap = new Map<string, string>();
  for (const [key, configValue] of Object.entries(configs)) {
    if (typeof configValue !== 'string') return new Error(`${what}: config ${key} is not a string`);
    configMap.set(key, configValue);
  }
  return configMap;
}

export function decodeTopic(value: Buffer): TopicRecord | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const { topicId, partitionCount, configs, replicaAssignment } = fields;
  if (typeof topicId !== 'string' || !/^[0-9a-f]{32}$/.test(topicId)) return new Error('topic: topicId is not 32 lowercase hex digits');
  if (!isCount(partitionCount)) return new Error(`topic: partitionCount ${JSON.stringify(partitionCount)} is not a positive integer`);
  const configMap = configMapOf(configs, 'topic');
  if (configMap instanceof Error) return configMap;
  if (!Array.isArray(replicaAssignment) || replicaAssignment.length !== partitionCount) return new Error('topic: replicaAssignment does not list every partition');
  for (const [index, replicas] of (replicaAssignment as unknown[]).entries()) {
    const problem = replicaListProblem(replicas);
    if (problem !== null) return new Error(`topic: replicaAssignment[${index}] ${problem}`);
  }
  return { topicId: Buffer.from(topicId, 'hex'), partitionCount, configs: configMap, replicaAssignment: replicaAssignment as number[][] };
}

export function decodePartition(value: Buffer): PartitionRecord | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const { replicas, leader, leaderEpoch, isr, partitionEpoch } = fields;
  const replicasProblem = replicaListProblem(replicas);
  if (replicasProblem !== null) return new Error(`partition: replicas ${replicasProblem}`);
  const replicaList = replicas as number[];
  const leaderId = leader === noLeader ? noLeader : isNodeId(leader) && replicaList.includes(leader) ? leader : null;
  if (leaderId === null) return new Error(`partition: leader ${JSON.stringify(leader)} is neither -1 nor one of the replicas`);
  if (!isEpoch(leaderEpoch)) return new Error('partition: leaderEpoch is not a non-negative integer');
  if (!isEpoch(partitionEpoch)) return new Error('partition: partitionEpoch is not a non-negative integer');
  const isrProblem = replicaListProblem(isr);
  if (isrProblem !== null) return new Error(`partition: isr ${isrProblem}`);
  const isrList = isr as number[];
  if (!isrList.every((nodeId) => replicaList.includes(nodeId))) return new Error('partition: isr holds a broker that is not a replica');
  if (leaderId !== noLeader && !isrList.includes(leaderId)) return new Error('partition: the leader is not in the isr');
  const adding = reassignmentList(fields['addingReplicas'], replicaList);
  if (adding instanceof Error) return new Error(`partition: addingReplicas ${adding.message}`);
  const removing = reassignmentList(fields['removingReplicas'], replicaList);
  if (removing instanceof Error) return new Error(`partition: removingReplicas ${removing.message}`);
  if (adding.some((nodeId) => removing.includes(nodeId))) return new Error('partition: a broker is both being added and removed');
  if (removing.length === replicaList.length) return new Error('partition: every replica is being removed');
  const record: PartitionRecord = { replicas: replicaList, leader: leaderId, leaderEpoch, isr: isrList, partitionEpoch };
  return adding.length > 0 || removing.length > 0 ? { ...record, addingReplicas: adding, removingReplicas: removing } : record;
}

/** An optional list of replicas (absent: none), each one of the partition's replicas. */
function reassignmentList(value: unknown, replicas: readonly number[]): number[] | Error {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isNodeId) || new Set(value).size !== value.length) return new Error('is not a list of distinct node ids');
  if (!value.every((nodeId) => replicas.includes(nodeId))) return new Error('holds a broker that is not a replica');
  return value;
}

/** Why value is not a non-empty list of distinct node ids, or null when it is one. */
function replicaListProblem(value: unknown): string | null {
  if (!Array.isArray(value) || value.length === 0) return 'is not a non-empty list';
  if (!value.every(isNodeId)) return 'holds something that is not a node id';
  return new Set(value).size === value.length ? null : 'names a broker twice';
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 2 ** 31 - 1;
}

function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 2 ** 31 - 1;
}

function isNodeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 2 ** 31 - 1;
}

function parseObject(value: Buffer): Record<string, unknown> | Error {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return new Error(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new Error('not a JSON object');
  const fields = parsed as Record<string, unknown>;
  if (fields['formatVersion'] !== formatVersion) return new Error(`formatVersion ${JSON.stringify(fields['formatVersion'])} is not ${formatVersion}`);
  return fields;
}
