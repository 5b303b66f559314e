/**
 * The memory workload: Osprey's peak resident memory with many partitions and many connections,
 * against the goals of issue 14 (≤ 250 MB with 1,000 partitions receiving load; ≤ 1 GB with 10,000
 * partitions and 10,000 connections).
 *
 * Each scenario runs on a fresh broker, so nothing an earlier workload left in its heap counts:
 *   1. start Osprey, raise its open-files limit when the scenario needs more than it has (prlimit);
 *   2. create one topic of `partitions` partitions;
 *   3. open `connections` idle Kafka connections, each of which did ApiVersions and a Metadata
 *      request (for no topic: the answer is the broker list), and leave them open;
 *   4. publish through the project's client: one producer, batches of 100 messages of 100 B, each
 *      batch to the next partition (round-robin), 8 batches outstanding; first one batch to every
 *      partition (at most 120 s), then for `seconds` more;
 *   5. read the broker's peak RSS (VmHWM since it started, over its process tree), then close all.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RunningBroker } from '../brokers/broker.js';
import { ospreyClientDriver } from '../drivers/osprey-client.js';
import { apis } from '../../src/client/apis.js';
import { Connection } from '../../src/client/connection.js';
import { peakRssBytes, processTree } from '../lib/proc-stats.js';
import type { Progress } from '../lib/progress.js';
import type { MemoryResult, MemoryScenario } from '../lib/results.js';
import { backlogPayloads } from './payloads.js';
import { publishRound } from './workloads.js';

/** The first pass (one batch to every partition) stops after this long on a slow broker. */
const fillCapSeconds = 120;

/** Connections opened at once while building up the idle ones. */
const openingConcurrency = 200;

/**
 * Broker flags a scenario needs: the connection limits above the scenario's count (the defaults
 * are 10,000 in all and 1,000 per address, and every connection here comes from 127.0.0.1).
 */
export function memoryBrokerFlags(scenario: MemoryScenario): string[] {
  const connections = String(scenario.connections + 100);
  return ['--limits.max-connections', connections, '--limits.max-connections-per-address', connections];
}

/** The soft open-files limit of a process, from /proc/<pid>/limits. */
function openFilesLimit(pid: number): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return match === null || match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/**
 * Raises a process's open-files limit (soft and hard) to `wanted` if it is lower; returns what was
 * done, for the notes. Raising the hard limit needs root (or CAP_SYS_RESOURCE).
 */
function raiseOpenFiles(pid: number, wanted: number, who: string): string | null {
  const current = openFilesLimit(pid);
  if (current >= wanted) return null;
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${wanted}:${wanted}`], { stdio: 'ignore' });
    return `${who}'s open-files limit raised from ${current} to ${wanted} (prlimit)`;
  } catch {
    return `${who}'s open-files limit is ${current}, below the ${wanted} wanted, and could not be raised (raising a hard limit needs root with CAP_SYS_RESOURCE)`;
  }
}

export async function runMemoryScenario(start: (flags: readonly string[]) => Promise<RunningBroker>, scenario: MemoryScenario, seconds: number, progress: Progress): Promise<MemoryResult> {
  const notes: string[] = [];
  // Sockets, plus the broker's open segment files (at most limits.maxOpenSegmentFiles, 4096 by
  // default: idle segments close their files), plus room for the rest.
  const wantedFiles = scenario.connections + 4096 + 1024;
  const ourNote = raiseOpenFiles(process.pid, scenario.connections + 4096, 'the benchmark process');
  if (ourNote !== null) notes.push(ourNote);
  const broker = await start(memoryBrokerFlags(scenario));
  const idle: Connection[] = [];
  try {
    const brokerNote = raiseOpenFiles(broker.pid, wantedFiles, 'the broker');
    if (brokerNote !== null) notes.push(brokerNote);
    if (scenario.connections > 0) notes.push(`broker started with ${memoryBrokerFlags(scenario).join(' ')}`);
    const driver = await ospreyClientDriver(broker);
    try {
      const destination = { name: `memory-${scenario.partitions}`, partitions: scenario.partitions };
      progress.begin(`memory: creating ${scenario.partitions} partitions`, 0);
      await driver.createDestination(destination);
      progress.end('done');
      if (scenario.connections > 0) {
        progress.begin(`memory: opening ${scenario.connections} idle connections`, scenario.connections);
        const failures = await openIdleConnections(broker, scenario.connections, idle, progress);
        progress.end(`${idle.length} open`);
        if (failures.length > 0) notes.push(`${failures.length} connections failed (first: ${failures[0]})`);
      }
      // First one batch of 100 to every partition (so each has data, files and indexes; at most
      // `fillCapSeconds`), then `seconds` more of the same round-robin load.
      const flow = { batchMessages: 100, batchesInFlight: 8, stallTimeoutMs: 60_000 };
      const batch = backlogPayloads(100, 100);
      progress.begin(`memory: ${scenario.partitions} partitions, ${idle.length} idle connections, one batch to each partition`, 0);
      const filled = await publishRound(driver, destination, { batch, seconds: fillCapSeconds, maxMessages: scenario.partitions * batch.length }, flow, progress);
      progress.end(`${filled.messages} records in ${filled.seconds.toFixed(1)} s`);
      progress.begin(`memory: ${scenario.partitions} partitions, ${idle.length} idle connections, publishing ${seconds} s`, 0);
      const published = await publishRound(driver, destination, { batch, seconds, maxMessages: Number.MAX_SAFE_INTEGER }, flow, progress);
      const peak = peakRssBytes(processTree(broker.pid));
      const written = Math.min(scenario.partitions, Math.ceil((filled.messages + published.messages) / batch.length));
      notes.push(written === scenario.partitions ? 'every partition written' : `${written.toLocaleString('en-US')} partitions written (the first pass stopped at ${fillCapSeconds} s)`);
      progress.end(`peak RSS ${(peak / 1e6).toFixed(0)} MB (goal ≤ ${(scenario.goalBytes / 1e6).toFixed(0)} MB)`);
      return { partitions: scenario.partitions, connections: scenario.connections, connectionsOpened: idle.length, messages: filled.messages + published.messages, seconds: filled.seconds + published.seconds, peakRssBytes: peak, goalBytes: scenario.goalBytes, notes };
    } finally {
      for (const connection of idle) connection.close();
      await driver.close();
    }
  } finally {
    await broker.stop();
  }
}

/** Opens `count` connections (ApiVersions on open, then Metadata), `openingConcurrency` at a time; returns the errors. */
async function openIdleConnections(broker: RunningBroker, count: number, into: Connection[], progress: Progress): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const opener = async () => {
    while (next < count) {
      next += 1;
      try {
        const connection = await Connection.open({ host: broker.host, port: broker.port, clientId: `osprey-bench-idle-${next}`, connectTimeoutMs: 30_000, requestTimeoutMs: 60_000 });
        into.push(connection);
        await connection.request(apis.metadata, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
        progress.advance(1);
      } catch (error) {
        failures.push(error instanceof Error ? error.message.split('\n')[0]! : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: openingConcurrency }, opener));
  return failures;
}
