/**
 * Errors the client throws, each saying what happened and, where we can tell, what to do.
 *
 *   BrokerUnreachableError   a TCP connection to host:port failed or was closed under a request
 *   RequestTimeoutError      no answer within the request timeout
 *   KafkaProtocolError       the broker answered with a Kafka error code (name, code, broker text)
 *   UnsupportedVersionError  the broker does not speak a version of an API that we can encode
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';

export class KafkaClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class BrokerUnreachableError extends KafkaClientError {
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`cannot reach broker ${address}: ${reason}`);
  }
}

export class RequestTimeoutError extends KafkaClientError {
  constructor(
    readonly address: string,
    readonly apiName: string,
    readonly timeoutMs: number,
  ) {
    super(`${apiName} request to ${address} got no answer within ${timeoutMs} ms`);
  }
}

export class UnsupportedVersionError extends KafkaClientError {}

const namesByCode = new Map<number, string>();
for (const [key, code] of Object.entries(ErrorCode)) {
  namesByCode.set(code, key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
}

/** UNKNOWN_TOPIC_OR_PARTITION for 3; "ERROR_<code>" for codes we have no name for. */
export function errorName(code: number): string {
  return namesByCode.get(code) ?? `ERROR_${code}`;
}

export class KafkaProtocolError extends KafkaClientError {
  readonly errorName: string;
  constructor(
    readonly code: number,
    readonly context: string,
    brokerMessage?: string | null,
  ) {
    const name = errorName(code);
    super(`${context}: ${name}${brokerMessage ? ` (${brokerMessage})` : ''}`);
    this.errorName = name;
  }
}

/** Throws KafkaProtocolError unless `code` is 0. */
export function checkErrorCode(code: number, context: string, brokerMessage?: string | null): void {
  if (code !== ErrorCode.none) throw new KafkaProtocolError(code, context, brokerMessage);
}

/** Errors after which asking again (after a metadata refresh) may succeed. */
export function isRetriable(code: number): boolean {
  return (
    code === ErrorCode.leaderNotAvailable ||
    code === ErrorCode.notLeaderOrFollower ||
    code === ErrorCode.requestTimedOut ||
    code === ErrorCode.networkException ||
    code === ErrorCode.coordinatorLoadInProgress ||
    code === ErrorCode.coordinatorNotAvailable ||
    code === ErrorCode.notCoordinator ||
    code === ErrorCode.notEnoughReplicas ||
    code === ErrorCode.notEnoughReplicasAfterAppend ||
    code === ErrorCode.kafkaStorageError ||
    code === ErrorCode.fencedLeaderEpoch ||
    code === ErrorCode.unknownLeaderEpoch
  );
}
