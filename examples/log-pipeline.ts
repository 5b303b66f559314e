/**
 * log-pipeline: one log, read by several consumer groups, each at its own pace.
 *
 * Three applications (web, billing, search) write 300 log lines (levels INFO, WARN and ERROR, drawn
 * from a seeded generator, so every run writes the same lines) to the Kafka topic `app-logs`
 * (3 partitions, keyed by application). Two consumer groups read the whole topic independently:
 * "indexer" builds a word → line ids index, slowly (a few milliseconds per line, as a real indexer
 * writing to disk would), and "stats" counts lines per level, fast. Each group keeps its own
 * committed offsets, so the slow one holds nobody up and misses nothing: the example prints when
 * each finished and checks both against what the applications wrote.
 *
 *   npm run example -- log-pipeline
 *
 * Shown with KafkaJS, over the Kafka protocol (OSPREY_BROKERS, default 127.0.0.1:9092). It starts
 * afresh: the topic and the two groups are deleted first if they exist.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, EachMessagePayload, Kafka as KafkaClient } from 'kafkajs';
import { checkKafkaReachable, elapsedMs, expect, ExampleFailure, kafkaBrokers, runExample, waitUntil } from './lib/example-runtime.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

const topic = 'app-logs';
const partitionCount = 3;
const applications = ['web', 'billing', 'search'] as const;
const linesPerApplication = 100;
const seed = 20_261_205;
/** The indexer's pace: what indexing one line costs it. */
const indexingDelayPerLineMs = 5;
const consumeTimeoutMs = 30_000;
const searchedWord = 'timeout';

type Level = 'INFO' | 'WARN' | 'ERROR';

interface LogLine {
  readonly id: string;
  readonly level: Level;
  readonly application: string;
  readonly text: string;
}

/** mulberry32: a small seeded generator, so the lines are the same on every run. */
function seededRandom(initial: number): () => number {
  let state = initial >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const messages: Record<Level, readonly string[]> = {
  INFO: ['request served in {n} ms', 'user {n} logged in', 'cache warmed with {n} entries', 'order {n} paid'],
  WARN: ['slow query took {n} ms', 'retrying upstream call {n}', 'disk usage at {n} percent'],
  ERROR: ['upstream timeout after {n} ms', 'payment declined for order {n}', 'connection reset by peer {n}'],
};

function writeLines(): LogLine[] {
  const random = seededRandom(seed);
  const pick = <T>(choices: readonly T[]): T => choices[Math.floor(random() * choices.length)] as T;
  const lines: LogLine[] = [];
  for (let index = 0; index < linesPerApplication * applications.length; index++) {
    const draw = random();
    const level: Level = draw < 0.7 ? 'INFO' : draw < 0.9 ? 'WARN' : 'ERROR';
    const text = pick(messages[level]).replace('{n}', String(Math.floor(random() * 1000)));
    lines.push({ id: `L${String(index + 1).padStart(3, '0')}`, level, application: applications[index % applications.length] ?? 'web', text });
  }
  return lines;
}

function formatLine(line: LogLine): string {
  return `${line.id} ${line.level} ${line.application} ${line.text}`;
}

function parseLine(value: string): LogLine {
  const [id, level, application, ...words] = value.split(' ');
  if (id === undefined || application === undefined || (level !== 'INFO' && level !== 'WARN' && level !== 'ERROR')) throw new ExampleFailure(`unreadable log line: ${value}`);
  return { id, level, application, text: words.join(' ') };
}

function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[a-z]+/g) ?? [];
}

/** Deletes the topic and the groups of an earlier run, then creates the topic. */
async function startAfresh(admin: Admin): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
  // Groups that do not exist answer GROUP_ID_NOT_FOUND, which is what we want anyway.
  await admin.deleteGroups(['indexer', 'stats']).catch(() => undefined);
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount }], waitForLeaders: true });
  console.log(`created topic ${topic} with ${partitionCount} partitions`);
}

interface Group {
  readonly consumer: Consumer;
  readonly seen: Set<string>;
  finishedAfterMs: number | null;
}

/** Starts a consumer of `groupId` reading the topic from the beginning, calling `handle` for each line. */
async function startGroup(kafka: KafkaClient, groupId: string, handle: (line: LogLine) => Promise<void> | void): Promise<Group> {
  // A short fetch wait, so that disconnecting at the end does not wait long for a fetch to return.
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  const group: Group = { consumer, seen: new Set(), finishedAfterMs: null };
  let crash: Error | null = null;
  consumer.on(consumer.events.CRASH, (event) => {
    crash = event.payload.error;
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }: EachMessagePayload) => {
      if (crash !== null) throw crash;
      const line = parseLine(message.value?.toString('utf8') ?? '');
      // Delivery is at least once: a line read again after a rebalance is not counted twice.
      if (group.seen.has(line.id)) return;
      await handle(line);
      group.seen.add(line.id);
    },
  });
  return group;
}

async function main(): Promise<void> {
  await checkKafkaReachable();
  const kafka = new Kafka({ clientId: 'log-pipeline-example', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 200 } });
  const admin = kafka.admin();
  await admin.connect();
  await startAfresh(admin);
  await admin.disconnect();

  const index = new Map<string, Set<string>>();
  const counts: Record<Level, number> = { INFO: 0, WARN: 0, ERROR: 0 };
  // Both groups join at once (a new group's first join waits a moment for more members).
  const [indexer, stats] = await Promise.all([
    startGroup(kafka, 'indexer', async (line) => {
      await sleep(indexingDelayPerLineMs);
      for (const word of wordsOf(line.text)) {
        const ids = index.get(word) ?? new Set<string>();
        ids.add(line.id);
        index.set(word, ids);
      }
    }),
    startGroup(kafka, 'stats', (line) => {
      counts[line.level]++;
    }),
  ]);
  console.log(`consumer groups "indexer" (${indexingDelayPerLineMs} ms per line) and "stats" started, reading from the beginning`);

  const lines = writeLines();
  const startMs = performance.now();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (const application of applications) {
    const own = lines.filter((line) => line.application === application);
    await producer.send({ topic, acks: -1, messages: own.map((line) => ({ key: application, value: formatLine(line) })) });
    console.log(`application ${application}: wrote ${own.length} lines to ${topic}`);
  }
  await producer.disconnect();

  // Each group finishes at its own pace; the fast one does not wait for the slow one.
  const finish = async (name: string, group: Group, other: Group): Promise<void> => {
    await waitUntil(() => group.seen.size >= lines.length, `group ${name} to read ${lines.length} lines (read ${group.seen.size})`, consumeTimeoutMs);
    group.finishedAfterMs = elapsedMs(startMs);
    console.log(`group ${name}: read all ${group.seen.size} lines ${group.finishedAfterMs} ms after the applications began writing (the other group had read ${other.seen.size} by then)`);
  };
  await Promise.all([finish('stats', stats, indexer), finish('indexer', indexer, stats)]);
  await Promise.all([indexer.consumer.disconnect(), stats.consumer.disconnect()]);

  const expectedCounts: Record<Level, number> = { INFO: 0, WARN: 0, ERROR: 0 };
  for (const line of lines) expectedCounts[line.level]++;
  const expectedHits = lines.filter((line) => wordsOf(line.text).includes(searchedWord)).map((line) => line.id);
  const hits = [...(index.get(searchedWord) ?? [])].sort();

  console.log(`stats: INFO ${counts.INFO}, WARN ${counts.WARN}, ERROR ${counts.ERROR} (${counts.INFO + counts.WARN + counts.ERROR} lines)`);
  console.log(`indexer: ${index.size} distinct words over ${indexer.seen.size} lines; lines with "${searchedWord}": ${hits.length} (${hits.join(' ')})`);
  expect(
    counts.INFO === expectedCounts.INFO && counts.WARN === expectedCounts.WARN && counts.ERROR === expectedCounts.ERROR,
    `stats counted ${JSON.stringify(counts)}, the applications wrote ${JSON.stringify(expectedCounts)}`,
  );
  expect(hits.join(' ') === expectedHits.join(' '), `the index finds "${searchedWord}" in ${hits.join(' ')}, the lines holding it are ${expectedHits.join(' ')}`);
  console.log(`both groups read every line, each at its own pace: stats finished after ${stats.finishedAfterMs} ms, indexer after ${indexer.finishedAfterMs} ms`);
}

runExample('log-pipeline', main);
