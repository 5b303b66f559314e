/**
 * Waiting on what a broker does instead of sleeping for a guessed while: a test that sleeps "long
 * enough" is slow when the machine is idle and flaky when other tests load it.
 *
 *   await waitUntil(async () => (await metricValue(broker, 'osprey_connections')) === 0, 'every connection closed');
 *   await waitUntilCommitted(broker, 'readers', 'orders', 6);   // the group committed every record
 *
 *   const markers = await produceMarkers(broker, 'orders', 6);   // one record per partition, after the rest
 *   await waitUntil(() => markers.every((marker) => seen.has(marker)), 'the markers');
 *   … nothing read before a partition's marker can still be on its way: assert on what arrived …
 *
 * Conditions are polled (a broker has no push channel to tests); the wait ends as soon as one holds
 * and fails, saying what it waited for, once timeoutMs passed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../src/protocol/kafka/messages/offset-fetch.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { encodeRecordBatch, rawApi, withConnection } from './raw-kafka-client.js';

const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const offsetFetchApi = rawApi(offsetFetchRequest, offsetFetchResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const defaultTimeoutMs = 30_000;
const pollIntervalMs = 50;

/**
 * Resolves once `condition` holds; throws `timed out … waiting for <what>` (and `describe()`) after
 * timeoutMs. A condition that throws counts as not holding yet (a /metrics request can fail now and
 * then, e.g. on a keep-alive connection the broker's HTTP server is just closing); the last such
 * error is part of the time-out message.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = defaultTimeoutMs, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const details = [describe(), lastError === null ? '' : `last error: ${errorText(lastError)}`].filter((text) => text !== '').join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${details === '' ? '' : `\n${details}`}`);
    }
    await sleep(pollIntervalMs);
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (${errorText(error.cause)})`;
}

/** The value of one sample (`name{labels}` as written) in the broker's /metrics text; 0 when absent. */
export async function metricValue(broker: { metricsText(): Promise<string> }, sample: string): Promise<number> {
  const text = await broker.metricsText();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/**
 * Waits until the broker has written every batch its journal made durable to the segment files
 * (write-behind: within about a second), for tests that read or damage those files.
 */
export async function waitUntilWrittenOut(broker: { metricsText(): Promise<string> }): Promise<void> {
  await waitUntil(async () => (await metricValue(broker, 'osprey_journal_unwritten_bytes')) === 0, 'every acknowledged batch written to its segment file');
}

interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** Each partition's log end offset (ListOffsets latest), by partition index 0 … partitionCount-1. */
export function endOffsets(broker: BrokerAddress, topic: string, partitionCount: number): Promise<bigint[]> {
  return listOffsets(broker, topic, partitionCount, -1n);
}

/** Each partition's log start offset (ListOffsets earliest), by partition index 0 … partitionCount-1. */
export function startOffsets(broker: BrokerAddress, topic: string, partitionCount: number): Promise<bigint[]> {
  return listOffsets(broker, topic, partitionCount, -2n);
}

/** ListOffsets of every partition at `timestamp` (-1 latest, -2 earliest); -1 for a partition answered with an error. */
async function listOffsets(broker: BrokerAddress, topic: string, partitionCount: number, timestamp: bigint): Promise<bigint[]> {
  const indexes = Array.from({ length: partitionCount }, (_, index) => index);
  const response = await withConnection(broker, (connection) =>
    connection.call(listOffsetsApi, 1, { replicaId: -1, isolationLevel: 0, timeoutMs: 0, topics: [{ name: topic, partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp })) }] }),
  );
  const partitions = response.topics[0]?.partitions ?? [];
  return indexes.map((index) => partitions.find((partition) => partition.partitionIndex === index && partition.errorCode === 0)?.offset ?? -1n);
}

/** A group's committed offset of each partition (-1 where it has none), by partition index. */
export async function committedOffsets(broker: BrokerAddress, groupId: string, topic: string, partitionCount: number): Promise<bigint[]> {
  const indexes = Array.from({ length: partitionCount }, (_, index) => index);
  const response = await withConnection(broker, (connection) => connection.call(offsetFetchApi, 1, { groupId, topics: [{ name: topic, partitionIndexes: indexes }], groups: [] }));
  const partitions = response.topics[0]?.partitions ?? [];
  return indexes.map((index) => partitions.find((partition) => partition.partitionIndex === index)?.committedOffset ?? -1n);
}

/**
 * Resolves once `groupId` has committed, on every partition of `topic`, the log end offset: every
 * record written so far has been read and committed (auto-commits come when the client's timer says).
 */
export async function waitUntilCommitted(broker: BrokerAddress, groupId: string, topic: string, partitionCount: number, timeoutMs = defaultTimeoutMs): Promise<void> {
  let last = '';
  await waitUntil(
    async () => {
      const [ends, committed] = await Promise.all([endOffsets(broker, topic, partitionCount), committedOffsets(broker, groupId, topic, partitionCount)]);
      last = `end offsets ${ends.join(',')}; committed ${committed.join(',')}`;
      return ends.every((end, index) => end >= 0n && committed[index] === end);
    },
    `group ${groupId} to commit the end of ${topic}`,
    timeoutMs,
    () => last,
  );
}

/**
 * Writes one record (`<prefix>-<partition>`, acks=all) to each partition of `topic` and returns the
 * values. A consumer reads a partition in order, so once it has read a partition's marker it has
 * read everything written there before: a "nothing more arrived" check can follow at once.
 */
export async function produceMarkers(broker: BrokerAddress, topic: string, partitionCount: number, prefix = 'marker'): Promise<string[]> {
  const values = Array.from({ length: partitionCount }, (_, partition) => `${prefix}-${partition}`);
  const response = await withConnection(broker, (connection) =>
    connection.call(produceApi, 8, {
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, topicId: Buffer.alloc(16), partitionData: values.map((value, index) => ({ index, records: encodeRecordBatch([{ key: null, value: Buffer.from(value) }]) })) }],
    }),
  );
  const failed = (response.responses[0]?.partitionResponses ?? []).filter((partition) => partition.errorCode !== 0);
  if (failed.length > 0 || response.responses[0]?.partitionResponses.length !== partitionCount) throw new Error(`markers not written to ${topic}: ${JSON.stringify(failed)}`);
  return values;
}
