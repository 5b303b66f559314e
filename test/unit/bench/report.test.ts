import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amqpComparisonTable, clusterTable, limitFractions, memoryTable, renderChart, renderMarkdown, renderText, renderTextTable, scalingShare, scalingTable, windowText, cycleTable } from '../../../bench/lib/report.js';
import { publishCallsInFlight, resultSchemaName, validateResultDocument } from '../../../bench/lib/results.js';
import type { MemoryResult, ResultDocument, ScalingResult, ThroughputResult } from '../../../bench/lib/results.js';
import { scalingPoints } from '../../../bench/workloads/runner.js';
import { SendBudget } from '../../../bench/workloads/workloads.js';
import { escapeXml, renderBarChart } from '../../../bench/lib/svg.js';
import { summarize } from '../../../bench/lib/stats.js';

function throughput(driver: string, workload: ThroughputResult['workload'], messagesPerSecond: number[]): ThroughputResult {
  return {
    driver,
    workload,
    sizeBytes: 100,
    messages: 1000,
    messagesPerSecond: summarize(messagesPerSecond),
    megabytesPerSecond: summarize(messagesPerSecond.map((rate) => (rate * 100) / 1e6)),
    brokerCpuSecondsPerMillion: summarize([1, 2, 3]),
    brokerPeakRssBytes: summarize([50e6, 60e6, 55e6]),
    brokerCpuCores: summarize([0.5, 0.6, 0.55]),
    clientCpuCores: summarize([0.9, 1, 0.95]),
  };
}

function sampleDocument(): ResultDocument {
  const limit = (name: string, megabytesPerSecond: number) => ({ name, megabytesPerSecond, tool: 'test', settings: 'test' });
  const machine = { diskGroupCommit: limit('disk 64 KiB', 300), diskLargeWrites: limit('disk 1 MiB', 600), loopbackTcp: limit('loopback', 2000), memoryCopy: limit('memcpy', 10_000) };
  const results = [throughput('osprey-kafkajs', 'publish', [30_000, 32_000, 31_000]), throughput('osprey-kafkajs', 'consume', [200_000, 210_000, 190_000]), throughput('redis-always', 'publish', [40_000, 41_000, 39_000])];
  return {
    schema: resultSchemaName,
    startedAt: '2026-11-23T07:00:00.000Z',
    finishedAt: '2026-11-23T07:05:00.000Z',
    mode: 'quick',
    host: { hostname: 'test', cpuModel: 'Test CPU <2 GHz>', cpuCount: 2, memoryBytes: 4 * 2 ** 30, kernel: '6', nodeVersion: '20', dataFilesystem: 'ext4' },
    settings: {
      messageSizesBytes: [100], roundSeconds: 3, maxMessagesPerRound: 1_000_000, rounds: 3, warmupMessages: 100, batchMessages: 100, batchesInFlight: 8, latencyRatesPerSecond: [1000], latencySeconds: 3, latencyRounds: 1, latencySizeBytes: 100, manyPartitions: 64, manyProducers: 4, manyConsumers: 4, manySeconds: 3,
      scalingPartitions: [1, 64, 1000], scalingProducers: [1, 10], scalingSeconds: 3, scalingRounds: 1, scalingCapSeconds: 60, memoryScenarios: [{ partitions: 1000, connections: 0, goalBytes: 250e6 }], memorySeconds: 3,
    },
    machine,
    brokers: [
      { driver: 'osprey-kafkajs', broker: 'osprey', brokerVersion: '0.1.0', client: 'kafkajs', clientVersion: '2.2.4', durability: 'acks=all', fsyncPolicy: 'always' },
      { driver: 'redis-always', broker: 'redis', brokerVersion: '7.0.15', client: 'ioredis', clientVersion: '6', durability: 'AOF always', fsyncPolicy: 'always' },
      { driver: 'nats-jetstream-sync-always', broker: 'nats', brokerVersion: '2.9.10', client: 'nats.js', clientVersion: '2', durability: 'sync always', fsyncPolicy: 'always', skipped: 'unsupported' },
    ],
    throughput: results,
    scaling: [],
    memory: [],
    latency: [{ driver: 'osprey-kafkajs', sizeBytes: 100, targetRatePerSecond: 1000, achievedRatePerSecond: 1000, seconds: 3, median: { count: 3000, p50Us: 2000, p99Us: 9000, p999Us: 12_000, maxUs: 15_000 }, runs: [{ count: 3000, p50Us: 2000, p99Us: 9000, p999Us: 12_000, maxUs: 15_000 }], sustained: true }],
    micro: [{ name: 'CRC32C 1 MiB', operationsPerSecond: summarize([3000, 3100, 2900]), megabytesPerSecond: summarize([3000, 3100, 2900]), note: 'test' }],
    limitFractions: limitFractions(results, machine),
    problems: [],
  };
}

test('a well-formed results document validates, after a JSON round trip', () => {
  assert.deepEqual(validateResultDocument(JSON.parse(JSON.stringify(sampleDocument()))), []);
});

test('validation names what is wrong', () => {
  const document = JSON.parse(JSON.stringify(sampleDocument())) as Record<string, unknown>;
  (document['throughput'] as Array<Record<string, unknown>>)[0]!['driver'] = 'unknown-driver';
  (document['throughput'] as Array<Record<string, unknown>>)[1]!['messagesPerSecond'] = { median: 5, min: 6, max: 7, rounds: [5] };
  delete document['problems'];
  const problems = validateResultDocument(document);
  assert.ok(problems.includes('throughput[0].driver is listed in brokers'), problems.join('\n'));
  assert.ok(problems.some((problem) => problem.startsWith('throughput[1].messagesPerSecond')), problems.join('\n'));
  assert.ok(problems.includes('problems is a list of strings'), problems.join('\n'));
  assert.deepEqual(validateResultDocument('nope'), ['document is not an object']);
});

test('Osprey figures as fractions of the machine limits: publish vs disk, consume vs loopback and memory', () => {
  const fractions = limitFractions(sampleDocument().throughput, sampleDocument().machine);
  const byLimit = Object.fromEntries(fractions.map((fraction) => [fraction.limit, fraction.fraction]));
  assert.equal(byLimit['diskGroupCommit'], 3.1 / 300);
  assert.equal(byLimit['loopbackTcp'], 20 / 2000);
  assert.equal(fractions.every((fraction) => fraction.driver.startsWith('osprey-')), true);
  assert.deepEqual(limitFractions(sampleDocument().throughput, null), []);
});

test('text table pads columns and right-aligns numbers', () => {
  const text = renderTextTable(['name', 'msg/s'], [['a', '1.00k'], ['longer', '12.3k']]);
  const lines = text.split('\n');
  assert.equal(lines[0], 'name    msg/s');
  assert.equal(lines[2], 'a       1.00k');
  assert.equal(lines[3], 'longer  12.3k');
});

test('the report shows every driver, the skipped ones with their reason', () => {
  const text = renderText(sampleDocument());
  assert.match(text, /Osprey \/ kafkajs/);
  assert.match(text, /31\.0k \(30\.0k–32\.0k\)/);
  assert.match(text, /nats-jetstream-sync-always\s+unsupported/);
  assert.match(renderMarkdown(sampleDocument()), /^\| broker \/ client \| durability \|/m);
});

test('SVG: escapes text, one bar per value, whiskers for min–max, well-formed document', () => {
  const svg = renderBarChart(
    [{ title: 'Publish <100 B> & more', scale: 'linear', format: String, rows: [{ label: 'a "b"', values: [{ series: 's', value: 10, min: 5, max: 15 }, { series: 't', value: 0 }] }] }],
    { title: 'T' },
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.ok(svg.includes('Publish &lt;100 B&gt; &amp; more'));
  assert.ok(svg.includes('a &quot;b&quot;'));
  assert.equal((svg.match(/<rect x="230"/g) ?? []).length, 2);
  assert.equal((svg.match(/<path d=/g) ?? []).length, 1);
  assert.equal(escapeXml(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
  const openTags = (svg.match(/<(rect|text|path|title)\b/g) ?? []).length;
  const closed = (svg.match(/<\/(rect|text|path|title)>|\/>/g) ?? []).length;
  assert.equal(openTags, closed);
});

test('the chart of a document has a panel per workload and latency rate', () => {
  const svg = renderChart(sampleDocument());
  assert.ok(svg.includes('Publish (durably acknowledged), 100 B messages'));
  assert.ok(svg.includes('End-to-end latency at 1.00k msg/s'));
  assert.ok(svg.includes('Test CPU &lt;2 GHz&gt;'));
  assert.ok(!Number.isNaN(Number(/height="(\d+)"/.exec(svg)?.[1])));
});

test('the AMQP table sets Osprey beside RabbitMQ quorum and classic, with ratios; absent until one of them ran', () => {
  const document = sampleDocument();
  assert.equal(amqpComparisonTable(document), null);
  const amqp: ResultDocument = {
    ...document,
    brokers: [
      ...document.brokers,
      { driver: 'rabbitmq-quorum', broker: 'rabbitmq', brokerVersion: '3.10.8', client: 'amqplib', clientVersion: '0.10', durability: 'durable quorum queue, persistent, confirms', fsyncPolicy: 'raft' },
      { driver: 'rabbitmq-classic', broker: 'rabbitmq', brokerVersion: '3.10.8', client: 'amqplib', clientVersion: '0.10', durability: 'durable classic queue, persistent, confirms', fsyncPolicy: 'store' },
      { driver: 'osprey-amqp', broker: 'osprey-amqp', brokerVersion: '0.1.0', client: 'amqplib', clientVersion: '0.10', durability: 'durable queue, persistent, confirms', fsyncPolicy: 'always', skipped: 'did not start' },
    ],
    throughput: [...document.throughput, throughput('rabbitmq-quorum', 'publish', [20_000]), throughput('rabbitmq-classic', 'publish', [10_000]), throughput('rabbitmq-quorum', 'consume', [40_000])],
  };
  const withoutOsprey = amqpComparisonTable(amqp);
  assert.deepEqual(withoutOsprey?.rows, [['publish', '100 B', '–', '20.0k', '10.0k', '–', '–'], ['consume', '100 B', '–', '40.0k', '–', '–', '–']]);
  const withOsprey = amqpComparisonTable({ ...amqp, throughput: [...amqp.throughput, throughput('osprey-amqp', 'publish', [30_000]), throughput('osprey-amqp', 'consume', [20_000])] });
  assert.deepEqual(withOsprey?.rows, [['publish', '100 B', '30.0k', '20.0k', '10.0k', '1.50×', '3.00×'], ['consume', '100 B', '20.0k', '40.0k', '–', '0.50×', '–']]);
  assert.match(renderText(amqp), /AMQP 0-9-1: Osprey vs RabbitMQ/);
});

test('the cluster table holds the 3-broker row against the single-broker one of the same run, as a share; absent until the cluster ran', () => {
  const document = sampleDocument();
  assert.equal(clusterTable(document), null);
  const withCluster: ResultDocument = {
    ...document,
    throughput: [
      ...document.throughput,
      throughput('osprey-own-client', 'publish', [400_000, 420_000, 380_000]),
      throughput('osprey-cluster-own-client', 'publish', [100_000, 110_000, 90_000]),
      throughput('osprey-cluster-own-client', 'consume', [300_000]),
      throughput('osprey-amqp', 'publish', [120_000]),
      throughput('osprey-cluster-amqp', 'publish', [30_000]),
    ],
  };
  assert.deepEqual(clusterTable(withCluster)?.rows, [
    ['own client', 'publish', '100 B', '100k (90.0k–110k)', '400k (380k–420k)', '25 %', '2.0', '2.0'],
    ['own client', 'consume', '100 B', '300k', '–', '–', '2.0', '–'],
    ['amqplib', 'publish', '100 B', '30.0k', '120k', '25 %', '2.0', '2.0'],
  ]);
  assert.match(renderText(withCluster), /Cluster: 3 brokers and etcd on this machine, replication factor 3/);
});

function scalingPoint(driver: string, partitions: number, producers: number, messagesPerSecond: number, cpuSecondsPerMillion: number): ScalingResult {
  return {
    driver, partitions, producers, sizeBytes: 100,
    figures: { messages: messagesPerSecond * 3, messagesPerSecond: summarize([messagesPerSecond]), brokerCpuSecondsPerMillion: summarize([cpuSecondsPerMillion]), brokerPeakRssBytes: summarize([120e6]), brokerCpuCores: summarize([0.5]), clientCpuCores: summarize([0.4]) },
  };
}

test('scaling points: every partition count with one producer, then the other producer counts on one partition', () => {
  assert.deepEqual(scalingPoints({ scalingPartitions: [1, 64, 1000], scalingProducers: [1, 10] }), [
    { partitions: 1, producers: 1 }, { partitions: 64, producers: 1 }, { partitions: 1000, producers: 1 }, { partitions: 1, producers: 10 },
  ]);
});

test('scaling shares: records/s as a share and CPU per million as a multiple of the 1-partition/1-producer point, held to 25 % up to 1,000 partitions', () => {
  const baseline = scalingPoint('osprey-kcat', 1, 1, 400_000, 1.0);
  assert.deepEqual(scalingShare(scalingPoint('osprey-kcat', 64, 1, 320_000, 1.2), baseline), { rateShare: 0.8, cpuMultiple: 1.2, withinGoal: true });
  assert.deepEqual(scalingShare(scalingPoint('osprey-kcat', 1000, 1, 16_000, 1.1), baseline), { rateShare: 0.04, cpuMultiple: 1.1, withinGoal: false });
  assert.deepEqual(scalingShare(scalingPoint('osprey-kcat', 1, 10, 400_000, 2.0), baseline), { rateShare: 1, cpuMultiple: 2, withinGoal: false });
  assert.equal(scalingShare(scalingPoint('osprey-kcat', 10_000, 1, 100_000, 1.0), baseline)?.withinGoal, null);
  assert.equal(scalingShare(scalingPoint('osprey-kcat', 64, 1, 1, 1), undefined), null);
});

test('the scaling table compares each driver with its own baseline and lists a point over the cap as not measured', () => {
  const document = sampleDocument();
  const capped: ScalingResult = { driver: 'osprey-kafkajs', partitions: 1000, producers: 1, sizeBytes: 100, figures: null, failure: 'over the 60 s cap per point' };
  const withScaling: ResultDocument = {
    ...document,
    scaling: [scalingPoint('osprey-kafkajs', 1, 1, 400_000, 1.0), scalingPoint('osprey-kafkajs', 64, 1, 200_000, 1.5), capped, scalingPoint('redis-always', 1, 1, 100_000, 3), scalingPoint('redis-always', 64, 1, 100_000, 3)],
  };
  assert.deepEqual(validateResultDocument(JSON.parse(JSON.stringify(withScaling))), []);
  const rows = scalingTable(withScaling)?.rows ?? [];
  assert.deepEqual(rows.map((row) => [row[1], row[4], row[6], row[10]]), [['1', '100 %', '1.00×', 'yes'], ['64', '50 %', '1.50×', 'no'], ['1,000', '–', '–', 'no'], ['1', '100 %', '1.00×', 'yes'], ['64', '100 %', '1.00×', 'yes']]);
  assert.match(rows[2]?.[11] ?? '', /not measured: over the 60 s cap per point/);
  assert.match(renderText(withScaling), /Scaling: publish only/);
  assert.ok(renderChart(withScaling).includes('Scaling: records/s as a share'));
  assert.ok(!renderChart(document).includes('Scaling: records/s as a share'));
  assert.equal(scalingTable(document), null);
  const broken = JSON.parse(JSON.stringify(withScaling)) as { scaling: Array<Record<string, unknown>> };
  delete broken.scaling[2]!['failure'];
  assert.ok(validateResultDocument(broken).includes('scaling[2] without figures says why (failure)'));
});

test('the scaling table shows records per stored batch where the broker had them, and states the window', () => {
  const document = sampleDocument();
  const point = scalingPoint('osprey-kafkajs', 1000, 1, 50_000, 2);
  const withStored: ScalingResult = { ...point, figures: { ...point.figures!, storedRecordsPerBatch: summarize([12.5, 20, 30]) } };
  const withScaling: ResultDocument = { ...document, settings: { ...document.settings, batchMessages: 100, publishBatchesInFlight: 640 }, scaling: [scalingPoint('osprey-kafkajs', 1, 1, 400_000, 1.0), withStored] };
  assert.deepEqual(validateResultDocument(JSON.parse(JSON.stringify(withScaling))), []);
  const table = scalingTable(withScaling)!;
  assert.equal(table.headers[9], 'rec/batch');
  assert.deepEqual(table.rows.map((row) => row[9]), ['–', '20.0']);
  assert.match(table.title, /window: 64,000 messages in flight per producer \(640 send calls of 100\)/);
  // Results written before the window had a setting of its own: batchesInFlight was the window.
  assert.equal(windowText(document.settings), 'window: 800 messages in flight per producer (8 send calls of 100)');
  // From 2026-12-06 a window in bytes: as many calls as fit each size.
  const byBytes = { ...document.settings, batchMessages: 100, messageSizesBytes: [100, 1024], publishBatchesInFlight: 640, publishWindowBytes: 6_400_000 };
  assert.equal(windowText(byBytes), 'window: 6.4 MB in flight per producer (send calls of 100: 640 at 100 B, 63 at 1024 B)');
  assert.deepEqual([publishCallsInFlight(byBytes, 100), publishCallsInFlight(byBytes, 1024), publishCallsInFlight(byBytes, 1_000_000)], [640, 63, 1]);
  assert.deepEqual(validateResultDocument(JSON.parse(JSON.stringify({ ...withScaling, settings: byBytes }))), []);
});

test("the cycle table holds each write + fdatasync cycle against fio's 64 KiB one and the bare Node loop", () => {
  const document = sampleDocument();
  const cycle = (name: string, operationsPerSecond: number) => ({ name, operationsPerSecond: summarize([operationsPerSecond]), megabytesPerSecond: null, note: 'test', cycleBytes: 66_000 });
  const withCycles: ResultDocument = { ...document, micro: [...document.micro, cycle('Cycle: journal', 4000), cycle('Cycle: journal off', 2000), cycle('Cycle: bare Node writev + fdatasync', 5000)] };
  assert.deepEqual(validateResultDocument(JSON.parse(JSON.stringify(withCycles))), []);
  // fio: 300 MB/s in 64 KiB blocks, 218 µs per block.
  // Without fio in turn, the goal is judged against the machine section's fio.
  assert.deepEqual(cycleTable(withCycles)?.rows.map((row) => row.slice(2)), [
    ['250', '218', '1.14×', '–', '1.25×', 'yes'],
    ['500', '218', '2.29×', '–', '2.50×', 'no'],
    ['200', '218', '0.92×', '–', '1.00×', 'yes'],
  ]);
  assert.deepEqual(cycleTable({ ...withCycles, machine: null })?.rows[0]?.slice(3), ['–', '–', '–', '1.25×', '–']);
  // With fio in turn (250 µs a cycle here), against that: the journal's 250 µs is 1.00× of it, the
  // unjournaled 500 µs 2.00× (no), although 1.14× and 2.29× of the machine section's.
  const withFio: ResultDocument = { ...withCycles, micro: [...withCycles.micro, { ...cycle('Cycle: fio 64 KiB', 4000), cycleBytes: 65_536 }] };
  assert.deepEqual(cycleTable(withFio)?.rows.map((row) => row[5]), ['1.00×', '2.00×', '0.80×', '1.00×']);
  assert.deepEqual(cycleTable(withFio)?.rows.map((row) => row[7]), ['yes', 'no', 'yes', 'yes']);
  const fasterFio: ResultDocument = { ...withCycles, micro: [...withCycles.micro, { ...cycle('Cycle: fio 64 KiB', 6000), cycleBytes: 65_536 }] };
  assert.deepEqual(cycleTable(fasterFio)?.rows.map((row) => row[7]), ['no', 'no', 'yes', 'yes'], 'the journal judged against fio in turn (167 µs: 1.50×), not the machine section (218 µs: 1.14×)');
  assert.equal(cycleTable(document), null);
  assert.match(renderText(withCycles), /Group-commit cycle/);
});

test('the memory table holds each scenario to its goal, and a scenario with connections missing fails it', () => {
  const scenario = (partitions: number, connections: number, opened: number, peakRssBytes: number, goalBytes: number): MemoryResult => ({ partitions, connections, connectionsOpened: opened, messages: 1000, seconds: 3, peakRssBytes, goalBytes, notes: [] });
  const document: ResultDocument = { ...sampleDocument(), memory: [scenario(1000, 0, 0, 180e6, 250e6), scenario(10_000, 10_000, 10_000, 1.2e9, 1e9), scenario(10_000, 10_000, 9_000, 500e6, 1e9)] };
  assert.deepEqual(validateResultDocument(JSON.parse(JSON.stringify(document))), []);
  assert.deepEqual(memoryTable(document)?.rows.map((row) => [row[1], row[3], row[4], row[5]]), [['0', '180', '250', 'yes'], ['10,000', '1200', '1000', 'no'], ['9,000 of 10,000', '500', '1000', 'no']]);
  assert.equal(memoryTable(sampleDocument()), null);
});

test('a send budget hands out messages up to its count, and nothing once its time is spent or it is aborted', async () => {
  const counted = new SendBudget(3600, 250);
  assert.deepEqual([counted.take(100), counted.take(100), counted.take(100), counted.take(100)], [100, 100, 50, 0]);
  assert.equal(counted.sent, 250);
  const timed = new SendBudget(0.02, Number.MAX_SAFE_INTEGER);
  assert.equal(timed.take(100), 100);
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(timed.take(100), 0);
  const abort = new AbortController();
  const aborted = new SendBudget(3600, 1000, abort.signal);
  assert.equal(aborted.take(10), 10);
  abort.abort();
  assert.equal(aborted.take(10), 0);
});
