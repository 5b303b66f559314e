/**
 * The etcd keys of a cluster and the JSON values they hold (docs/cluster.md tells who writes each,
 * under which lease, and why that is safe):
 *
 *   /osprey/brokers/<nodeId>   {"formatVersion":1,"nodeId":2,"host":"10.0.0.2","kafkaPort":9092,
 *                               "rack":"eu-1a","leaseTtlSeconds":10}
 *                              one per live broker, under that broker's lease
 *   /osprey/controller         {"formatVersion":1,"nodeId":2}
 *                              the controller, under the same lease; its createRevision is the
 *                              controller epoch
 *
 * Values are read from a store other processes write, so they are checked field by field and a
 * malformed one is reported, not trusted.
 */

export const clusterRoot = '/osprey/';
export const brokersPrefix = `${clusterRoot}brokers/`;
export const controllerKey = `${clusterRoot}controller`;

export function brokerKey(nodeId: number): string {
  return `${brokersPrefix}${nodeId}`;
}

/** What a broker registers: how clients and peers reach it. */
export interface BrokerRegistration {
  readonly nodeId: number;
  readonly host: string;
  readonly kafkaPort: number;
  /** Null when the broker has no rack. */
  readonly rack: string | null;
  /** The TTL of the lease it registered under: how long a dead holder can keep the key. */
  readonly leaseTtlSeconds: number;
}

export interface ControllerRecord {
  readonly nodeId: number;
}

const formatVersion = 1;

export function encodeRegistration(registration: BrokerRegistration): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, ...registration }));
}

export function encodeController(controller: ControllerRecord): Buffer {
  return Buffer.from(JSON.stringify({ formatVersion, nodeId: controller.nodeId }));
}

/** The registration in value, or an Error saying what is wrong with it. */
export function decodeRegistration(value: Buffer): BrokerRegistration | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  const { nodeId, host, kafkaPort, rack, leaseTtlSeconds } = fields;
  if (!isNodeId(nodeId)) return new Error(`registration: nodeId ${JSON.stringify(nodeId)} is not a node id`);
  if (typeof host !== 'string' || host === '') return new Error('registration: host is not a non-empty string');
  if (!Number.isInteger(kafkaPort) || typeof kafkaPort !== 'number' || kafkaPort < 1 || kafkaPort > 65535) return new Error(`registration: kafkaPort ${JSON.stringify(kafkaPort)} is not a port`);
  if (rack !== null && typeof rack !== 'string') return new Error('registration: rack is neither null nor a string');
  if (typeof leaseTtlSeconds !== 'number' || !Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 1) return new Error('registration: leaseTtlSeconds is not a positive integer');
  return { nodeId, host, kafkaPort, rack, leaseTtlSeconds };
}

export function decodeController(value: Buffer): ControllerRecord | Error {
  const fields = parseObject(value);
  if (fields instanceof Error) return fields;
  return isNodeId(fields['nodeId']) ? { nodeId: fields['nodeId'] } : new Error(`controller: nodeId ${JSON.stringify(fields['nodeId'])} is not a node id`);
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
