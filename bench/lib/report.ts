/**
 * Turns a results document into what people read: text tables for the terminal (and a Markdown
 * copy beside the JSON), the SVG chart, and Osprey's figures as fractions of the machine's limits.
 */
import { publishCallsInFlight } from './results.js';
import type { LimitFraction, MachineLimits, ResultDocument, ScalingResult, Settings, ThroughputResult, ThroughputWorkload } from './results.js';
import { formatCount, formatMicroseconds } from './stats.js';
import type { Summary } from './stats.js';
import { renderBarChart } from './svg.js';
import type { BarRow, Panel } from './svg.js';

type Cell = string;

/** Columns padded to their widest cell; numbers right-aligned. */
export function renderTextTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const numeric = headers.map((_, column) => rows.length > 0 && rows.every((row) => /^[-\d.,]+[kMG]?( .*)?$|^–$/.test(row[column] ?? '')));
  const line = (cells: readonly Cell[]) => cells.map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return [line(headers), widths.map((width) => '─'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function renderMarkdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [`| ${headers.map(escape).join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`)].join('\n');
}

function spread(summary: Summary | undefined, format: (value: number) => string = formatCount): string {
  if (summary === undefined) return '–';
  return summary.rounds.length > 1 ? `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})` : format(summary.median);
}

function find(document: ResultDocument, driver: string, workload: ThroughputWorkload, sizeBytes: number): ThroughputResult | undefined {
  return document.throughput.find((entry) => entry.driver === driver && entry.workload === workload && entry.sizeBytes === sizeBytes);
}

function driverName(document: ResultDocument, driver: string): string {
  const entry = document.brokers.find((broker) => broker.driver === driver);
  return entry === undefined ? driver : `${driverLabel(entry.driver)} / ${entry.client}`;
}

function driverLabel(driver: string): string {
  return driver.replace(/^osprey-cluster-own-client$/, 'Osprey 3 brokers RF 3').replace(/^osprey-cluster-amqp$/, 'Osprey AMQP 3 brokers RF 3').replace(/^osprey-cluster-amqp-any$/, 'Osprey AMQP 3 brokers RF 3 via 2, 3').replace(/^osprey-(kafkajs|kcat|own-client|librdkafka)$/, 'Osprey').replace(/^osprey-amqp$/, 'Osprey AMQP').replace(/^rabbitmq-/, 'RabbitMQ ').replace(/^nats-jetstream-sync-always$/, 'NATS JS sync:always').replace(/^nats-jetstream$/, 'NATS JetStream').replace(/^redis-/, 'Redis ');
}

/** "0.54/0.98": CPU cores busy on the broker side / the client side (median round). */
function cores(entry: ThroughputResult | undefined): string {
  if (entry === undefined) return '–';
  return `${entry.brokerCpuCores.median.toFixed(2)}/${entry.clientCpuCores.median.toFixed(2)}`;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)}`;
/** A whole count as people write it: 1, 64, 1,000, 10,000. */
const wholeCount = (value: number) => value.toLocaleString('en-US');
const decimal = (value: number) => (value >= 10 ? value.toFixed(0) : value.toFixed(1));

export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export function tables(document: ResultDocument): Table[] {
  const ran = document.brokers.filter((entry) => entry.skipped === undefined);
  const throughputRows: string[][] = [];
  for (const entry of ran) {
    for (const sizeBytes of document.settings.messageSizesBytes) {
      const publish = find(document, entry.driver, 'publish', sizeBytes);
      const consume = find(document, entry.driver, 'consume', sizeBytes);
      if (publish === undefined && consume === undefined) continue;
      throughputRows.push([
        driverName(document, entry.driver), entry.durability, `${sizeBytes} B`,
        spread(publish?.messagesPerSecond), publish === undefined ? '–' : decimal(publish.megabytesPerSecond.median),
        spread(consume?.messagesPerSecond), consume === undefined ? '–' : decimal(consume.megabytesPerSecond.median),
        publish === undefined ? '–' : publish.brokerCpuSecondsPerMillion.median.toFixed(1),
        consume === undefined ? '–' : consume.brokerCpuSecondsPerMillion.median.toFixed(1),
        cores(publish), cores(consume),
        publish === undefined ? '–' : megabytes(Math.max(publish.brokerPeakRssBytes.max, consume?.brokerPeakRssBytes.max ?? 0)),
      ]);
    }
  }
  const manyRows = document.throughput.filter((entry) => entry.workload === 'many-partitions').map((entry) => [
    driverName(document, entry.driver), `${entry.sizeBytes} B`, spread(entry.messagesPerSecond), decimal(entry.megabytesPerSecond.median), entry.brokerCpuSecondsPerMillion.median.toFixed(1), cores(entry), megabytes(entry.brokerPeakRssBytes.max),
  ]);
  const latencyRows = document.latency.map((entry) => [
    driverName(document, entry.driver), formatCount(entry.targetRatePerSecond), `${formatCount(entry.achievedRatePerSecond)}${entry.sustained ? '' : ' (not sustained)'}`,
    formatMicroseconds(entry.median.p50Us), formatMicroseconds(entry.median.p99Us), formatMicroseconds(entry.median.p999Us), formatMicroseconds(entry.median.maxUs),
  ]);
  const result: Table[] = [
    { title: `Throughput: rounds of ${document.settings.roundSeconds} s of publishing (then the consumer reads that backlog), median of ${document.settings.rounds} rounds (min–max); ${windowText(document.settings)}; CPU s/M = broker CPU seconds per million messages; cores b/c = CPU cores busy, broker / client side; RSS = broker peak`, headers: ['broker / client', 'durability', 'size', 'publish msg/s', 'MB/s', 'consume msg/s', 'MB/s', 'CPU s/M pub', 'CPU s/M con', 'cores pub b/c', 'cores con b/c', 'RSS MB'], rows: throughputRows },
  ];
  const amqpComparison = amqpComparisonTable(document);
  if (amqpComparison !== null) result.push(amqpComparison);
  const cluster = clusterTable(document);
  if (cluster !== null) result.push(cluster);
  if (latencyRows.length > 0) result.push({ title: `End-to-end latency (send → receipt, HDR histogram), ${document.settings.latencySizeBytes} B, ${document.settings.latencySeconds} s per rate, median-p99 round of ${document.settings.latencyRounds}`, headers: ['broker / client', 'target/s', 'sent/s', 'p50', 'p99', 'p99.9', 'max'], rows: latencyRows });
  if (manyRows.length > 0) result.push({ title: `Many partitions: 1 destination × ${document.settings.manyPartitions} partitions, ${document.settings.manyProducers} producers + ${document.settings.manyConsumers} consumers at once, producers sending for ${document.settings.manySeconds} s, end to end`, headers: ['broker / client', 'size', 'msg/s', 'MB/s', 'CPU s/M', 'cores b/c', 'RSS MB'], rows: manyRows });
  const scaling = scalingTable(document);
  if (scaling !== null) result.push(scaling);
  const memory = memoryTable(document);
  if (memory !== null) result.push(memory);
  if (document.machine !== null) {
    const machine = document.machine;
    const limitRows = (Object.keys(machine) as (keyof MachineLimits)[]).map((key) => {
      const limit = machine[key];
      const fractions = document.limitFractions.filter((fraction) => fraction.limit === key).map((fraction) => `${fraction.driver} ${fraction.workload} ${fraction.sizeBytes} B: ${(fraction.fraction * 100).toFixed(1)} %`);
      return [limit.name, limit.megabytesPerSecond === null ? `– (${limit.note ?? 'not measured'})` : limit.megabytesPerSecond.toFixed(0), limit.settings, fractions.join('; ') || '–'];
    });
    result.push({ title: 'Machine limits (same run, same disk) and Osprey\'s best MB/s as a share of them', headers: ['limit', 'MB/s', 'how', 'Osprey share'], rows: limitRows });
  }
  if (document.micro.length > 0) {
    result.push({ title: 'Osprey micro-benchmarks (median of rounds)', headers: ['operation', 'op/s', 'MB/s', 'note'], rows: document.micro.map((entry) => [entry.name, formatCount(entry.operationsPerSecond.median), entry.megabytesPerSecond === null ? '–' : entry.megabytesPerSecond.median.toFixed(0), entry.note]) });
    const cycles = cycleTable(document);
    if (cycles !== null) result.push(cycles);
  }
  const skipped = document.brokers.filter((entry) => entry.skipped !== undefined);
  if (skipped.length > 0) result.push({ title: 'Not run', headers: ['driver', 'why'], rows: skipped.map((entry) => [entry.driver, entry.skipped ?? '']) });
  return result;
}

/** fio's block in the machine section's group-commit line (machine.ts: 64 KiB writes, fdatasync after each). */
const fioCycleBytes = 64 * 1024;
/** The issue's goal: a group-commit cycle costs at most this multiple of fio's write + fdatasync. */
export const cycleGoalMultiple = 1.25;

/**
 * The micro-benchmarks' write + fdatasync cycles against fio's 64 KiB write + fdatasync of the same
 * run (µs per cycle = 1 / rate; fio's from its MB/s and block size), or null without cycle cases.
 */
export function cycleTable(document: ResultDocument): Table | null {
  const entries = document.micro.filter((entry) => entry.cycleBytes !== undefined);
  if (entries.length === 0) return null;
  const fioMegabytesPerSecond = document.machine?.diskGroupCommit.megabytesPerSecond ?? null;
  const fioMicroseconds = fioMegabytesPerSecond === null || fioMegabytesPerSecond <= 0 ? null : fioCycleBytes / fioMegabytesPerSecond;
  // The bare Node loop of the same bytes, measured in turn with the others (micro.ts): a ratio less
  // exposed than fio's, measured seconds earlier, to a disk shared with other work.
  const microsecondsOf = (name: string) => {
    const entry = entries.find((candidate) => candidate.name.startsWith(name));
    return entry === undefined ? null : 1e6 / entry.operationsPerSecond.median;
  };
  const bareMicroseconds = microsecondsOf('Cycle: bare');
  const fioInTurnMicroseconds = microsecondsOf('Cycle: fio');
  const times = (microseconds: number, base: number | null) => (base === null ? '–' : `${(microseconds / base).toFixed(2)}×`);
  // The goal is judged against fio in turn when it ran: the machine section's fio ran minutes
  // earlier, and this shared disk's cycle time moves by half from one minute to the next (on
  // 2026-12-06: 266 µs in the machine section, 399 µs in turn with the cycles).
  const goalBase = fioInTurnMicroseconds ?? fioMicroseconds;
  const rows = entries.map((entry) => {
    const microseconds = 1e6 / entry.operationsPerSecond.median;
    const multiple = fioMicroseconds === null ? null : microseconds / fioMicroseconds;
    const goalMultiple = goalBase === null ? null : microseconds / goalBase;
    return [
      entry.name, `${(entry.cycleBytes! / 1000).toFixed(1)} KB`, microseconds.toFixed(0), fioMicroseconds === null ? '–' : fioMicroseconds.toFixed(0), multiple === null ? '–' : `${multiple.toFixed(2)}×`,
      times(microseconds, fioInTurnMicroseconds), times(microseconds, bareMicroseconds), goalMultiple === null ? '–' : goalMultiple <= cycleGoalMultiple ? 'yes' : 'no',
    ];
  });
  return {
    title: `Group-commit cycle (write + fdatasync) against fio's 64 KiB write + fdatasync, same run, same disk (µs per cycle, median); fio µs, × fio: against the machine section's fio; × fio in turn, × bare: against fio and a bare Node loop of the same bytes whose rounds alternate with the cycles' (same seconds, less exposed to a shared disk's swings); goal: at most ${cycleGoalMultiple}× fio in turn (the machine section's fio when fio did not run in turn)`,
    headers: ['cycle', 'bytes', 'µs', 'fio µs', '× fio', '× fio in turn', '× bare', 'goal'],
    rows,
  };
}

/** Scaling points up to this many partitions are held to the issue's goal (within 25 % of the baseline). */
export const scalingGoalMaxPartitions = 1000;
/** The goal: records/s at least 75 % of the baseline's, CPU per million records at most 1.25× it. */
export const scalingGoalTolerance = 0.25;

/** A scaling point's figures against its driver's 1-partition, 1-producer point (the baseline). */
export interface ScalingShare {
  /** records/s as a share of the baseline's (1 = the same). */
  readonly rateShare: number;
  /** CPU seconds per million records as a multiple of the baseline's (1 = the same). */
  readonly cpuMultiple: number;
  /** Within the goal's 25 %, or null for points beyond 1,000 partitions, which the goal leaves free. */
  readonly withinGoal: boolean | null;
}

export function scalingShare(point: ScalingResult, baseline: ScalingResult | undefined): ScalingShare | null {
  if (point.figures === null || baseline?.figures == null) return null;
  const rateShare = point.figures.messagesPerSecond.median / baseline.figures.messagesPerSecond.median;
  const cpuMultiple = point.figures.brokerCpuSecondsPerMillion.median / baseline.figures.brokerCpuSecondsPerMillion.median;
  const withinGoal = point.partitions > scalingGoalMaxPartitions ? null : rateShare >= 1 - scalingGoalTolerance && cpuMultiple <= 1 + scalingGoalTolerance;
  return { rateShare, cpuMultiple, withinGoal };
}

/** The baseline of a driver's scaling points: one partition, one producer. */
function scalingBaseline(document: ResultDocument, driver: string): ScalingResult | undefined {
  return document.scaling.find((entry) => entry.driver === driver && entry.partitions === 1 && entry.producers === 1);
}

/**
 * Records/s and broker CPU per million records per partition count and producer count, each as a
 * share of the same driver's 1-partition/1-producer figure; a point that did not finish says why.
 */
export function scalingTable(document: ResultDocument): Table | null {
  if (document.scaling.length === 0) return null;
  const rows = document.scaling.map((entry) => {
    const name = driverName(document, entry.driver);
    const figures = entry.figures;
    if (figures === null) return [name, wholeCount(entry.partitions), String(entry.producers), '–', '–', '–', '–', '–', '–', '–', entry.partitions > scalingGoalMaxPartitions ? '–' : 'no', `not measured: ${entry.failure ?? 'no round finished'}`];
    const share = scalingShare(entry, scalingBaseline(document, entry.driver));
    return [
      name, wholeCount(entry.partitions), String(entry.producers),
      spread(figures.messagesPerSecond), share === null ? '–' : `${(share.rateShare * 100).toFixed(0)} %`,
      figures.brokerCpuSecondsPerMillion.median.toFixed(2), share === null ? '–' : `${share.cpuMultiple.toFixed(2)}×`,
      `${figures.brokerCpuCores.median.toFixed(2)}/${figures.clientCpuCores.median.toFixed(2)}`,
      megabytes(figures.brokerPeakRssBytes.max),
      figures.storedRecordsPerBatch === undefined ? '–' : figures.storedRecordsPerBatch.median.toFixed(1),
      share?.withinGoal == null ? '–' : share.withinGoal ? 'yes' : 'no',
      entry.failure === undefined ? '' : `a round failed: ${entry.failure}`,
    ];
  });
  const settings = document.settings;
  return {
    title: `Scaling: publish only, ${settings.messageSizesBytes[0] ?? 100} B, ${settings.scalingSeconds} s per point (capped at ${settings.scalingCapSeconds} s with setup), median of ${settings.scalingRounds}; partitions with 1 producer, producers on 1 partition; share = records/s as % of the driver's 1-partition/1-producer point, CPU × = broker CPU per million records against it; goal: within ${scalingGoalTolerance * 100} % up to ${wholeCount(scalingGoalMaxPartitions)} partitions; ${windowText(settings)} (shared among a point's producers); rec/batch = records per record batch the broker stored (records per partition per produce request)`,
    headers: ['broker / client', 'partitions', 'producers', 'msg/s', 'share', 'CPU s/M', 'CPU ×', 'cores b/c', 'RSS MB', 'rec/batch', 'goal', 'note'],
    rows,
  };
}

/** Peak broker RSS per memory scenario (fresh broker each) against the issue's goal. */
export function memoryTable(document: ResultDocument): Table | null {
  if (document.memory.length === 0) return null;
  return {
    title: `Memory: broker peak RSS on a fresh broker per scenario, one producer publishing 100 B records in batches of 100, round-robin over the partitions (one batch to every partition, then ${document.settings.memorySeconds} s more) while the idle connections (ApiVersions + Metadata done) stay open`,
    headers: ['partitions', 'connections', 'records', 'peak RSS MB', 'goal MB', 'within goal', 'notes'],
    rows: document.memory.map((entry) => [
      wholeCount(entry.partitions), entry.connections === entry.connectionsOpened ? wholeCount(entry.connections) : `${wholeCount(entry.connectionsOpened)} of ${wholeCount(entry.connections)}`,
      formatCount(entry.messages), megabytes(entry.peakRssBytes), megabytes(entry.goalBytes),
      entry.peakRssBytes <= entry.goalBytes && entry.connectionsOpened === entry.connections ? 'yes' : 'no', entry.notes.join('; '),
    ]),
  };
}

/** The cluster rows (issue 15) and the single-broker rows they are held against: the same client and workloads. */
const clusterPairs = [
  { client: 'own client', cluster: 'osprey-cluster-own-client', single: 'osprey-own-client' },
  { client: 'amqplib', cluster: 'osprey-cluster-amqp', single: 'osprey-amqp' },
  { client: 'amqplib via brokers 2, 3', cluster: 'osprey-cluster-amqp-any', single: 'osprey-amqp' },
] as const;

/**
 * Three brokers with replication factor 3 against one broker, same run, same client (msg/s median,
 * broker CPU per million messages: the cluster's is all three brokers and etcd together, on this one
 * machine). Shown once the cluster row has run.
 */
export function clusterTable(document: ResultDocument): Table | null {
  if (!document.throughput.some((entry) => clusterPairs.some((pair) => entry.driver === pair.cluster))) return null;
  const rows: string[][] = [];
  for (const pair of clusterPairs) {
    for (const workload of ['publish', 'consume'] as const) {
      for (const sizeBytes of document.settings.messageSizesBytes) {
        const cluster = find(document, pair.cluster, workload, sizeBytes);
        const single = find(document, pair.single, workload, sizeBytes);
        if (cluster === undefined) continue;
        const share = single === undefined || single.messagesPerSecond.median === 0 ? '–' : `${((cluster.messagesPerSecond.median / single.messagesPerSecond.median) * 100).toFixed(0)} %`;
        rows.push([
          pair.client, workload, `${sizeBytes} B`, spread(cluster.messagesPerSecond), single === undefined ? '–' : spread(single.messagesPerSecond), share,
          cluster.brokerCpuSecondsPerMillion.median.toFixed(1), single === undefined ? '–' : single.brokerCpuSecondsPerMillion.median.toFixed(1),
        ]);
      }
    }
  }
  return {
    title: 'Cluster: 3 brokers and etcd on this machine, replication factor 3, acks=all (answered once every in-sync replica holds the batch; an AMQP confirm likewise), against one broker; same client, same run (msg/s median, min–max; CPU s/M of every process of each)',
    headers: ['client', 'workload', 'size', '3 brokers RF 3', '1 broker', 'share of 1 broker', 'CPU s/M 3 brokers', 'CPU s/M 1 broker'],
    rows,
  };
}

/** The AMQP drivers compared, all through amqplib with persistent messages, confirms and acks. */
const amqpDrivers = ['osprey-amqp', 'rabbitmq-quorum', 'rabbitmq-classic'] as const;

/**
 * Osprey's AMQP listener beside RabbitMQ's classic and quorum queues (same client, same workloads,
 * same durability), with Osprey's rate as a multiple of each: 1.50× is half again as fast. Shown
 * once any of them has run; '–' where one did not.
 */
export function amqpComparisonTable(document: ResultDocument): Table | null {
  if (!document.throughput.some((entry) => (amqpDrivers as readonly string[]).includes(entry.driver))) return null;
  const ratio = (ours: ThroughputResult | undefined, theirs: ThroughputResult | undefined) =>
    ours === undefined || theirs === undefined || theirs.messagesPerSecond.median === 0 ? '–' : `${(ours.messagesPerSecond.median / theirs.messagesPerSecond.median).toFixed(2)}×`;
  const rate = (entry: ThroughputResult | undefined) => (entry === undefined ? '–' : formatCount(entry.messagesPerSecond.median));
  const rows: string[][] = [];
  for (const workload of ['publish', 'consume'] as const) {
    for (const sizeBytes of document.settings.messageSizesBytes) {
      const [osprey, quorum, classic] = amqpDrivers.map((driver) => find(document, driver, workload, sizeBytes));
      if (osprey === undefined && quorum === undefined && classic === undefined) continue;
      rows.push([workload, `${sizeBytes} B`, rate(osprey), rate(quorum), rate(classic), ratio(osprey, quorum), ratio(osprey, classic)]);
    }
  }
  return {
    title: 'AMQP 0-9-1: Osprey vs RabbitMQ, same client (amqplib), durable queue, persistent messages, publisher confirms, manual acks (median msg/s)',
    headers: ['workload', 'size', 'Osprey AMQP', 'RabbitMQ quorum', 'RabbitMQ classic', 'Osprey / quorum', 'Osprey / classic'],
    rows,
  };
}

export function renderText(document: ResultDocument): string {
  return tables(document).map((table) => `${table.title}\n${renderTextTable(table.headers, table.rows)}`).join('\n\n');
}

export function renderMarkdown(document: ResultDocument): string {
  const header = `# Osprey benchmark, ${document.startedAt} (${document.mode})\n\n${document.host.cpuModel}, ${document.host.cpuCount} CPUs, ${(document.host.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${document.host.nodeVersion}, data on ${document.host.dataFilesystem}\n`;
  const body = tables(document).map((table) => `## ${table.title}\n\n${renderMarkdownTable(table.headers, table.rows)}`).join('\n\n');
  const problems = document.problems.length === 0 ? '' : `\n\n## Problems during the run\n\n${document.problems.map((problem) => `- ${problem}`).join('\n')}`;
  return `${header}\n${body}${problems}\n`;
}

/** Osprey publish MB/s vs the disk limits, consume MB/s vs loopback and memory copy. */
export function limitFractions(throughput: readonly ThroughputResult[], machine: MachineLimits | null): LimitFraction[] {
  if (machine === null) return [];
  const fractions: LimitFraction[] = [];
  const pairs: Array<[ThroughputWorkload, keyof MachineLimits]> = [['publish', 'diskGroupCommit'], ['publish', 'diskLargeWrites'], ['consume', 'loopbackTcp'], ['consume', 'memoryCopy']];
  for (const [workload, limit] of pairs) {
    const capacity = machine[limit].megabytesPerSecond;
    if (capacity === null || capacity <= 0) continue;
    const candidates = throughput.filter((entry) => entry.driver.startsWith('osprey-') && entry.workload === workload);
    const best = candidates.sort((a, b) => b.megabytesPerSecond.median - a.megabytesPerSecond.median)[0];
    if (best === undefined) continue;
    fractions.push({ driver: best.driver, workload, sizeBytes: best.sizeBytes, megabytesPerSecond: best.megabytesPerSecond.median, limit, fraction: best.megabytesPerSecond.median / capacity });
  }
  return fractions;
}

function throughputPanel(document: ResultDocument, workload: ThroughputWorkload, sizeBytes: number, title: string): Panel | null {
  const rows: BarRow[] = [];
  for (const entry of document.throughput) {
    if (entry.workload !== workload || entry.sizeBytes !== sizeBytes) continue;
    const summary = entry.messagesPerSecond;
    rows.push({ label: driverName(document, entry.driver), values: [{ series: 'throughput, msg/s (median; whisker min–max)', value: summary.median, min: summary.min, max: summary.max }] });
  }
  return rows.length === 0 ? null : { title, scale: 'linear', rows, format: (value) => `${formatCount(value)}/s` };
}

export function renderChart(document: ResultDocument): string {
  const panels: Panel[] = [];
  for (const sizeBytes of document.settings.messageSizesBytes) {
    for (const workload of ['publish', 'consume'] as const) {
      const panel = throughputPanel(document, workload, sizeBytes, `${workload === 'publish' ? 'Publish (durably acknowledged)' : 'Consume backlog'}, ${sizeBytes} B messages, msg/s`);
      if (panel !== null) panels.push(panel);
    }
  }
  const many = throughputPanel(document, 'many-partitions', document.settings.messageSizesBytes[0] ?? 100, `${document.settings.manyPartitions} partitions, ${document.settings.manyProducers} producers + ${document.settings.manyConsumers} consumers, msg/s end to end`);
  if (many !== null) panels.push(many);
  for (const rate of document.settings.latencyRatesPerSecond) {
    const rows: BarRow[] = document.latency.filter((entry) => entry.targetRatePerSecond === rate).map((entry) => ({
      label: `${driverName(document, entry.driver)}${entry.sustained ? '' : ' *'}`,
      values: [
        { series: 'latency p50', value: entry.median.p50Us },
        { series: 'latency p99', value: entry.median.p99Us },
        { series: 'latency p99.9', value: entry.median.p999Us },
      ],
    }));
    if (rows.length > 0) panels.push({ title: `End-to-end latency at ${formatCount(rate)} msg/s (* = rate not sustained)`, scale: 'log', rows, format: formatMicroseconds });
  }
  const scalingRows: BarRow[] = [];
  for (const entry of document.scaling) {
    const share = scalingShare(entry, scalingBaseline(document, entry.driver));
    if (share === null) continue;
    scalingRows.push({ label: `${driverName(document, entry.driver)}, ${wholeCount(entry.partitions)} part. × ${entry.producers} prod.`, values: [{ series: 'records/s, % of 1 partition × 1 producer', value: share.rateShare * 100 }] });
  }
  if (scalingRows.length > 0) panels.push({ title: 'Scaling: records/s as a share of the same client\'s 1-partition, 1-producer rate (goal ≥ 75 % up to 1,000 partitions)', scale: 'linear', rows: scalingRows, format: (value) => `${value.toFixed(0)} %` });
  const limitsPanel = machinePanel(document);
  if (limitsPanel !== null) panels.push(limitsPanel);
  return renderBarChart(panels, {
    title: `Osprey vs peers — ${document.host.cpuCount}× ${document.host.cpuModel}`,
    subtitle: `${document.mode} run ${document.startedAt}; ${document.settings.roundSeconds} s publish rounds, ${document.settings.rounds} rounds; durable settings per broker (see JSON)`,
  });
}

/** Osprey's best publish and consume MB/s beside the machine's limits (log axis). */
function machinePanel(document: ResultDocument): Panel | null {
  if (document.machine === null) return null;
  const rows: BarRow[] = [];
  const shortNames: Record<keyof MachineLimits, string> = { diskGroupCommit: 'disk, 64 KiB + fdatasync', diskLargeWrites: 'disk, 1 MiB + fdatasync', loopbackTcp: 'loopback TCP', memoryCopy: 'memory copy' };
  for (const key of Object.keys(shortNames) as (keyof MachineLimits)[]) {
    const limit = document.machine[key];
    if (limit.megabytesPerSecond !== null) rows.push({ label: shortNames[key], values: [{ series: 'MB/s', value: limit.megabytesPerSecond }] });
  }
  for (const workload of ['publish', 'consume'] as const) {
    const best = document.limitFractions.find((fraction) => fraction.workload === workload);
    if (best !== undefined) rows.push({ label: `Osprey ${workload} (${best.driver.replace('osprey-', '')}, ${best.sizeBytes} B)`, values: [{ series: 'MB/s', value: best.megabytesPerSecond }] });
  }
  return rows.length === 0 ? null : { title: 'Machine limits and Osprey\'s best payload MB/s', scale: 'log', rows, format: (value) => `${value.toFixed(0)} MB/s` };
}

/** The publish and scaling rows' in-flight window, as the tables state it. */
export function windowText(settings: Settings): string {
  if (settings.publishWindowBytes !== undefined) {
    const perSize = settings.messageSizesBytes.map((size) => `${wholeCount(publishCallsInFlight(settings, size))} at ${size} B`).join(', ');
    return `window: ${settings.publishWindowBytes / 1e6} MB in flight per producer (send calls of ${settings.batchMessages}: ${perSize})`;
  }
  const batches = settings.publishBatchesInFlight ?? settings.batchesInFlight;
  return `window: ${wholeCount(batches * settings.batchMessages)} messages in flight per producer (${wholeCount(batches)} send calls of ${settings.batchMessages})`;
}
