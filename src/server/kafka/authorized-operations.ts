/**
 * Authorized operations, as Metadata, DescribeCluster, DescribeGroups and ConsumerGroupDescribe
 * answer them when the request asks (include…AuthorizedOperations): a 32-bit field with bit n set
 * for each ACL operation code n the caller may perform on the resource. Kafka without an
 * authorizer answers every operation the resource type supports; so does Osprey, which has no
 * ACLs yet. Not asked: −2^31.
 *
 *   code  operation          topic  group  cluster
 *    3    READ                 x      x
 *    4    WRITE                x
 *    5    CREATE               x              x
 *    6    DELETE               x      x
 *    7    ALTER                x              x
 *    8    DESCRIBE             x      x       x
 *    9    CLUSTER_ACTION                      x
 *   10    DESCRIBE_CONFIGS     x              x
 *   11    ALTER_CONFIGS        x              x
 *   12    IDEMPOTENT_WRITE                    x
 */
export const authorizedOperationsNotRequested = -2147483648;

function bitField(codes: readonly number[]): number {
  return codes.reduce((field, code) => field | (1 << code), 0);
}

const operationsOf = {
  topic: bitField([3, 4, 5, 6, 7, 8, 10, 11]),
  group: bitField([3, 6, 8]),
  cluster: bitField([5, 7, 8, 9, 10, 11, 12]),
} as const;

/** What to answer for a resource: every operation it supports when asked, the "not requested" value otherwise. */
export function authorizedOperations(resource: keyof typeof operationsOf, requested: boolean): number {
  return requested ? operationsOf[resource] : authorizedOperationsNotRequested;
}
