/**
 * Runs every workload a driver supports, with warm-up and rounds, bracketing each measured round
 * with CPU and peak-RSS readings of the broker's process tree.
 */
import type { RunningBroker } from '../brokers/broker.js';
import type { Destination, Driver } from '../drivers/driver.js';
import { BrokerMeter } from '../lib/proc-stats.js';
import type { Progress } from '../lib/progress.js';
import type { LatencyResult, Settings, ThroughputResult, ThroughputWorkload } from '../lib/results.js';
import { formatCount, formatMicroseconds, medianLatencyRun, summarize } from '../lib/stats.js';
import type { LatencySummary } from '../lib/stats.js';
import { backlogPayloads } from './payloads.js';
import { consumeRound, latencyRun, manyPartitionsRound, publishRound } from './workloads.js';
import type { FlowSettings } from './workloads.js';

export interface DriverResults {
  readonly throughput: ThroughputResult[];
  readonly latency: LatencyResult[];
  readonly problems: string[];
}

interface Round {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly clientCpuSeconds: number;
  readonly peakRssBytes: number;
}

let destinationCounter = 0;

function newDestination(label: string, partitions: number): Destination {
  destinationCounter += 1;
  return { name: `bench-${process.pid}-${destinationCounter}-${label}`, partitions };
}

export async function runDriver(driver: Driver, broker: RunningBroker, settings: Settings, progress: Progress): Promise<DriverResults> {
  const results: DriverResults = { throughput: [], latency: [], problems: [] };
  const flow: FlowSettings = { batchMessages: settings.batchMessages, batchesInFlight: settings.batchesInFlight, stallTimeoutMs: 30_000 };
  const meter = new BrokerMeter(broker.pid);
  const measure = async (work: () => Promise<number>): Promise<Round> => {
    meter.start();
    const seconds = await work();
    return { seconds, ...meter.finish() };
  };
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      const message = `${driver.id} ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
      progress.end(`FAILED ${message}`);
      results.problems.push(message);
    }
  };

  // Warm-up: one unrecorded publish + consume (JIT, connections, broker caches).
  await attempt('warm-up', async () => {
    const destination = newDestination('warmup', 1);
    const payloads = backlogPayloads(settings.warmupMessages, settings.messageSizesBytes[0] ?? 100);
    await driver.createDestination(destination);
    progress.begin(`${driver.id} warm-up`, payloads.length * 2);
    await publishRound(driver, destination, payloads, flow, progress);
    if (driver.workloads.has('consume')) await consumeRound(driver, destination, payloads.length, flow, progress);
    await driver.deleteDestination(destination);
    progress.end('done');
  });

  for (const sizeBytes of settings.messageSizesBytes) {
    const payloads = backlogPayloads(settings.messagesPerRound, sizeBytes);
    const publishRounds: Round[] = [];
    const consumeRounds: Round[] = [];
    for (let round = 1; round <= settings.rounds; round += 1) {
      await attempt(`publish/consume ${sizeBytes} B round ${round}`, async () => {
        const destination = newDestination(`s${sizeBytes}`, 1);
        await driver.createDestination(destination);
        progress.begin(`${driver.id} publish ${sizeBytes} B round ${round}/${settings.rounds}`, payloads.length);
        const published = await measure(() => publishRound(driver, destination, payloads, flow, progress));
        publishRounds.push(published);
        progress.end(`${formatCount(payloads.length / published.seconds)} msg/s`);
        if (!driver.workloads.has('consume')) return;
        progress.begin(`${driver.id} consume ${sizeBytes} B round ${round}/${settings.rounds}`, payloads.length);
        const consumed = await measure(() => consumeRound(driver, destination, payloads.length, flow, progress));
        consumeRounds.push(consumed);
        progress.end(`${formatCount(payloads.length / consumed.seconds)} msg/s`);
        await driver.deleteDestination(destination);
      });
    }
    addThroughput(results, driver, 'publish', sizeBytes, payloads.length, publishRounds);
    addThroughput(results, driver, 'consume', sizeBytes, payloads.length, consumeRounds);
  }

  if (driver.workloads.has('latency')) {
    for (const rate of settings.latencyRatesPerSecond) {
      const runs: LatencySummary[] = [];
      const achieved: number[] = [];
      for (let round = 1; round <= settings.latencyRounds; round += 1) {
        await attempt(`latency ${rate}/s round ${round}`, async () => {
          const destination = newDestination(`lat${rate}`, 1);
          await driver.createDestination(destination);
          const warmupSeconds = Math.min(2, settings.latencySeconds / 2);
          progress.begin(`${driver.id} latency ${formatCount(rate)} msg/s round ${round}/${settings.latencyRounds}`, Math.round(rate * (settings.latencySeconds + warmupSeconds)));
          const run = await latencyRun(driver, destination, rate, settings.latencySeconds, warmupSeconds, settings.latencySizeBytes, flow, progress);
          await driver.deleteDestination(destination);
          runs.push(run.summary);
          achieved.push(run.achievedRatePerSecond);
          progress.end(`p50 ${formatMicroseconds(run.summary.p50Us)} p99 ${formatMicroseconds(run.summary.p99Us)} max ${formatMicroseconds(run.summary.maxUs)} (sent at ${formatCount(run.achievedRatePerSecond)}/s)`);
        });
      }
      if (runs.length === 0) continue;
      const achievedRate = summarize(achieved).median;
      results.latency.push({
        driver: driver.id,
        sizeBytes: settings.latencySizeBytes,
        targetRatePerSecond: rate,
        achievedRatePerSecond: achievedRate,
        seconds: settings.latencySeconds,
        median: medianLatencyRun(runs),
        runs,
        sustained: achievedRate >= rate * 0.95,
      });
    }
  }

  if (driver.workloads.has('many-partitions')) {
    const sizeBytes = settings.messageSizesBytes[0] ?? 100;
    const payloads = backlogPayloads(settings.manyMessages, sizeBytes);
    const rounds: Round[] = [];
    for (let round = 1; round <= settings.rounds; round += 1) {
      await attempt(`many-partitions round ${round}`, async () => {
        const destination = newDestination(`p${settings.manyPartitions}`, settings.manyPartitions);
        await driver.createDestination(destination);
        progress.begin(`${driver.id} ${settings.manyPartitions} partitions × ${settings.manyProducers}P/${settings.manyConsumers}C round ${round}/${settings.rounds}`, payloads.length);
        const measured = await measure(() => manyPartitionsRound(driver, destination, payloads, { producers: settings.manyProducers, consumers: settings.manyConsumers }, flow, progress));
        rounds.push(measured);
        progress.end(`${formatCount(payloads.length / measured.seconds)} msg/s end to end`);
        await driver.deleteDestination(destination);
      });
    }
    addThroughput(results, driver, 'many-partitions', sizeBytes, payloads.length, rounds);
  }
  return results;
}

function addThroughput(results: DriverResults, driver: Driver, workload: ThroughputWorkload, sizeBytes: number, messages: number, rounds: readonly Round[]): void {
  if (rounds.length === 0) return;
  results.throughput.push({
    driver: driver.id,
    workload,
    sizeBytes,
    messages,
    messagesPerSecond: summarize(rounds.map((round) => messages / round.seconds)),
    megabytesPerSecond: summarize(rounds.map((round) => (messages * sizeBytes) / round.seconds / 1e6)),
    brokerCpuSecondsPerMillion: summarize(rounds.map((round) => (round.cpuSeconds / messages) * 1e6)),
    brokerPeakRssBytes: summarize(rounds.map((round) => round.peakRssBytes)),
    brokerCpuCores: summarize(rounds.map((round) => round.cpuSeconds / round.seconds)),
    clientCpuCores: summarize(rounds.map((round) => round.clientCpuSeconds / round.seconds)),
  });
}
