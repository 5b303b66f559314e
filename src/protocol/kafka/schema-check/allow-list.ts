/**
 * Where our declarations differ from Kafka's on purpose. Each entry says why; anything not listed
 * is reported. Keep the lists short: a difference that is merely a difference is better fixed.
 */

/**
 * Fields whose name in our declarations differs from Kafka's. The checker matches fields by name
 * (ignoring case), so a rename not listed here is reported as one field missing on each side.
 */
export interface FieldRename {
  /** Our message name and type, e.g. "Fetch" and "request". */
  readonly message: string;
  readonly type: 'request' | 'response';
  /** The path of the field in our declaration, e.g. "topics[].partitions[].partition". */
  readonly path: string;
  /** The name Kafka gives it, e.g. "PartitionIndex". */
  readonly kafkaName: string;
  readonly reason: string;
}

export const fieldRenames: readonly FieldRename[] = [];

/**
 * Old versions we declare although Kafka's newer trees dropped them (KIP-896, Kafka 4.0), because
 * clients still in use need them. Against such a tree these versions are noted, not reported as
 * differences; against an older tree, which still defines them, they are compared like the rest.
 */
export interface OlderVersionsKept {
  /** Our message name; the entry covers its request and response. */
  readonly message: string;
  /** The versions kept, in Kafka's notation ("0-1"). */
  readonly versions: string;
  readonly reason: string;
}

export const olderVersionsKept: readonly OlderVersionsKept[] = [
  {
    message: 'Produce',
    versions: '0-2',
    reason: 'advertised so that librdkafka keeps compression enabled (KAFKA-18659); requests are answered UNSUPPORTED_VERSION',
  },
  { message: 'OffsetCommit', versions: '0-1', reason: 'kept for older clients (see messages/offset-commit.ts)' },
  { message: 'OffsetFetch', versions: '0', reason: 'kept for older clients (see messages/offset-fetch.ts)' },
];
