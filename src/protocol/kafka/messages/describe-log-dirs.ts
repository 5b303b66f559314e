/**
 * DescribeLogDirs (key 35), versions 0-4, flexible from 2.
 *
 * The log directories of the broker answering, with the partitions each holds: size on disk, how far
 * the log end is behind the high watermark (offsetLag), and whether the log is a "future" copy
 * being moved between directories (AlterReplicaLogDirs). topics null asks for every partition.
 * v1 is v0 (throttling before answering); v3 adds the top-level errorCode; v4 the volume's total
 * and usable bytes. Kafka 4.0 dropped v0 (KIP-896).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const describeLogDirsRequest = message({
  name: 'DescribeLogDirs',
  apiKey: 35,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '2+',
  fields: [
    array('topics', [
      field('topic', 'string'),
      array('partitions', 'int32'),
    ], { nullable: '0+' }),
  ],
});

export const describeLogDirsResponse = message({
  name: 'DescribeLogDirs',
  apiKey: 35,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('errorCode', 'int16', { versions: '3+' }),
    array('results', [
      field('errorCode', 'int16'),
      field('logDir', 'string'),
      array('topics', [
        field('name', 'string'),
        array('partitions', [
          field('partitionIndex', 'int32'),
          field('partitionSize', 'int64'),
          field('offsetLag', 'int64'),
          field('isFutureKey', 'bool'),
        ]),
      ]),
      field('totalBytes', 'int64', { versions: '4+', default: -1 }),
      field('usableBytes', 'int64', { versions: '4+', default: -1 }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DescribeLogDirsRequest = Decoded<typeof describeLogDirsRequest>;
/** A response as the broker's handler builds it. */
export type DescribeLogDirsResponse = Encodable<typeof describeLogDirsResponse>;
/** A request as a client builds it. */
export type DescribeLogDirsRequestEncodable = Encodable<typeof describeLogDirsRequest>;
/** A response as a client receives it. */
export type DescribeLogDirsResponseDecoded = Decoded<typeof describeLogDirsResponse>;
