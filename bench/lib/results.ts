/**
 * The results document: bench/results/<date>-<host>.json. Every figure of a run and the exact
 * settings that produced it. `validateResultDocument` checks the shape (used by the writer before
 * it writes, and by test/unit/bench).
 *
 *   { schema, startedAt, finishedAt, mode, host{…}, settings{…}, machine{…}, brokers[…],
 *     throughput[…], latency[…], scaling[…], memory[…], micro[…], problems[…] }
 *
 * Schema 2 (2026-12): publish rounds last `roundSeconds` instead of a fixed message count, so
 * `messages` of a throughput entry is the median round's count; scaling and memory are new.
 */
import type { LatencySummary, Summary } from './stats.js';

export const resultSchemaName = 'osprey-bench/2';

export interface HostFacts {
  readonly hostname: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly nodeVersion: string;
  readonly dataFilesystem: string;
}

export interface Settings {
  readonly messageSizesBytes: readonly number[];
  /** A publish round sends for this long (then waits for its last acknowledgements). */
  readonly roundSeconds: number;
  /** …or until this many messages, whichever comes first (bounds the disk a round fills). */
  readonly maxMessagesPerRound: number;
  readonly rounds: number;
  readonly warmupMessages: number;
  /** Messages per send call, in every workload. */
  readonly batchMessages: number;
  /** Send calls outstanding in the many-partitions workload: half of it per producer. */
  readonly batchesInFlight: number;
  /**
   * The publish and scaling rows' window: send calls of `batchMessages` outstanding per producer
   * (scaling: shared among the point's producers), the same for every driver. Wide enough that a
   * scaling point of 1,000 partitions, each message to the next partition, still puts many records
   * per partition into each produce request (absent from results before 2026-12-05: 8 then).
   */
  readonly publishBatchesInFlight?: number;
  /**
   * From 2026-12-06: the publish rows' window in bytes instead, the same for every message size:
   * send calls of `batchMessages` outstanding = round(publishWindowBytes / (batchMessages × size)),
   * at least 1 (publishCallsInFlight). 64,000 messages of 100 B; 6,300 of 1 KiB, where 64,000
   * (64 MB queued in the client) cost our client 30 % of its 1 KiB rate.
   */
  readonly publishWindowBytes?: number;
  readonly latencyRatesPerSecond: readonly number[];
  readonly latencySeconds: number;
  readonly latencyRounds: number;
  readonly latencySizeBytes: number;
  readonly manyPartitions: number;
  readonly manyProducers: number;
  readonly manyConsumers: number;
  /** Producers of many-partitions send for this long; the round ends when everything sent has arrived. */
  readonly manySeconds: number;
  /** Partition counts of the scaling workload (one producer), the first being the baseline. */
  readonly scalingPartitions: readonly number[];
  /** Producer counts of the scaling workload (on one partition), the first being the baseline. */
  readonly scalingProducers: readonly number[];
  /** Each scaling point publishes for this long… */
  readonly scalingSeconds: number;
  readonly scalingRounds: number;
  /** …and is abandoned (reported as over the cap) when creating, publishing and draining take longer. */
  readonly scalingCapSeconds: number;
  /** The memory workload: partitions and idle connections per scenario, and how long it publishes. */
  readonly memoryScenarios: readonly MemoryScenario[];
  readonly memorySeconds: number;
}

export interface MemoryScenario {
  readonly partitions: number;
  /** Idle Kafka connections held open (each did ApiVersions and Metadata) while the load runs. */
  readonly connections: number;
  /** The goal for the broker's peak RSS in this scenario, bytes. */
  readonly goalBytes: number;
}

/** The figures of a scaling point whose rounds ran. */
export interface ScalingFigures {
  /** Median round's count of acknowledged messages. */
  readonly messages: number;
  readonly messagesPerSecond: Summary;
  readonly brokerCpuSecondsPerMillion: Summary;
  readonly brokerPeakRssBytes: Summary;
  readonly brokerCpuCores: Summary;
  readonly clientCpuCores: Summary;
  /** Osprey only: records per record batch the broker stored for the point's topic (records per partition per produce request), per round. */
  readonly storedRecordsPerBatch?: Summary;
}

/**
 * One point of the scaling workload: one driver, P partitions, K producers, publish only.
 * `figures` is null when no round of the point finished; `failure` then says why (over the time
 * cap per point, an error).
 */
export interface ScalingResult {
  readonly driver: string;
  readonly partitions: number;
  readonly producers: number;
  readonly sizeBytes: number;
  readonly figures: ScalingFigures | null;
  readonly failure?: string;
}

/** Broker peak RSS in one memory scenario (a fresh broker). */
export interface MemoryResult {
  readonly partitions: number;
  readonly connections: number;
  /** Connections that did open (ApiVersions + Metadata answered). */
  readonly connectionsOpened: number;
  /** Messages acknowledged while the scenario's load ran, and for how long it ran. */
  readonly messages: number;
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly goalBytes: number;
  /** What limited the scenario, if anything (open-files limit raised, connections refused…). */
  readonly notes: readonly string[];
}

/** One machine limit; `settings` says exactly what was measured. */
export interface MachineLimit {
  readonly name: string;
  readonly megabytesPerSecond: number | null;
  readonly tool: string;
  readonly settings: string;
  readonly note?: string;
}

export interface MachineLimits {
  readonly diskGroupCommit: MachineLimit;
  readonly diskLargeWrites: MachineLimit;
  readonly loopbackTcp: MachineLimit;
  readonly memoryCopy: MachineLimit;
}

/** One driver: a broker with a durability setting, driven by one client. */
export interface BrokerEntry {
  readonly driver: string;
  readonly broker: string;
  readonly brokerVersion: string;
  readonly client: string;
  readonly clientVersion: string;
  readonly durability: string;
  readonly fsyncPolicy: string;
  /** The broker's command line and configuration in this run. */
  readonly launch?: string;
  /** Why it did not run, when it did not. */
  readonly skipped?: string;
}

export type ThroughputWorkload = 'publish' | 'consume' | 'many-partitions';

/** One workload × driver × message size: per-round figures and their summaries. */
export interface ThroughputResult {
  readonly driver: string;
  readonly workload: ThroughputWorkload;
  readonly sizeBytes: number;
  readonly messages: number;
  readonly messagesPerSecond: Summary;
  readonly megabytesPerSecond: Summary;
  /** Broker process tree CPU seconds per million messages (user + system). */
  readonly brokerCpuSecondsPerMillion: Summary;
  /** Highest VmHWM of the broker's processes during a round, bytes. */
  readonly brokerPeakRssBytes: Summary;
  /** Broker CPU seconds per wall-clock second: 1.0 = one core busy the whole round. */
  readonly brokerCpuCores: Summary;
  /** The same for the client side: the benchmark process (Node clients) and its kcat children. */
  readonly clientCpuCores: Summary;
}

export interface LatencyResult {
  readonly driver: string;
  readonly sizeBytes: number;
  readonly targetRatePerSecond: number;
  readonly achievedRatePerSecond: number;
  readonly seconds: number;
  /** The round with the median p99; every round is in `runs`. */
  readonly median: LatencySummary;
  readonly runs: readonly LatencySummary[];
  /** False when the producer fell more than 5 % short of the target rate. */
  readonly sustained: boolean;
}

export interface MicroResult {
  readonly name: string;
  readonly operationsPerSecond: Summary;
  readonly megabytesPerSecond: Summary | null;
  readonly note: string;
  /**
   * Set when one operation is one durability cycle (a write and one fdatasync) of this many bytes,
   * so the report can hold its cost against fio's 64 KiB write + fdatasync of the same run.
   */
  readonly cycleBytes?: number;
}

/** An Osprey figure as a share of a machine limit (publish vs disk, consume vs loopback and memory). */
export interface LimitFraction {
  readonly driver: string;
  readonly workload: ThroughputWorkload;
  readonly sizeBytes: number;
  readonly megabytesPerSecond: number;
  readonly limit: keyof MachineLimits;
  readonly fraction: number;
}

export interface ResultDocument {
  readonly schema: typeof resultSchemaName;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly mode: 'quick' | 'full';
  readonly host: HostFacts;
  readonly settings: Settings;
  readonly machine: MachineLimits | null;
  readonly brokers: readonly BrokerEntry[];
  readonly throughput: readonly ThroughputResult[];
  readonly latency: readonly LatencyResult[];
  readonly scaling: readonly ScalingResult[];
  readonly memory: readonly MemoryResult[];
  readonly micro: readonly MicroResult[];
  readonly limitFractions: readonly LimitFraction[];
  /** Things that went wrong but did not stop the run (a driver that failed, a tool missing). */
  readonly problems: readonly string[];
}

/** Problems with the document's shape; empty when it is well formed. */
export function validateResultDocument(value: unknown): string[] {
  const problems: string[] = [];
  const expect = (condition: boolean, what: string) => {
    if (!condition) problems.push(what);
  };
  if (!isObject(value)) return ['document is not an object'];
  expect(value['schema'] === resultSchemaName, `schema is ${resultSchemaName}`);
  expect(typeof value['startedAt'] === 'string' && !Number.isNaN(Date.parse(value['startedAt'])), 'startedAt is a date');
  expect(typeof value['finishedAt'] === 'string' && !Number.isNaN(Date.parse(value['finishedAt'])), 'finishedAt is a date');
  expect(value['mode'] === 'quick' || value['mode'] === 'full', 'mode is quick or full');
  const host = value['host'];
  expect(isObject(host) && typeof host['cpuModel'] === 'string' && isPositive(host['cpuCount']) && typeof host['hostname'] === 'string', 'host has hostname, cpuModel, cpuCount');
  const settings = value['settings'];
  expect(isObject(settings) && Array.isArray(settings['messageSizesBytes']) && isPositive(settings['roundSeconds']) && isPositive(settings['rounds']), 'settings has messageSizesBytes, roundSeconds, rounds');
  expect(value['machine'] === null || isObject(value['machine']), 'machine is an object or null');
  const brokers = value['brokers'];
  expect(Array.isArray(brokers) && brokers.every((entry) => isObject(entry) && typeof entry['driver'] === 'string' && typeof entry['durability'] === 'string' && typeof entry['brokerVersion'] === 'string'), 'brokers are entries with driver, durability, brokerVersion');
  const drivers = new Set(Array.isArray(brokers) ? brokers.filter(isObject).map((entry) => entry['driver']) : []);
  const throughput = value['throughput'];
  expect(Array.isArray(throughput), 'throughput is a list');
  if (Array.isArray(throughput)) {
    throughput.forEach((entry, index) => {
      const where = `throughput[${index}]`;
      if (!isObject(entry)) return problems.push(`${where} is an object`);
      expect(drivers.has(entry['driver']), `${where}.driver is listed in brokers`);
      expect(['publish', 'consume', 'many-partitions'].includes(String(entry['workload'])), `${where}.workload is known`);
      expect(isPositive(entry['sizeBytes']) && isPositive(entry['messages']), `${where} has sizeBytes and messages`);
      for (const name of ['messagesPerSecond', 'megabytesPerSecond', 'brokerCpuSecondsPerMillion', 'brokerPeakRssBytes', 'brokerCpuCores', 'clientCpuCores']) {
        expect(isSummary(entry[name]), `${where}.${name} is a summary (median ≤ … within min–max)`);
      }
      return undefined;
    });
  }
  const latency = value['latency'];
  expect(Array.isArray(latency), 'latency is a list');
  if (Array.isArray(latency)) {
    latency.forEach((entry, index) => {
      const where = `latency[${index}]`;
      if (!isObject(entry)) return problems.push(`${where} is an object`);
      expect(drivers.has(entry['driver']), `${where}.driver is listed in brokers`);
      expect(isPositive(entry['targetRatePerSecond']), `${where}.targetRatePerSecond is positive`);
      expect(isLatency(entry['median']), `${where}.median has ordered percentiles`);
      expect(Array.isArray(entry['runs']) && entry['runs'].every(isLatency), `${where}.runs are latency summaries`);
      return undefined;
    });
  }
  const scaling = value['scaling'];
  expect(Array.isArray(scaling), 'scaling is a list');
  if (Array.isArray(scaling)) {
    scaling.forEach((entry, index) => {
      const where = `scaling[${index}]`;
      if (!isObject(entry)) return problems.push(`${where} is an object`);
      expect(drivers.has(entry['driver']), `${where}.driver is listed in brokers`);
      expect(isPositive(entry['partitions']) && isPositive(entry['producers']), `${where} has partitions and producers`);
      const figures = entry['figures'];
      if (figures === null) return expect(typeof entry['failure'] === 'string', `${where} without figures says why (failure)`);
      if (!isObject(figures)) return problems.push(`${where}.figures is an object or null`);
      for (const name of ['messagesPerSecond', 'brokerCpuSecondsPerMillion', 'brokerPeakRssBytes', 'brokerCpuCores', 'clientCpuCores']) expect(isSummary(figures[name]), `${where}.figures.${name} is a summary (median ≤ … within min–max)`);
      return undefined;
    });
  }
  const memory = value['memory'];
  expect(Array.isArray(memory) && memory.every((entry) => isObject(entry) && isPositive(entry['partitions']) && typeof entry['peakRssBytes'] === 'number' && isPositive(entry['goalBytes'])), 'memory is a list of entries with partitions, peakRssBytes, goalBytes');
  expect(Array.isArray(value['micro']), 'micro is a list');
  expect(Array.isArray(value['limitFractions']), 'limitFractions is a list');
  expect(Array.isArray(value['problems']) && value['problems'].every((entry) => typeof entry === 'string'), 'problems is a list of strings');
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositive(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function isSummary(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { median, min, max, rounds } = value;
  return typeof median === 'number' && typeof min === 'number' && typeof max === 'number' && min <= median && median <= max && Array.isArray(rounds) && rounds.length > 0;
}

function isLatency(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { p50Us, p99Us, p999Us, maxUs } = value;
  return typeof p50Us === 'number' && typeof p99Us === 'number' && typeof p999Us === 'number' && typeof maxUs === 'number' && p50Us <= p99Us && p99Us <= p999Us && p999Us <= maxUs;
}

/** Send calls of `batchMessages` each that a producer keeps outstanding when publishing messages of `sizeBytes` (Settings.publishWindowBytes). */
export function publishCallsInFlight(settings: Settings, sizeBytes: number): number {
  if (settings.publishWindowBytes !== undefined) return Math.max(1, Math.round(settings.publishWindowBytes / (settings.batchMessages * sizeBytes)));
  return settings.publishBatchesInFlight ?? settings.batchesInFlight;
}
