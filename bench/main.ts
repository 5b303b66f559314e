/**
 * `npm run bench [-- --quick] [-- --only osprey,redis] [--skip-machine] [--skip-micro] [--skip-scaling]
 *  [--skip-memory] [--keep-data] [--data-dir DIR]`
 *
 * Installs what is missing (Debian packages), measures the machine's limits, runs the Osprey
 * micro-benchmarks, then starts each broker in turn on loopback over its own temporary directory
 * under one data directory (one disk), runs every workload through each of its drivers, stops it,
 * runs the memory scenarios on fresh Osprey brokers, and writes
 * bench/results/<date>-<host>.{json,svg,md}. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningBroker } from './brokers/broker.js';
import { startNats, UnsupportedSettingError, natsFsyncPolicy } from './brokers/nats.js';
import { ospreyVersion, startOsprey } from './brokers/osprey.js';
import { clusterBrokerCount, startOspreyCluster } from './brokers/osprey-cluster.js';
import { rabbitmqVersion, startRabbitmq } from './brokers/rabbitmq.js';
import { redisVersion, startRedis } from './brokers/redis.js';
import { amqplibDriver } from './drivers/amqplib.js';
import type { Driver } from './drivers/driver.js';
import { packageVersion } from './drivers/driver.js';
import { ioredisDriver } from './drivers/ioredis.js';
import { kafkajsDriver } from './drivers/kafkajs.js';
import { ospreyClientDriver } from './drivers/osprey-client.js';
import { kcatDriver, kcatVersion } from './drivers/kcat.js';
import { librdkafkaDriver, librdkafkaVersion } from './drivers/librdkafka.js';
import { natsDriver } from './drivers/nats.js';
import { ensureTools, tools } from './lib/install.js';
import { findOrFetchNatsServer, systemNatsServer } from './lib/nats-server.js';
import type { NatsServerBinary } from './lib/nats-server.js';
import { cpuModel, measureMachine } from './lib/machine.js';
import { installExitHandlers, setKeepData, stopEverything } from './lib/processes.js';
import { Progress } from './lib/progress.js';
import { limitFractions, renderChart, renderMarkdown, renderText } from './lib/report.js';
import { resultSchemaName, validateResultDocument } from './lib/results.js';
import type { BrokerEntry, LatencyResult, MachineLimits, MemoryResult, MicroResult, ResultDocument, ScalingResult, Settings, ThroughputResult } from './lib/results.js';
import { runMicroBenchmarks } from './micro.js';
import { runMemoryScenario } from './workloads/memory.js';
import { runDriver, workloadNames } from './workloads/runner.js';
import type { WorkloadName } from './workloads/runner.js';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Options {
  readonly quick: boolean;
  readonly only: readonly string[];
  readonly skipMachine: boolean;
  readonly skipMicro: boolean;
  readonly skipInstall: boolean;
  readonly skipScaling: boolean;
  readonly skipMemory: boolean;
  /** --workloads: only these of every driver's workloads (all when undefined). */
  readonly workloads: ReadonlySet<WorkloadName> | undefined;
  /** --publish-in-flight: send calls outstanding in the publish and scaling rows, instead of publishBatchesInFlight. */
  readonly publishInFlight: number | undefined;
  readonly keepData: boolean;
  readonly dataDir: string;
  readonly resultsDir: string;
}

function parseOptions(argv: readonly string[]): Options {
  const valueOf = (flag: string) => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const known = new Set(['--quick', '--only', '--skip-machine', '--skip-micro', '--skip-install', '--skip-scaling', '--skip-memory', '--workloads', '--publish-in-flight', '--keep-data', '--data-dir', '--results-dir', '--help']);
  for (const [index, argument] of argv.entries()) {
    if (argument.startsWith('--') && !known.has(argument)) throw new Error(`unknown option ${argument} (try --help)`);
    if (!argument.startsWith('--') && !['--only', '--workloads', '--publish-in-flight', '--data-dir', '--results-dir'].includes(argv[index - 1] ?? '')) throw new Error(`unexpected argument ${argument}`);
  }
  if (argv.includes('--help')) {
    process.stdout.write(`usage: npm run bench [-- options]
  --quick            the same rows, shorter: 3 s rounds × 3, latency at 1k and 10k msg/s, scaling to 1,000 partitions
  --only a,b         only drivers whose id starts with one of these (osprey, osprey-kcat, osprey-amqp, rabbitmq-quorum, nats, redis…)
  --skip-machine     do not measure disk / loopback / memory limits
  --skip-micro       do not run the Osprey micro-benchmarks
  --skip-install     do not apt-get missing tools nor fetch nats-server (a cached one is still used)
  --skip-scaling     do not run the partition/producer scaling points
  --skip-memory      do not run the memory scenarios (fresh brokers with 1,000 and 10,000 partitions)
  --publish-in-flight N  send calls of 100 outstanding per producer in the publish and scaling rows, whatever the size (default: a window of ${publishWindowBytes / 1e6} MB, ${publishBatchesInFlight} calls at 100 B; 8 calls before 2026-12-05), to compare windows
  --workloads a,b    only these workloads of each driver: ${workloadNames.join(', ')} (publish includes the consume rounds)
  --keep-data        keep the brokers' temporary data directories
  --data-dir DIR     parent of the brokers' data directories (default .build/bench-data, on the checkout's disk)
  --results-dir DIR  where the json/svg/md go (default bench/results)
`);
    process.exit(0);
  }
  return {
    quick: argv.includes('--quick'),
    only: (valueOf('--only') ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''),
    skipMachine: argv.includes('--skip-machine'),
    skipMicro: argv.includes('--skip-micro'),
    skipInstall: argv.includes('--skip-install'),
    skipScaling: argv.includes('--skip-scaling'),
    skipMemory: argv.includes('--skip-memory'),
    workloads: parseWorkloads(valueOf('--workloads')),
    publishInFlight: parsePositive(valueOf('--publish-in-flight'), '--publish-in-flight'),
    keepData: argv.includes('--keep-data'),
    dataDir: valueOf('--data-dir') ?? join(repositoryRoot, '.build', 'bench-data'),
    resultsDir: valueOf('--results-dir') ?? join(repositoryRoot, 'bench', 'results'),
  };
}

function parsePositive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${flag} takes a whole number of at least 1, not ${text}`);
  return value;
}

function parseWorkloads(list: string | undefined): ReadonlySet<WorkloadName> | undefined {
  if (list === undefined) return undefined;
  const chosen = list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  for (const name of chosen) if (!(workloadNames as readonly string[]).includes(name)) throw new Error(`unknown workload ${name} (${workloadNames.join(', ')})`);
  return new Set(chosen as WorkloadName[]);
}

/**
 * Quick and full runs measure the same things in the same way — publish rounds of a few seconds,
 * the 10k msg/s latency rate, 1 KiB latency messages, the scaling points up to 1,000 partitions,
 * both memory scenarios — and differ in how long and how often: shorter and fewer rounds, no 50k
 * msg/s latency rate, no 10,000-partition or 100-producer scaling point.
 */
/**
 * The publish and scaling rows' window, in send calls of 100 outstanding per producer: 64,000
 * messages. With 8 × 100, a scaling point of 1,000 partitions (each message to the next partition)
 * had one record per partition in each produce request and measured the client's window rather
 * than the broker; with 64,000 each request carries tens of records per partition. It stays under
 * librdkafka's default queue of 100,000 messages (queue.buffering.max.messages).
 */
const publishBatchesInFlight = 640;
/**
 * The same window in bytes for every message size (Settings.publishWindowBytes): 640 calls at 100 B,
 * 63 at 1 KiB. Measured side by side on a quiet machine (1 KiB, quick rounds): our client 146–147k
 * msg/s with 64,000 in flight (64 MB queued in the client), 204–207k with 6,300, 196–199k with 800;
 * kcat 243–284k, 263–300k, 215–221k.
 */
const publishWindowBytes = publishBatchesInFlight * 100 * 100;

function settingsFor(quick: boolean): Settings {
  const common = {
    messageSizesBytes: [100, 1024], warmupMessages: 50_000, batchMessages: 100, batchesInFlight: 8, publishBatchesInFlight, publishWindowBytes,
    latencySizeBytes: 1024, manyPartitions: 64, manyProducers: 4, manyConsumers: 4,
    memoryScenarios: [{ partitions: 1000, connections: 0, goalBytes: 250e6 }, { partitions: 10_000, connections: 10_000, goalBytes: 1e9 }],
  };
  return quick
    ? { ...common, roundSeconds: 3, maxMessagesPerRound: 5_000_000, rounds: 3, latencyRatesPerSecond: [1_000, 10_000], latencySeconds: 5, latencyRounds: 1, manySeconds: 3, scalingPartitions: [1, 64, 1000], scalingProducers: [1, 10], scalingSeconds: 3, scalingRounds: 1, scalingCapSeconds: 60, memorySeconds: 3 }
    : { ...common, roundSeconds: 10, maxMessagesPerRound: 20_000_000, rounds: 5, latencyRatesPerSecond: [1_000, 10_000, 50_000], latencySeconds: 15, latencyRounds: 3, manySeconds: 10, scalingPartitions: [1, 64, 1000, 10_000], scalingProducers: [1, 10, 100], scalingSeconds: 5, scalingRounds: 3, scalingCapSeconds: 120, memorySeconds: 10 };
}

/** --publish-in-flight N: N send calls outstanding whatever the message size (no window in bytes). */
function withFixedWindow(settings: Settings, callsInFlight: number): Settings {
  const { publishWindowBytes: _bytes, ...rest } = settings;
  return { ...rest, publishBatchesInFlight: callsInFlight };
}

/** A broker to start and the drivers to run against it. */
interface Plan {
  readonly title: string;
  readonly needs: readonly string[];
  readonly start: () => Promise<RunningBroker>;
  /** `needs`: tools (see lib/install.ts) without which this driver is listed under Not run. */
  readonly drivers: ReadonlyArray<{ readonly id: string; readonly client: string; readonly clientVersion: () => string; readonly make: (broker: RunningBroker) => Promise<Driver>; readonly needs?: readonly string[] }>;
  readonly brokerVersion: () => string;
  readonly fsyncPolicy: string;
}

/** nats: the one nats-server binary both NATS plans run (null before it is known, or when there is none). */
function plans(dataParent: string, nats: NatsServerBinary | null): Plan[] {
  const options = { dataParent };
  const startNatsWith = (sync: 'always' | null) => (nats === null ? Promise.reject(new Error('no nats-server')) : startNats(options, sync, nats));
  const natsVersion = () => nats?.version ?? 'missing';
  return [
    {
      title: 'Osprey', needs: ['kcat', 'gcc', 'rdkafka.h'], start: () => startOsprey(options), brokerVersion: ospreyVersion, fsyncPolicy: 'flush=always (group-commit fdatasync before acks=all)',
      drivers: [
        { id: 'osprey-kafkajs', client: 'kafkajs', clientVersion: () => packageVersion('kafkajs'), make: kafkajsDriver },
        { id: 'osprey-own-client', client: 'own client', clientVersion: () => '-', make: ospreyClientDriver },
        { id: 'osprey-kcat', client: 'kcat', clientVersion: kcatVersion, make: kcatDriver, needs: ['kcat'] },
        { id: 'osprey-librdkafka', client: 'librdkafka (C producer, consumer)', clientVersion: librdkafkaVersion, make: (broker) => librdkafkaDriver(broker, join(repositoryRoot, '.build', 'bench-tools')), needs: ['gcc', 'rdkafka.h'] },
      ],
    },
    {
      // Issue 15's row: the same own-client workloads on three brokers, every topic replicated three times.
      title: 'Osprey cluster (3 brokers, replication factor 3)', needs: ['etcd'], start: () => startOspreyCluster(options), brokerVersion: ospreyVersion, fsyncPolicy: 'flush=always on every broker; acks=all once every in-sync replica holds the batch',
      drivers: [
        { id: 'osprey-cluster-own-client', client: 'own client', clientVersion: () => '-', make: (broker: RunningBroker) => ospreyClientDriver(broker, { id: 'osprey-cluster-own-client', label: 'Osprey 3 brokers RF 3', replicationFactor: clusterBrokerCount, workloads: new Set(['publish', 'consume', 'latency']) }) },
        // Durable AMQP queues on the same cluster: each a replicated topic of its own (docs/cluster.md, "AMQP queues").
        { id: 'osprey-cluster-amqp', client: 'amqplib', clientVersion: () => packageVersion('amqplib'), make: (broker: RunningBroker) => amqplibDriver(broker, { kind: 'osprey-cluster' }) },
        // The same queues used through brokers that do not serve them: publishes forwarded, consumers fed over queue links.
        { id: 'osprey-cluster-amqp-any', client: 'amqplib', clientVersion: () => packageVersion('amqplib'), make: (broker: RunningBroker) => amqplibDriver(broker, { kind: 'osprey-cluster-any' }) },
      ],
    },
    {
      title: 'RabbitMQ', needs: ['rabbitmq-server'], start: () => startRabbitmq(options), brokerVersion: rabbitmqVersion, fsyncPolicy: 'persistent messages + publisher confirms',
      drivers: (['classic', 'quorum', 'stream'] as const).map((queueType) => ({ id: `rabbitmq-${queueType}`, client: 'amqplib', clientVersion: () => packageVersion('amqplib'), make: (broker: RunningBroker) => amqplibDriver(broker, { kind: 'rabbitmq', queueType }) })),
    },
    {
      // The same amqplib workloads as the RabbitMQ rows, against Osprey's AMQP 0-9-1 listener.
      title: 'Osprey (AMQP)', needs: [], start: () => startOsprey(options, 'amqp'), brokerVersion: ospreyVersion, fsyncPolicy: 'flush=always (group-commit fdatasync before a persistent message is confirmed)',
      drivers: [{ id: 'osprey-amqp', client: 'amqplib', clientVersion: () => packageVersion('amqplib'), make: (broker: RunningBroker) => amqplibDriver(broker, { kind: 'osprey' }) }],
    },
    {
      title: 'NATS JetStream (default sync)', needs: ['nats-server'], start: () => startNatsWith(null), brokerVersion: natsVersion, fsyncPolicy: natsFsyncPolicy(null, nats?.version ?? null),
      drivers: [{ id: 'nats-jetstream', client: 'nats.js', clientVersion: () => packageVersion('nats'), make: (broker) => natsDriver(broker, false) }],
    },
    {
      title: 'NATS JetStream (sync_interval: always)', needs: ['nats-server'], start: () => startNatsWith('always'), brokerVersion: natsVersion, fsyncPolicy: natsFsyncPolicy('always', nats?.version ?? null),
      drivers: [{ id: 'nats-jetstream-sync-always', client: 'nats.js', clientVersion: () => packageVersion('nats'), make: (broker) => natsDriver(broker, true) }],
    },
    ...(['always', 'everysec'] as const).map((appendFsync): Plan => ({
      title: `Redis (appendfsync ${appendFsync})`, needs: ['redis-server'], start: () => startRedis(options, appendFsync), brokerVersion: redisVersion, fsyncPolicy: `appendonly yes, appendfsync ${appendFsync}`,
      drivers: [{ id: `redis-${appendFsync}`, client: 'ioredis', clientVersion: () => packageVersion('ioredis'), make: (broker) => ioredisDriver(broker, appendFsync) }],
    })),
  ];
}

function fileSystemOf(directory: string): string {
  try {
    const line = execFileSync('df', ['-T', directory], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
    const [device, type] = line.split(/\s+/);
    return `${type ?? '?'} (${device ?? '?'})`;
  } catch {
    return 'unknown';
  }
}

function timestampForFile(date: Date): string {
  return date.toISOString().slice(0, 16).replace('T', '-').replace(':', '');
}

class UsageError extends Error {}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  installExitHandlers();
  setKeepData(options.keepData);
  const startedAt = new Date();
  const chosen = options.publishInFlight === undefined ? settingsFor(options.quick) : withFixedWindow(settingsFor(options.quick), options.publishInFlight);
  const settings = options.skipScaling ? { ...chosen, scalingPartitions: [], scalingProducers: [] } : chosen;
  const progress = new Progress();
  const log = (line: string) => progress.note(line);
  const problems: string[] = [];
  mkdirSync(options.dataDir, { recursive: true });
  mkdirSync(options.resultsDir, { recursive: true });
  const dataFilesystem = fileSystemOf(options.dataDir);
  if (/tmpfs|ramfs|overlay/.test(dataFilesystem)) problems.push(`data directory ${options.dataDir} is on ${dataFilesystem}: fsync figures may not reflect a disk`);

  log(`Osprey benchmark (${options.quick ? 'quick' : 'full'}), data under ${options.dataDir} on ${dataFilesystem}`);
  const select = (all: Plan[]) =>
    all
      .map((plan) => ({ ...plan, drivers: plan.drivers.filter((driver) => options.only.length === 0 || options.only.some((prefix) => driver.id.startsWith(prefix))) }))
      .filter((plan) => plan.drivers.length > 0);
  const neededCommands = new Set(select(plans(options.dataDir, null)).flatMap((plan) => plan.needs));
  // nats-server: one binary for both NATS plans, 2.10+ (sync_interval) when it can be had — on PATH,
  // cached under .build/bench-tools/, or fetched from Debian trixie — else whatever apt gives (2.9).
  let nats: NatsServerBinary | null = null;
  let natsReason = '';
  if (neededCommands.has('nats-server')) ({ binary: nats, reason: natsReason } = await findOrFetchNatsServer(join(repositoryRoot, '.build', 'bench-tools'), !options.skipInstall, log));
  const wantedTools = tools.filter((tool) => (neededCommands.has(tool.command) && !(tool.command === 'nats-server' && nats !== null)) || (!options.skipMachine && (tool.command === 'fio' || tool.command === 'iperf3')));
  if (!options.skipInstall) problems.push(...(await ensureTools(wantedTools, log)));
  if (neededCommands.has('nats-server') && nats === null) {
    nats = systemNatsServer(natsReason);
    if (nats !== null) log(`using nats-server ${nats.version} (${nats.source}): ${natsReason}`);
  }
  if (nats !== null) log(`nats-server for both NATS rows: ${nats.version} at ${nats.path}`);
  else if (neededCommands.has('nats-server') && !problems.some((problem) => problem.startsWith('nats-server is missing'))) problems.push(`nats-server is missing: ${natsReason}`);
  const selectedPlans = select(plans(options.dataDir, nats));

  let machine: MachineLimits | null = null;
  if (!options.skipMachine) {
    log('Machine limits (fio, iperf3, memory copy)…');
    try {
      machine = await measureMachine(options.dataDir, settings.roundSeconds);
      for (const limit of Object.values(machine)) log(`  ${limit.name}: ${limit.megabytesPerSecond === null ? limit.note : `${limit.megabytesPerSecond.toFixed(0)} MB/s`}`);
    } catch (error) {
      problems.push(`machine limits: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }

  let micro: MicroResult[] = [];
  if (!options.skipMicro) {
    log('Osprey micro-benchmarks…');
    micro = await runMicroBenchmarks(options.dataDir, options.quick, log);
  }

  const brokers: BrokerEntry[] = [];
  const throughput: ThroughputResult[] = [];
  const latency: LatencyResult[] = [];
  const scaling: ScalingResult[] = [];
  const memory: MemoryResult[] = [];
  const base = join(options.resultsDir, `${timestampForFile(startedAt)}-${hostname()}`);
  /** The result files as they stand; written after each broker too, so a run cut short keeps what it measured. */
  const writeResults = (incompleteAfter: string | null) => {
    const documentProblems = incompleteAfter === null ? problems : [...problems, `incomplete: the run had measured up to ${incompleteAfter} when these files were written (the final write replaces them)`];
    const document: ResultDocument = {
      schema: resultSchemaName,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: options.quick ? 'quick' : 'full',
      host: { hostname: hostname(), cpuModel: cpuModel(), cpuCount: cpus().length, memoryBytes: totalmem(), kernel: release(), nodeVersion: process.versions.node, dataFilesystem },
      settings,
      machine,
      brokers,
      throughput,
      latency,
      scaling,
      memory,
      micro,
      limitFractions: limitFractions(throughput, machine),
      problems: documentProblems,
    };
    const shapeProblems = validateResultDocument(JSON.parse(JSON.stringify(document)));
    if (shapeProblems.length > 0) documentProblems.push(...shapeProblems.map((problem) => `result document: ${problem}`));
    writeAtomically(`${base}.json`, `${JSON.stringify(document, null, 2)}\n`);
    writeAtomically(`${base}.svg`, renderChart(document));
    writeAtomically(`${base}.md`, renderMarkdown(document));
    return document;
  };
  for (const plan of selectedPlans) {
    const skip = (why: string) => {
      for (const driver of plan.drivers) brokers.push({ driver: driver.id, broker: plan.title, brokerVersion: plan.brokerVersion(), client: driver.client, clientVersion: driver.clientVersion(), durability: plan.fsyncPolicy, fsyncPolicy: plan.fsyncPolicy, skipped: why });
      log(`${plan.title}: not run: ${why}`);
    };
    const missing = plan.needs.filter((command) => problems.some((problem) => problem.startsWith(`${command} is missing`)));
    if (missing.length > 0 && plan.title !== 'Osprey') {
      skip(`${missing.join(', ')} missing`);
      continue;
    }
    log(`${plan.title}: starting…`);
    let broker: RunningBroker;
    try {
      broker = await plan.start();
    } catch (error) {
      const why = error instanceof UnsupportedSettingError ? error.message : `did not start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
      skip(why);
      if (!(error instanceof UnsupportedSettingError)) problems.push(`${plan.title} ${why}`);
      continue;
    }
    try {
      log(`${plan.title} ${broker.version} up (pid ${broker.pid}, port ${broker.port})`);
      for (const planned of plan.drivers) {
        const driverMissing = (planned.needs ?? []).filter((command) => missing.includes(command));
        if (driverMissing.length > 0) {
          brokers.push({ driver: planned.id, broker: broker.kind, brokerVersion: broker.version, client: planned.client, clientVersion: 'missing', durability: plan.fsyncPolicy, fsyncPolicy: broker.fsyncPolicy, skipped: `${driverMissing.join(', ')} missing` });
          continue;
        }
        let driver: Driver;
        try {
          driver = await planned.make(broker);
        } catch (error) {
          const why = `driver did not connect: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
          brokers.push({ driver: planned.id, broker: broker.kind, brokerVersion: broker.version, client: planned.client, clientVersion: planned.clientVersion(), durability: plan.fsyncPolicy, fsyncPolicy: broker.fsyncPolicy, skipped: why });
          problems.push(`${planned.id}: ${why}`);
          continue;
        }
        brokers.push({ driver: driver.id, broker: broker.kind, brokerVersion: broker.version, client: driver.client, clientVersion: driver.clientVersion, durability: driver.durability, fsyncPolicy: broker.fsyncPolicy, launch: broker.launch });
        log(`${driver.id} (${driver.client} ${driver.clientVersion}; ${driver.durability})`);
        try {
          const results = await runDriver(driver, broker, settings, progress, options.workloads);
          throughput.push(...results.throughput);
          latency.push(...results.latency);
          scaling.push(...results.scaling);
          problems.push(...results.problems);
        } finally {
          await driver.close().catch(() => undefined);
        }
        // The harness's own heap after each driver: what the in-process clients left behind is
        // garbage the next driver's latency rounds pay for in GC pauses (and, past 4 GB, the run).
        const { heapUsed, rss } = process.memoryUsage();
        log(`  harness after ${driver.id}: heap ${(heapUsed / 1e6).toFixed(0)} MB, RSS ${(rss / 1e6).toFixed(0)} MB`);
      }
    } finally {
      log(`${plan.title}: stopping`);
      await broker.stop();
    }
    writeResults(plan.title);
  }

  // Memory: fresh Osprey brokers (nothing earlier runs left in their heaps), loaded through the own client.
  if (!options.skipMemory && selectedPlans.some((plan) => plan.drivers.some((driver) => driver.id === 'osprey-own-client'))) {
    for (const scenario of settings.memoryScenarios) {
      log(`Osprey memory: ${scenario.partitions} partitions, ${scenario.connections} idle connections, fresh broker…`);
      try {
        memory.push(await runMemoryScenario((flags) => startOsprey({ dataParent: options.dataDir }, 'kafka', flags), scenario, settings.memorySeconds, progress));
      } catch (error) {
        const message = `memory ${scenario.partitions} partitions / ${scenario.connections} connections: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
        progress.end(`FAILED ${message}`);
        problems.push(message);
      }
    }
  }

  const document = writeResults(null);
  process.stdout.write(`\n${renderText(document)}\n\n`);
  if (problems.length > 0) process.stdout.write(`Problems:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n\n`);
  process.stdout.write(`Written: ${base}.json, .svg, .md\n`);
}

function writeAtomically(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

main()
  .then(async () => {
    await stopEverything();
    process.exit(0);
  })
  .catch(async (error: unknown) => {
    const detail = error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`bench failed: ${detail}\n`);
    await stopEverything();
    process.exit(1);
  });
