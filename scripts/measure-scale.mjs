#!/usr/bin/env node
/**
 * Start-up and shutdown at scale, measured on a real broker process (not part of npm test):
 *
 *   npm run build && node scripts/measure-scale.mjs --partitions 1000 [--topics 10] [--crash]
 *
 * Creates the topics on a fresh data directory, writes one record to every partition, stops the
 * broker with SIGTERM (or kill -9 with --crash), starts it again and reports: time to create the
 * topics, time from spawn to the Kafka listener being ready, time until every partition is
 * recovered (the 'partitions recovered' line, when the broker logs one), open file descriptors and
 * RSS once it answers, and time from SIGTERM to exit. Extra broker flags follow `--`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';

const { values, positionals } = parseArgs({
  options: { partitions: { type: 'string', default: '1000' }, topics: { type: 'string', default: '10' }, crash: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const partitionCount = Number(values.partitions);
const topicCount = Number(values.topics);
const partitionsPerTopic = Math.ceil(partitionCount / topicCount);
const cliEntry = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'osprey-scale-'));

function startBroker(port) {
  const startedMs = performance.now();
  const child = spawn(process.execPath, [cliEntry, 'broker', '--data-dir', dataDir, '--kafka-port', String(port), '--http-port', '-1', ...positionals], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const marks = new Map();
  const watchers = [];
  const onText = (chunk) => {
    output += chunk;
    for (const watcher of [...watchers]) {
      const match = watcher.pattern.exec(output);
      if (match !== null) {
        watchers.splice(watchers.indexOf(watcher), 1);
        marks.set(watcher.pattern.source, performance.now() - startedMs);
        watcher.resolve(match);
      }
    }
  };
  child.stdout.on('data', onText);
  child.stderr.on('data', onText);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = (pattern, timeoutMs = 600_000) =>
    new Promise((resolve, reject) => {
      watchers.push({ pattern, resolve });
      onText('');
      setTimeout(() => reject(new Error(`timed out waiting for ${pattern}\n${output.slice(-2000)}`)), timeoutMs).unref();
      exited.then(({ code }) => reject(new Error(`broker exited (${code}) before ${pattern}\n${output.slice(-2000)}`)));
    });
  return { child, startedMs, marks, waitFor, exited, elapsedMs: () => performance.now() - startedMs };
}

function processFigures(pid) {
  const fileDescriptors = readdirSync(`/proc/${pid}/fd`).length;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const residentKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { fileDescriptors, residentMiB: Math.round(residentKiB / 1024) };
}

async function stop(broker, crash) {
  const startedMs = performance.now();
  broker.child.kill(crash ? 'SIGKILL' : 'SIGTERM');
  const { code, signal } = await broker.exited;
  return { exitMs: Math.round(performance.now() - startedMs), code, signal };
}

const kafkaLogLevel = kafkajs.logLevel.NOTHING;

async function main() {
  const first = startBroker(0);
  const [, port] = await first.waitFor(/kafka listener ready host=\S+ port=(\d+)/);
  const kafka = new kafkajs.Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: kafkaLogLevel, requestTimeout: 600_000, retry: { retries: 20 } });
  const admin = kafka.admin();
  await admin.connect();
  const topics = Array.from({ length: topicCount }, (_, index) => `scale-${index}`);
  const createStartedMs = performance.now();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitionsPerTopic })), timeout: 600_000 });
  const createMs = Math.round(performance.now() - createStartedMs);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (const topic of topics) {
    await producer.send({ topic, acks: -1, timeout: 600_000, messages: Array.from({ length: partitionsPerTopic }, (_, partition) => ({ partition, value: `record of ${partition}` })) });
  }
  await producer.disconnect();
  const firstFigures = processFigures(first.child.pid);
  const firstStop = await stop(first, values.crash);

  const second = startBroker(port);
  await second.waitFor(/kafka listener ready/);
  const listeningMs = Math.round(second.elapsedMs());
  // Brokers that recover in the background log 'partitions recovered'; older ones are ready when listening.
  const logsRecovery = readFileSync(cliEntry.replace(/cli\/main\.js$/, 'broker/broker.js'), 'utf8').includes('partitions recovered');
  const recoveredMs = logsRecovery ? await second.waitFor(/partitions recovered/).then(() => Math.round(second.marks.get('partitions recovered'))) : listeningMs;
  const check = new kafkajs.Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: kafkaLogLevel, requestTimeout: 600_000, retry: { retries: 50 } });
  const checkAdmin = check.admin();
  await checkAdmin.connect();
  const offsets = await checkAdmin.fetchTopicOffsets(topics[0]);
  await checkAdmin.disconnect();
  const secondFigures = processFigures(second.child.pid);
  const secondStop = await stop(second, false);
  const report = {
    partitions: topicCount * partitionsPerTopic,
    createTopicsMs: createMs,
    beforeRestart: { ...firstFigures, stop: firstStop },
    restart: { listeningMs, recoveredMs, ...secondFigures, firstTopicEndOffsets: [...new Set(offsets.map((entry) => entry.high))], stop: secondStop },
  };
  console.log(JSON.stringify(report, null, 2));
}

const children = [];
try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 500));
  rmSync(dataDir, { recursive: true, force: true });
}
