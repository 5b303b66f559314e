/**
 * DescribeLogDirs (35), v1-4 (v0 is gone from Kafka 4, KIP-896).
 *
 * Osprey keeps every partition in one folder, its data directory, so there is one log directory in
 * the answer: its absolute path, the total and usable bytes of its file system (v4; one statfs
 * call, usable being what an unprivileged writer may still use), and the partitions asked for
 * (every one when topics is null) with the bytes of their segment files, an offset lag of 0 (the
 * log end is never behind the high watermark: Kafka's max(HW − LEO, 0)) and isFutureKey false
 * (logs are never moved between directories). As Kafka answers: a topic or partition asked for
 * that the broker does not hold is left out, as is a partition asked twice the second time, and a
 * topic with nothing listed; a partition whose log is not open (still recovering, or failed) is
 * left out too, as Kafka leaves out logs it has not loaded. If statfs fails the directory is
 * answered KAFKA_STORAGE_ERROR with no topics, Kafka's answer for an offline log directory.
 * No authorizer: the request is always allowed (Kafka checks DESCRIBE on the cluster).
 */
import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Broker, Partition } from '../../../broker/broker.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { describeLogDirsRequest, describeLogDirsResponse, type DescribeLogDirsRequest, type DescribeLogDirsResponse } from '../../../protocol/kafka/messages/describe-log-dirs.js';
import { defineHandler } from '../handler.js';

type LogDirTopic = DescribeLogDirsResponse['results'][number]['topics'][number];

/** The held partitions a request asks for, by topic, each once, in topic then partition order. */
function askedPartitions(broker: Broker, topics: DescribeLogDirsRequest['topics']): Partition[][] {
  if (topics === null) return broker.allTopics().map((topic) => topic.partitions);
  const indexesByTopic = new Map<string, Set<number>>();
  for (const { topic, partitions } of topics) {
    const indexes = indexesByTopic.get(topic) ?? new Set<number>();
    for (const index of partitions) indexes.add(index);
    indexesByTopic.set(topic, indexes);
  }
  const asked: Partition[][] = [];
  for (const [name, indexes] of indexesByTopic) {
    const topic = broker.topic(name);
    if (topic !== undefined) asked.push(topic.partitions.filter((partition) => indexes.has(partition.index)));
  }
  return asked;
}

function describedTopics(partitionsByTopic: readonly Partition[][]): LogDirTopic[] {
  const topics: LogDirTopic[] = [];
  for (const partitions of partitionsByTopic) {
    const listed = partitions.filter((partition) => partition.isOpen && !partition.deleted);
    if (listed.length === 0) continue;
    topics.push({
      name: listed[0]!.topic.name,
      partitions: listed.map((partition) => {
        const { handle } = partition;
        return {
          partitionIndex: partition.index,
          partitionSize: BigInt(handle.sizeBytes),
          offsetLag: BigInt(Math.max(handle.highWatermark - handle.logEndOffset, 0)),
          isFutureKey: false,
        };
      }),
    });
  }
  return topics;
}

export const describeLogDirsHandler = defineHandler({
  request: describeLogDirsRequest,
  response: describeLogDirsResponse,
  versions: { min: 1, max: 4 },
  async handle(request, context) {
    const { broker } = context;
    const logDir = resolve(broker.config.dataDir);
    let result: DescribeLogDirsResponse['results'][number];
    try {
      const volume = await statfs(logDir, { bigint: true });
      result = {
        errorCode: ErrorCode.none,
        logDir,
        // Listed after the await, so that a topic deleted meanwhile is not described.
        topics: describedTopics(askedPartitions(broker, request.topics)),
        totalBytes: volume.blocks * volume.bsize,
        usableBytes: volume.bavail * volume.bsize,
      };
    } catch (error) {
      context.logger.warn('log directory could not be described', { logDir, error: String(error) });
      result = { errorCode: ErrorCode.kafkaStorageError, logDir, topics: [] };
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.none, results: [result] };
  },
});
