/**
 * Fields whose name in our declarations differs on purpose from Kafka's. The checker matches fields
 * by name (ignoring case), so each rename is listed here, with the reason, or it would be reported as
 * one field missing on each side. Keep the list short: a name that merely differs is better fixed.
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
