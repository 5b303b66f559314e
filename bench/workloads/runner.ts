/**
 * Runs every workload a driver supports, with warm-up and rounds, bracketing each measured round
 * with CPU and peak-RSS readings of the broker's process tree.
 */
import type { RunningBroker } from '../brokers/broker.js';
import type { Destination, Driver } from '../drivers/driver.js';
import { BrokerMeter } from '../lib/proc-stats.js';
import { countStoredBatches } from '../lib/stored-batches.js';
import type { StoredBatches } from '../lib/stored-batches.js';
import type { Progress } from '../lib/progress.js';
import { publishCallsInFlight } from '../lib/results.js';
import type { LatencyResult, ScalingResult, Settings, ThroughputResult, ThroughputWorkload } from '../lib/results.js';
import { formatCount, formatMicroseconds, medianLatencyRun, summarize } from '../lib/stats.js';
import type { LatencySummary } from '../lib/stats.js';
import { backlogPayloads } from './payloads.js';
import { consumeRound, latencyRun, manyPartitionsRound, publishRound, scalingRound, sleep } from './workloads.js';
import type { FlowSettings, Published, PublishPlan } from './workloads.js';

export interface DriverResults {
  readonly throughput: ThroughputResult[];
  readonly latency: LatencyResult[];
  readonly scaling: ScalingResult[];
  readonly problems: string[];
}

interface Round {
  readonly seconds: number;
  readonly messages: number;
  readonly cpuSeconds: number;
  readonly clientCpuSeconds: number;
  readonly peakRssBytes: number;
}

let destinationCounter = 0;

function newDestination(label: string, partitions: number): Destination {
  destinationCounter += 1;
  return { name: `bench-${process.pid}-${destinationCounter}-${label}`, partitions };
}

/** Workloads `--workloads` can choose; `publish` is the publish rounds and the consume rounds that read their backlog. */
export const workloadNames = ['publish', 'latency', 'many-partitions', 'scaling'] as const;
export type WorkloadName = (typeof workloadNames)[number];

/** `only`: run just these workloads (all the driver supports when undefined). The warm-up always runs. */
export async function runDriver(driver: Driver, broker: RunningBroker, settings: Settings, progress: Progress, only?: ReadonlySet<WorkloadName>): Promise<DriverResults> {
  const results: DriverResults = { throughput: [], latency: [], scaling: [], problems: [] };
  const runs = (workload: WorkloadName) => driver.workloads.has(workload) && (only === undefined || only.has(workload));
  const flow: FlowSettings = { batchMessages: settings.batchMessages, batchesInFlight: settings.batchesInFlight, stallTimeoutMs: 30_000 };
  // Publish and scaling rows: the wide window, the same for every driver, sized by bytes (Settings.publishWindowBytes).
  const publishFlowFor = (sizeBytes: number): FlowSettings => ({ ...flow, batchesInFlight: publishCallsInFlight(settings, sizeBytes) });
  const publishFlow = publishFlowFor(settings.messageSizesBytes[0] ?? 100);
  const storesBatchesReadably = broker.kind === 'osprey';
  const meter = new BrokerMeter(broker.pid);
  const measure = async (work: () => Promise<Published>): Promise<Round> => {
    meter.start();
    const published = await work();
    return { ...published, ...meter.finish() };
  };
  const planFor = (sizeBytes: number, seconds: number, maxMessages = settings.maxMessagesPerRound): PublishPlan => ({ batch: backlogPayloads(settings.batchMessages, sizeBytes), seconds, maxMessages });
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
    await driver.createDestination(destination);
    progress.begin(`${driver.id} warm-up`, settings.warmupMessages * 2);
    // A count, not a time: every driver warms up on the same messages (the stall guard bounds it).
    const { messages } = await publishRound(driver, destination, planFor(settings.messageSizesBytes[0] ?? 100, 3600, settings.warmupMessages), publishFlow, progress);
    if (driver.workloads.has('consume')) await consumeRound(driver, destination, messages, flow, progress);
    await driver.deleteDestination(destination);
    progress.end('done');
  });

  for (const sizeBytes of runs('publish') ? settings.messageSizesBytes : []) {
    const plan = planFor(sizeBytes, settings.roundSeconds);
    const publishRounds: Round[] = [];
    const consumeRounds: Round[] = [];
    for (let round = 1; round <= settings.rounds; round += 1) {
      await attempt(`publish/consume ${sizeBytes} B round ${round}`, async () => {
        const destination = newDestination(`s${sizeBytes}`, 1);
        await driver.createDestination(destination);
        progress.begin(`${driver.id} publish ${sizeBytes} B round ${round}/${settings.rounds}`, 0);
        const published = await measure(() => publishRound(driver, destination, plan, publishFlowFor(sizeBytes), progress));
        publishRounds.push(published);
        progress.end(`${formatCount(published.messages / published.seconds)} msg/s (${formatCount(published.messages)} in ${published.seconds.toFixed(1)} s)`);
        if (!driver.workloads.has('consume')) return;
        progress.begin(`${driver.id} consume ${sizeBytes} B round ${round}/${settings.rounds}`, published.messages);
        const consumed = await measure(async () => ({ seconds: await consumeRound(driver, destination, published.messages, flow, progress), messages: published.messages }));
        consumeRounds.push(consumed);
        progress.end(`${formatCount(consumed.messages / consumed.seconds)} msg/s`);
        await driver.deleteDestination(destination);
      });
    }
    addThroughput(results, driver, 'publish', sizeBytes, publishRounds);
    addThroughput(results, driver, 'consume', sizeBytes, consumeRounds);
  }

  if (runs('latency')) {
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

  if (runs('many-partitions')) {
    const sizeBytes = settings.messageSizesBytes[0] ?? 100;
    const plan = planFor(sizeBytes, settings.manySeconds);
    const rounds: Round[] = [];
    for (let round = 1; round <= settings.rounds; round += 1) {
      await attempt(`many-partitions round ${round}`, async () => {
        const destination = newDestination(`p${settings.manyPartitions}`, settings.manyPartitions);
        await driver.createDestination(destination);
        progress.begin(`${driver.id} ${settings.manyPartitions} partitions × ${settings.manyProducers}P/${settings.manyConsumers}C round ${round}/${settings.rounds}`, 0);
        const measured = await measure(() => manyPartitionsRound(driver, destination, plan, { producers: settings.manyProducers, consumers: settings.manyConsumers }, flow, progress));
        rounds.push(measured);
        progress.end(`${formatCount(measured.messages / measured.seconds)} msg/s end to end`);
        await driver.deleteDestination(destination);
      });
    }
    addThroughput(results, driver, 'many-partitions', sizeBytes, rounds);
  }

  if (runs('scaling')) {
    const sizeBytes = settings.messageSizesBytes[0] ?? 100;
    const plan = planFor(sizeBytes, settings.scalingSeconds);
    for (const point of scalingPoints(settings)) {
      const rounds: Array<Round & { stored: StoredBatches | undefined }> = [];
      const failures: string[] = [];
      for (let round = 1; round <= settings.scalingRounds; round += 1) {
        const label = `scaling ${point.partitions.toLocaleString('en-US')} partitions × ${point.producers} producers round ${round}/${settings.scalingRounds}`;
        const destination = newDestination(`sc${point.partitions}x${point.producers}`, point.partitions);
        progress.begin(`${driver.id} ${label}`, 0);
        try {
          // The cap covers creating the partitions, opening the producers, publishing and draining:
          // a point the broker cannot serve in time is abandoned and listed as such, not waited for.
          const measured = await withCap(settings.scalingCapSeconds, `over the ${settings.scalingCapSeconds} s cap per point`, async (signal) => {
            await driver.createDestination(destination);
            // An abandoned point's work may go on a little: it must not restart the next point's meter.
            const published = await scalingRound(driver, destination, plan, point.producers, publishFlow, progress, signal, () => {
              if (!signal.aborted) meter.start();
            });
            const metered = { ...published, ...meter.finish() };
            // Outside the meter: how full the produce requests were, from what the broker stored.
            return { ...metered, stored: storesBatchesReadably ? await countStoredBatches(broker.dataDir, destination.name, destination.partitions) : undefined };
          }, () => driver.deleteDestination(destination));
          rounds.push(measured);
          const perBatch = measured.stored === undefined || measured.stored.batches === 0 ? '' : `, ${(measured.stored.records / measured.stored.batches).toFixed(1)} records/batch stored`;
          progress.end(`${formatCount(measured.messages / measured.seconds)} msg/s, ${((measured.cpuSeconds / measured.messages) * 1e6).toFixed(1)} CPU s/M, RSS ${(measured.peakRssBytes / 1e6).toFixed(0)} MB${perBatch}`);
          // Outside the cap: the next point starts only once this topic is gone (the admin client's
          // own timeout, 5 minutes, bounds the wait).
          await driver.deleteDestination(destination);
        } catch (error) {
          const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
          failures.push(message);
          progress.end(`FAILED ${message}`);
          results.problems.push(`${driver.id} ${label}: ${message}`);
        }
      }
      const median = (values: number[]) => summarize(values).median;
      results.scaling.push({
        driver: driver.id,
        partitions: point.partitions,
        producers: point.producers,
        sizeBytes,
        figures: rounds.length === 0 ? null : {
          messages: median(rounds.map((round) => round.messages)),
          messagesPerSecond: summarize(rounds.map((round) => round.messages / round.seconds)),
          brokerCpuSecondsPerMillion: summarize(rounds.map((round) => (round.cpuSeconds / round.messages) * 1e6)),
          brokerPeakRssBytes: summarize(rounds.map((round) => round.peakRssBytes)),
          brokerCpuCores: summarize(rounds.map((round) => round.cpuSeconds / round.seconds)),
          clientCpuCores: summarize(rounds.map((round) => round.clientCpuSeconds / round.seconds)),
          ...(storesBatchesReadably ? { storedRecordsPerBatch: summarize(rounds.map((round) => (round.stored === undefined || round.stored.batches === 0 ? 0 : round.stored.records / round.stored.batches))) } : {}),
        },
        ...(failures.length > 0 ? { failure: failures[0] } : {}),
      });
    }
  }
  return results;
}

/** The scaling points: every partition count with one producer, then every producer count above one on one partition. */
export function scalingPoints(settings: Pick<Settings, 'scalingPartitions' | 'scalingProducers'>): Array<{ partitions: number; producers: number }> {
  return [
    ...settings.scalingPartitions.map((partitions) => ({ partitions, producers: 1 })),
    ...settings.scalingProducers.filter((producers) => producers !== 1).map((producers) => ({ partitions: 1, producers })),
  ];
}

/**
 * Runs `work`, rejecting with `why` after `seconds`: the signal then tells the work to stop sending
 * and opening, and `cleanUp` runs (its failure ignored, at most 10 s).
 */
async function withCap<T>(seconds: number, why: string, work: (signal: AbortSignal) => Promise<T>, cleanUp?: () => Promise<void>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(why));
    }, seconds * 1000);
  });
  try {
    return await Promise.race([work(abort.signal), cap]);
  } catch (error) {
    if (cleanUp !== undefined && error instanceof Error && error.message === why) await Promise.race([cleanUp().catch(() => undefined), sleep(10_000)]);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function addThroughput(results: DriverResults, driver: Driver, workload: ThroughputWorkload, sizeBytes: number, rounds: readonly Round[]): void {
  if (rounds.length === 0) return;
  results.throughput.push({
    driver: driver.id,
    workload,
    sizeBytes,
    messages: summarize(rounds.map((round) => round.messages)).median,
    messagesPerSecond: summarize(rounds.map((round) => round.messages / round.seconds)),
    megabytesPerSecond: summarize(rounds.map((round) => (round.messages * sizeBytes) / round.seconds / 1e6)),
    brokerCpuSecondsPerMillion: summarize(rounds.map((round) => (round.cpuSeconds / round.messages) * 1e6)),
    brokerPeakRssBytes: summarize(rounds.map((round) => round.peakRssBytes)),
    brokerCpuCores: summarize(rounds.map((round) => round.cpuSeconds / round.seconds)),
    clientCpuCores: summarize(rounds.map((round) => round.clientCpuSeconds / round.seconds)),
  });
}
