/**
 * kcat (librdkafka 2.0.2) against a real broker process: produce in every codec and read back byte
 * for byte, durability across kill -9 and SIGTERM, ListOffsets by timestamp and relative offsets,
 * Metadata, and records at and over the size limit.
 *
 * Oracles: what we fed kcat (seeded, so a failure replays), kcat's delivery reports, and the record
 * batch headers in the partition's `.log` files (docs/storage-format.md). Every comparison is exact:
 * counts, offsets from 0 without gaps, key/value/header bytes, NULL versus empty.
 *
 * Each test starts its own broker (test/helpers/broker-process.ts) with 4 partitions per auto-created
 * topic; kcat cannot create topics, so topics come from auto-creation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { waitUntilWrittenOut } from '../helpers/waiting.js';
import {
  consumeBinary,
  consumeJson,
  deliveryFailures,
  deliveryReports,
  delimiterArgs,
  describeRun,
  inPartition,
  KcatProcess,
  kcatSucceeds,
  keyDelimiterByte,
  parseDeliveryLine,
  parseJsonMessages,
  preview,
  producerInput,
  recordDelimiterByte,
  runKcat,
  valueOnlyDelimiterArgs,
} from '../helpers/kcat.js';
import type { ConsumedRecord, DeliveryReport, KcatResult, RecordToProduce } from '../helpers/kcat.js';

const partitionCount = 4;
const testTimeoutMs = 90_000;

// --- deterministic content --------------------------------------------------------------------------

/** mulberry32: a small seeded generator, so that a failing run can be replayed exactly. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;

function randomInteger(random: Random, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

/** Any bytes but the two delimiters: NUL, newlines, bytes ≥ 0x80 that are not UTF-8… */
function binaryContent(random: Random, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) {
    let byte = randomInteger(random, 0, 255);
    while (byte === recordDelimiterByte || byte === keyDelimiterByte) byte = randomInteger(random, 0, 255);
    bytes[index] = byte;
  }
  return bytes;
}

const words = ['osprey', 'kafka', 'héllo', 'wörld', '日本語', 'ünïcode', '🦅', 'batch', 'offset', 'partition', 'a', 'zz', '\t', '\n', '\0', '"quoted"', '\\'];

/** Text that compresses well (so codecs really compress), with multibyte UTF-8, quotes, NUL, newlines. */
function textContent(random: Random, length: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  while (total < length) {
    const word = Buffer.from(`${words[randomInteger(random, 0, words.length - 1)] ?? 'x'} `);
    parts.push(word);
    total += word.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

function someLength(random: Random): number {
  const draw = random();
  if (draw < 0.3) return randomInteger(random, 1, 16);
  if (draw < 0.8) return randomInteger(random, 17, 600);
  if (draw < 0.95) return randomInteger(random, 601, 4000);
  return randomInteger(random, 4001, 16_000);
}

/** Any bytes but the delimiters, as a random run repeated: every byte value occurs, and codecs still find something to compress. */
function repeatedBinaryContent(random: Random, length: number): Buffer {
  const run = binaryContent(random, randomInteger(random, 1, 64));
  const bytes = Buffer.alloc(length);
  for (let position = 0; position < length; position += run.length) run.copy(bytes, position, 0, Math.min(run.length, length - position));
  return bytes;
}

function someContent(random: Random): Buffer {
  const length = someLength(random);
  const draw = random();
  if (draw < 0.2) return binaryContent(random, length);
  if (draw < 0.6) return repeatedBinaryContent(random, length);
  return textContent(random, length);
}

function someKey(random: Random, index: number): Buffer {
  return random() < 0.5 ? Buffer.from(`key-${index}`) : binaryContent(random, randomInteger(random, 1, 40));
}

// --- one kcat producer per partition, each with its own kind of records -------------------------------

interface PartitionPlan {
  readonly description: string;
  readonly keyed: boolean;
  /** kcat -Z: empty key or value becomes NULL. */
  readonly emptyIsNull: boolean;
  readonly headerArgs: readonly string[];
  readonly expectedHeaders: ReadonlyArray<readonly [string, Buffer | null]>;
  record(random: Random, index: number): RecordToProduce;
}

const partitionPlans: readonly PartitionPlan[] = [
  {
    description: 'keys (NULL, empty and set), empty values, four headers including a NULL and an empty value',
    keyed: true,
    emptyIsNull: false,
    headerArgs: ['-H', 'trace-id=abc123', '-H', 'greeting=héllo wörld ✓', '-H', 'flag', '-H', 'empty='],
    expectedHeaders: [
      ['trace-id', Buffer.from('abc123')],
      ['greeting', Buffer.from('héllo wörld ✓')],
      ['flag', null],
      ['empty', Buffer.alloc(0)],
    ],
    record(random, index) {
      switch (index % 10) {
        case 0:
          return { key: null, value: someContent(random) };
        case 1:
          return { key: Buffer.alloc(0), value: someContent(random) };
        case 2:
          return { key: someKey(random, index), value: Buffer.alloc(0) };
        default:
          return { key: someKey(random, index), value: someContent(random) };
      }
    },
  },
  {
    description: 'NULL values, NULL keys, both NULL (kcat -Z), no headers',
    keyed: true,
    emptyIsNull: true,
    headerArgs: [],
    expectedHeaders: [],
    record(random, index) {
      switch (index % 5) {
        case 0:
          return { key: someKey(random, index), value: null };
        case 1:
          return { key: null, value: someContent(random) };
        case 2:
          return { key: null, value: null };
        default:
          return { key: someKey(random, index), value: someContent(random) };
      }
    },
  },
  {
    description: 'values only (NULL keys), no headers',
    keyed: false,
    emptyIsNull: false,
    headerArgs: [],
    expectedHeaders: [],
    record(random) {
      return { key: null, value: someContent(random) };
    },
  },
  {
    description: 'keys and values, a repeated header name and a value holding "="',
    keyed: true,
    emptyIsNull: false,
    headerArgs: ['-H', 'dup=1', '-H', 'dup=2', '-H', 'dup=3', '-H', 'k=v=w'],
    expectedHeaders: [
      ['dup', Buffer.from('1')],
      ['dup', Buffer.from('2')],
      ['dup', Buffer.from('3')],
      ['k', Buffer.from('v=w')],
    ],
    record(random, index) {
      return { key: someKey(random, index), value: someContent(random) };
    },
  },
];

function planRecords(plan: PartitionPlan, seed: number, count: number): RecordToProduce[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, index) => plan.record(random, index));
}

function producerArgs(bootstrap: string, topic: string, partition: number, extra: readonly string[]): string[] {
  return ['-P', '-b', bootstrap, '-t', topic, '-p', String(partition), '-X', 'acks=all', '-v', '-v', ...extra];
}

interface ProducedPartition {
  readonly partition: number;
  readonly records: readonly RecordToProduce[];
  readonly expectedHeaders: ReadonlyArray<readonly [string, Buffer | null]>;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly result: KcatResult;
}

/** Produces `records` to one partition with kcat -P (exactly, per producerInput) and checks every delivery report. */
async function producePartition(
  bootstrap: string,
  topic: string,
  partition: number,
  records: readonly RecordToProduce[],
  options: { keyed: boolean; emptyIsNull: boolean; extraArgs?: readonly string[]; firstOffset?: number },
): Promise<{ result: KcatResult; startedAtMs: number; endedAtMs: number }> {
  const input = producerInput(records, options);
  const args = producerArgs(bootstrap, topic, partition, [
    ...(options.keyed ? delimiterArgs : valueOnlyDelimiterArgs),
    ...(options.emptyIsNull ? ['-Z'] : []),
    ...(options.extraArgs ?? []),
  ]);
  const startedAtMs = Date.now();
  const result = await runKcat(args, { input, timeoutMs: 60_000 });
  const endedAtMs = Date.now();
  assert.ok(result.exitCode === 0 && !result.timedOut, `producing ${records.length} records to ${topic} [${partition}] failed\n${describeRun(result)}`);
  assertDeliveredContiguously(deliveryReports(result.stderr), partition, options.firstOffset ?? 0, records.length, result);
  return { result, startedAtMs, endedAtMs };
}

/** The delivery reports name exactly the offsets first … first+count−1 of `partition`. */
function assertDeliveredContiguously(reports: readonly DeliveryReport[], partition: number, first: number, count: number, result: KcatResult): void {
  const offsets = reports.map((report) => {
    assert.equal(report.partition, partition, `a delivery report names partition ${report.partition}, expected ${partition}\n${result.command}`);
    return report.offset;
  });
  offsets.sort((left, right) => left - right);
  const expected = Array.from({ length: count }, (_, index) => first + index);
  assert.equal(offsets.length, count, `${count} records produced, ${offsets.length} delivery reports\n${describeRun(result)}`);
  assert.deepEqual(offsets, expected, `delivery offsets are not ${first}…${first + count - 1}\n${result.command}`);
}

/** Whether `promise` settles within `timeoutMs`; its timer is cleared either way, so it never holds the test process open. */
async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

// --- comparing what came back -------------------------------------------------------------------------

function sameBytes(left: Buffer | null, right: Buffer | null): boolean {
  if (left === null || right === null) return left === right;
  return left.equals(right);
}

/**
 * `consumed` (one partition, as kcat returned it) is exactly `expected`, at offsets first, first+1, …
 * With expectedHeaders undefined the headers are not compared (the binary format carries none).
 */
function assertSameRecords(
  consumed: readonly ConsumedRecord[],
  expected: readonly RecordToProduce[],
  context: string,
  expectations: { firstOffset?: number; headers?: ReadonlyArray<readonly [string, Buffer | null]> } = {},
): void {
  const firstOffset = expectations.firstOffset ?? 0;
  assert.equal(consumed.length, expected.length, `${context}: ${expected.length} records expected, kcat read ${consumed.length}`);
  consumed.forEach((record, index) => {
    const wanted = expected[index];
    assert.ok(wanted !== undefined);
    const where = `${context}: record ${index} (offset ${record.offset})`;
    assert.equal(record.offset, firstOffset + index, `${where}: offset ${firstOffset + index} expected`);
    assert.ok(sameBytes(record.key, wanted.key), `${where}: key ${preview(record.key)}, expected ${preview(wanted.key)}`);
    assert.ok(sameBytes(record.value, wanted.value), `${where}: value ${preview(record.value)}, expected ${preview(wanted.value)}`);
    if (expectations.headers !== undefined) {
      const headers = record.headers ?? [];
      const shown = (list: ReadonlyArray<readonly [string, Buffer | null]>): string => list.map(([name, value]) => `${name}=${preview(value)}`).join(', ');
      const same = headers.length === expectations.headers.length && headers.every(([name, value], position) => {
        const wantedHeader = expectations.headers?.[position];
        return wantedHeader !== undefined && name === wantedHeader[0] && sameBytes(value, wantedHeader[1]);
      });
      assert.ok(same, `${where}: headers [${shown(headers)}], expected [${shown(expectations.headers)}]`);
    }
  });
}

// --- what the broker wrote (docs/storage-format.md) ----------------------------------------------------

interface StoredBatch {
  readonly baseOffset: number;
  readonly recordsCount: number;
  readonly codec: number;
}

/** The batch headers of every `.log` segment of `<dataDir>/<topic>-<partition>/`, in offset order. */
function storedBatches(dataDir: string, topic: string, partition: number): StoredBatch[] {
  const directory = join(dataDir, `${topic}-${partition}`);
  const segments = readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
  const batches: StoredBatch[] = [];
  for (const segment of segments) {
    const bytes = readFileSync(join(directory, segment));
    let position = 0;
    while (position + 61 <= bytes.length) {
      const batchLength = bytes.readInt32BE(position + 8);
      batches.push({
        baseOffset: Number(bytes.readBigInt64BE(position)),
        codec: bytes.readInt16BE(position + 21) & 0x07,
        recordsCount: bytes.readInt32BE(position + 57),
      });
      position += 12 + batchLength;
    }
    assert.equal(position, bytes.length, `${directory}/${segment}: batches end at byte ${position} of ${bytes.length}`);
  }
  return batches;
}

const codecNumbers = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
type Codec = keyof typeof codecNumbers;

// --- broker lifecycle -----------------------------------------------------------------------------------

function startBroker(extraArgs: readonly string[] = []): Promise<BrokerProcess> {
  return startBrokerProcess({ args: ['--num-partitions', String(partitionCount), ...extraArgs] });
}

/** Runs `body`; a broker still running afterwards (the test failed midway) is killed. */
async function withBroker(extraArgs: readonly string[], body: (holder: { broker: BrokerProcess }) => Promise<void>): Promise<void> {
  const holder = { broker: await startBroker(extraArgs) };
  try {
    await body(holder);
  } finally {
    await holder.broker.kill9();
  }
}

// --- 1. every codec --------------------------------------------------------------------------------------

const recordsPerPartition = 1250;

for (const codec of Object.keys(codecNumbers) as Codec[]) {
  test(`kcat ${codec}: ${recordsPerPartition * partitionCount} records over ${partitionCount} partitions come back byte for byte`, { timeout: testTimeoutMs }, async () => {
    await withBroker([], async ({ broker }) => {
      const topic = `codec-${codec}`;
      const batching = ['-X', `compression.codec=${codec}`, '-X', 'linger.ms=5', '-X', 'batch.num.messages=1000'];
      const produced: ProducedPartition[] = await Promise.all(
        partitionPlans.map(async (plan, partition) => {
          const records = planRecords(plan, 1000 * codecNumbers[codec] + partition + 1, recordsPerPartition);
          const run = await producePartition(broker.bootstrap, topic, partition, records, {
            keyed: plan.keyed,
            emptyIsNull: plan.emptyIsNull,
            extraArgs: [...plan.headerArgs, ...batching],
          });
          return { partition, records, expectedHeaders: plan.expectedHeaders, ...run };
        }),
      );

      const viaJson = await consumeJson(broker.bootstrap, topic);
      const viaBinary = await consumeBinary(broker.bootstrap, topic);
      for (const { partition, records, expectedHeaders, startedAtMs, endedAtMs } of produced) {
        const plan = partitionPlans[partition]?.description ?? '';
        const fromJson = inPartition(viaJson, partition);
        assertSameRecords(fromJson, records, `${topic} [${partition}] (${plan}), kcat -J`, { headers: expectedHeaders });
        assertSameRecords(inPartition(viaBinary, partition), records, `${topic} [${partition}] (${plan}), kcat -f binary`);
        for (const record of fromJson) {
          assert.equal(record.timestampType, 'create', `${topic} [${partition}] offset ${record.offset}: timestamp type`);
          assert.ok(
            record.timestamp >= startedAtMs && record.timestamp <= endedAtMs,
            `${topic} [${partition}] offset ${record.offset}: timestamp ${record.timestamp} is not the producer's (${startedAtMs}…${endedAtMs})`,
          );
        }
        await waitUntilWrittenOut(broker);
        assertStoredAsProduced(broker.dataDir, topic, partition, codec);
      }
      assert.equal(viaJson.length, recordsPerPartition * partitionCount, 'kcat -J read records from no other partition');
      assert.ok(viaJson.every((record) => record.topic === topic));

      await broker.stop();
    });
  });
}

/** The log holds the batches as kcat sent them: contiguous, all records, in this codec, many per batch. */
function assertStoredAsProduced(dataDir: string, topic: string, partition: number, codec: Codec): void {
  const batches = storedBatches(dataDir, topic, partition);
  let nextOffset = 0;
  for (const batch of batches) {
    assert.equal(batch.baseOffset, nextOffset, `${topic} [${partition}]: a stored batch starts at ${batch.baseOffset}, expected ${nextOffset}`);
    nextOffset += batch.recordsCount;
  }
  assert.equal(nextOffset, recordsPerPartition, `${topic} [${partition}]: the stored batches hold ${nextOffset} records`);
  // librdkafka sends a batch uncompressed when compressing it does not make it smaller; nearly all of
  // this content compresses, so nearly every record must have travelled in the codec asked for.
  const unexpected = batches.filter((batch) => batch.codec !== codecNumbers[codec] && batch.codec !== codecNumbers.none);
  assert.deepEqual(unexpected, [], `${topic} [${partition}]: stored batches in another codec than ${codec}`);
  const compressedRecords = batches.filter((batch) => batch.codec === codecNumbers[codec]).reduce((sum, batch) => sum + batch.recordsCount, 0);
  assert.ok(
    compressedRecords >= 0.9 * recordsPerPartition,
    `${topic} [${partition}]: only ${compressedRecords} of ${recordsPerPartition} records are stored in ${codec} batches ` +
      `(batches as offset:codec:records ${batches.map((batch) => `${batch.baseOffset}:${batch.codec}:${batch.recordsCount}`).join(' ')}). ` +
      'librdkafka 2.0.2 compresses with lz4 only when ApiVersions lists FindCoordinator v0, and with zstd only with Produce v7 and Fetch v10.',
  );
  const largest = Math.max(...batches.map((batch) => batch.recordsCount));
  assert.ok(largest >= 50, `${topic} [${partition}]: the largest batch holds ${largest} records: kcat did not batch, so this test proves little`);
}

// --- 2. durability ----------------------------------------------------------------------------------------

function numberedRecords(label: string, first: number, count: number): RecordToProduce[] {
  const random = seededRandom(first + label.length);
  return Array.from({ length: count }, (_, index) => ({
    key: Buffer.from(`${label}-${first + index}`),
    value: Buffer.concat([Buffer.from(`${label} #${first + index} `), textContent(random, randomInteger(random, 0, 200))]),
  }));
}

test('kcat acks=all: every acknowledged record survives kill -9, and offsets go on without a gap after the restart', { timeout: testTimeoutMs }, async () => {
  await withBroker([], async (holder) => {
    const topic = 'durable';
    const before = [0, 1].map((partition) => numberedRecords(`p${partition}`, 0, 2000));
    const after = [0, 1].map((partition) => numberedRecords(`p${partition}`, 2000, 500));
    const keyed = { keyed: true, emptyIsNull: false };

    await Promise.all(before.map((records, partition) => producePartition(holder.broker.bootstrap, topic, partition, records, keyed)));
    await holder.broker.kill9();
    holder.broker = await holder.broker.restart();

    const recovered = await consumeJson(holder.broker.bootstrap, topic);
    for (const partition of [0, 1]) {
      assertSameRecords(inPartition(recovered, partition), before[partition] ?? [], `${topic} [${partition}] after kill -9`);
    }
    assert.equal(inPartition(recovered, 2).length + inPartition(recovered, 3).length, 0, 'partitions 2 and 3 were never written');

    await Promise.all(after.map((records, partition) => producePartition(holder.broker.bootstrap, topic, partition, records, { ...keyed, firstOffset: 2000 })));
    const everything = await consumeJson(holder.broker.bootstrap, topic);
    for (const partition of [0, 1]) {
      assertSameRecords(inPartition(everything, partition), [...(before[partition] ?? []), ...(after[partition] ?? [])], `${topic} [${partition}] after more produce`);
    }
    await holder.broker.stop();
  });
});

test('kcat acks=all: kill -9 in the middle of a stream keeps every acknowledged record, and the log stays a prefix of what was sent', { timeout: testTimeoutMs }, async (context) => {
  await withBroker([], async (holder) => {
    const topic = 'crash';
    const chunkRecords = 200;
    const acknowledgedBeforeCrash = 3000;
    const sent: RecordToProduce[] = [];
    const producer = new KcatProcess(producerArgs(holder.broker.bootstrap, topic, 0, [...delimiterArgs, '-X', 'linger.ms=2']), 60_000);
    const delivered: DeliveryReport[] = [];
    let enoughDelivered: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (enoughDelivered = resolve));
    producer.onStderrLine((line) => {
      const report = parseDeliveryLine(line);
      if (report === undefined) return;
      delivered.push(report);
      if (delivered.length >= acknowledgedBeforeCrash) enoughDelivered();
    });

    // Feed kcat steadily, so that the crash lands while batches are in flight.
    let crashed = false;
    const feeding = (async () => {
      while (!crashed && sent.length < 200_000) {
        const chunk = numberedRecords('crash', sent.length, chunkRecords);
        sent.push(...chunk);
        await producer.write(producerInput(chunk, { keyed: true, emptyIsNull: false }));
        await sleep(2); // paces the feed: a steady stream, so the crash lands among batches in flight
      }
    })();
    const deliveredInTime = await settlesWithin(Promise.race([enough, producer.result.then(() => Promise.reject(new Error('kcat exited')))]), 30_000).catch(() => false);
    if (!deliveredInTime) {
      crashed = true;
      producer.kill();
    }
    assert.ok(deliveredInTime, `kcat did not report ${acknowledgedBeforeCrash} deliveries (it reported ${delivered.length})\n${producer.command}\n${producer.stderr.slice(-3000)}`);
    await holder.broker.kill9();
    crashed = true;
    await feeding;
    producer.kill();
    await producer.result;
    // Every report kcat printed, up to its kill, acknowledges a write made before the broker died.
    const acknowledged = delivered.map((report) => report.offset);

    // Before the crash the broker was healthy: kcat sent in order, so the k-th record sent got offset k.
    assert.ok(delivered.every((report) => report.partition === 0));
    const acknowledgedSorted = [...acknowledged].sort((left, right) => left - right);
    assert.deepEqual(acknowledgedSorted, Array.from({ length: acknowledged.length }, (_, index) => index), 'acknowledged offsets before the crash are 0…n−1');

    holder.broker = await holder.broker.restart();
    const recovered = inPartition(await consumeBinary(holder.broker.bootstrap, topic), 0);
    assert.ok(
      recovered.length >= acknowledged.length,
      `${acknowledged.length} records were acknowledged before kill -9, only ${recovered.length} are in the log after the restart`,
    );
    assert.ok(recovered.length <= sent.length, `the log holds ${recovered.length} records, more than the ${sent.length} sent`);
    context.diagnostic(`sent ${sent.length}, acknowledged before kill -9 ${acknowledged.length}, in the log after the restart ${recovered.length}`);
    assertSameRecords(recovered, sent.slice(0, recovered.length), `${topic} [0] after kill -9 mid-stream (${acknowledged.length} acknowledged)`);

    const more = numberedRecords('after-crash', 0, 300);
    await producePartition(holder.broker.bootstrap, topic, 0, more, { keyed: true, emptyIsNull: false, firstOffset: recovered.length });
    const everything = inPartition(await consumeBinary(holder.broker.bootstrap, topic), 0);
    assertSameRecords(everything, [...sent.slice(0, recovered.length), ...more], `${topic} [0] after more produce`);
    await holder.broker.stop();
  });
});

// --- 3. clean stop ------------------------------------------------------------------------------------------

test('kcat: SIGTERM stops the broker with exit code 0 and the data is all there after a restart', { timeout: testTimeoutMs }, async () => {
  await withBroker([], async (holder) => {
    const topic = 'stopped';
    const records = [0, 1, 2, 3].map((partition) => numberedRecords(`stop${partition}`, 0, 500 + 100 * partition));
    await Promise.all(records.map((list, partition) => producePartition(holder.broker.bootstrap, topic, partition, list, { keyed: true, emptyIsNull: false, extraArgs: ['-X', 'compression.codec=lz4'] })));

    await holder.broker.stop();
    assert.equal(holder.broker.exitCode, 0);
    assert.equal(holder.broker.exitSignal, null);

    holder.broker = await holder.broker.restart();
    const recovered = await consumeJson(holder.broker.bootstrap, topic);
    records.forEach((list, partition) => assertSameRecords(inPartition(recovered, partition), list, `${topic} [${partition}] after SIGTERM and restart`));
    await holder.broker.stop();
    assert.equal(holder.broker.exitCode, 0);
  });
});

// --- 4. offsets by timestamp, relative and end ----------------------------------------------------------------

interface QueriedOffset {
  readonly offset: number;
  readonly error: string | undefined;
}

/** kcat -Q -J: the offset ListOffsets gives for `timestamp` (-1 latest, -2 earliest). */
async function queryOffset(bootstrap: string, topic: string, partition: number, timestamp: number): Promise<QueriedOffset> {
  const result = await kcatSucceeds(['-Q', '-b', bootstrap, '-t', `${topic}:${partition}:${timestamp}`, '-J']);
  const answer = JSON.parse(result.stdout.toString('utf8')) as Record<string, Record<string, { partition: number; offset: number; error?: string } | string>>;
  const entry = answer[topic]?.[String(partition)];
  assert.ok(entry !== undefined && typeof entry !== 'string', `kcat -Q said ${result.stdout.toString('utf8')}`);
  return { offset: entry.offset, error: entry.error };
}

test('kcat: -o s@timestamp, -Q by timestamp, -o -N, -o end, and a consumer waiting at the end', { timeout: testTimeoutMs }, async () => {
  await withBroker([], async ({ broker }) => {
    const topic = 'times';
    const counts = [
      [500, 500],
      [300, 300],
    ] as const;
    const keyed = { keyed: true, emptyIsNull: false };
    const waves = [0, 1].map((wave) => [0, 1].map((partition) => numberedRecords(`w${wave}p${partition}`, 0, counts[partition]?.[wave] ?? 0)));
    const produceWave = (wave: number): Promise<unknown> =>
      Promise.all([0, 1].map((partition) => producePartition(broker.bootstrap, topic, partition, waves[wave]?.[partition] ?? [], { ...keyed, firstOffset: wave === 0 ? 0 : (counts[partition]?.[0] ?? 0) })));

    const beforeEverything = Date.now() - 1;
    await produceWave(0);
    // What is tested is a lookup by time: the clock moves on around the boundary between the waves.
    await sleep(20);
    const boundary = Date.now();
    await sleep(20);
    await produceWave(1);
    const afterEverything = Date.now() + 60_000;

    // The premise: librdkafka stamps records with the wall clock at produce time.
    const all = await consumeJson(broker.bootstrap, topic);
    for (const partition of [0, 1]) {
      const records = inPartition(all, partition);
      const firstWave = counts[partition]?.[0] ?? 0;
      assert.equal(records.length, firstWave + (counts[partition]?.[1] ?? 0));
      records.forEach((record, index) => {
        const inFirstWave = index < firstWave;
        assert.ok(inFirstWave ? record.timestamp < boundary : record.timestamp >= boundary, `${topic} [${partition}] offset ${record.offset}: timestamp ${record.timestamp} is on the wrong side of ${boundary}`);
      });
    }

    for (const partition of [0, 1]) {
      const firstWave = counts[partition]?.[0] ?? 0;
      const secondWave = waves[1]?.[partition] ?? [];
      const end = firstWave + secondWave.length;
      const context = `${topic} [${partition}]`;

      const fromBoundary = await consumeJson(broker.bootstrap, topic, { partition, offset: `s@${boundary}` });
      assertSameRecords(fromBoundary, secondWave, `${context} -o s@${boundary}`, { firstOffset: firstWave });

      assert.deepEqual(await queryOffset(broker.bootstrap, topic, partition, boundary), { offset: firstWave, error: undefined }, `${context} -Q at the boundary`);
      assert.deepEqual(await queryOffset(broker.bootstrap, topic, partition, beforeEverything), { offset: 0, error: undefined }, `${context} -Q before every record`);
      assert.deepEqual(await queryOffset(broker.bootstrap, topic, partition, afterEverything), { offset: -1, error: undefined }, `${context} -Q after every record: Kafka answers -1`);
      assert.deepEqual(await queryOffset(broker.bootstrap, topic, partition, -1), { offset: end, error: undefined }, `${context} -Q latest`);
      assert.deepEqual(await queryOffset(broker.bootstrap, topic, partition, -2), { offset: 0, error: undefined }, `${context} -Q earliest`);

      const future = await consumeJson(broker.bootstrap, topic, { partition, offset: `s@${afterEverything}` });
      assert.equal(future.length, 0, `${context} -o s@<after every record> read ${future.length} records`);

      const lastTen = await consumeJson(broker.bootstrap, topic, { partition, offset: '-10' });
      assertSameRecords(lastTen, secondWave.slice(-10), `${context} -o -10`, { firstOffset: end - 10 });

      const atEnd = await consumeJson(broker.bootstrap, topic, { partition, offset: 'end' });
      assert.equal(atEnd.length, 0, `${context} -o end read ${atEnd.length} records`);

      const absolute = await consumeJson(broker.bootstrap, topic, { partition, offset: String(firstWave - 3), extraArgs: ['-c', '5'] });
      assertSameRecords(absolute, [...(waves[0]?.[partition] ?? []).slice(-3), ...secondWave.slice(0, 2)], `${context} -o ${firstWave - 3} -c 5`, { firstOffset: firstWave - 3 });
    }

    const bothLastFive = await consumeJson(broker.bootstrap, topic, { offset: '-5' });
    assert.deepEqual(
      bothLastFive.map((record) => `${record.partition}:${record.offset}`).sort(),
      ['0:995', '0:996', '0:997', '0:998', '0:999', '1:595', '1:596', '1:597', '1:598', '1:599'],
      '-o -5 over the whole topic: the last five of each written partition',
    );

    // A consumer at the end gets a record produced after it started waiting (a waiting Fetch).
    const waiting = new KcatProcess(
      ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-o', 'end', '-c', '1', '-J', '-X', 'enable.partition.eof=true'],
      30_000,
    );
    const atEof = new Promise<void>((resolve) => waiting.onStderrLine((line) => (line.includes('Reached end of topic') ? resolve() : undefined)));
    const ready = await settlesWithin(atEof, 15_000);
    if (!ready) waiting.kill();
    assert.ok(ready, `the waiting consumer never reached the end\n${waiting.command}\n${waiting.stderr}`);
    const late = numberedRecords('late', 0, 1);
    await producePartition(broker.bootstrap, topic, 0, late, { ...keyed, firstOffset: 1000 });
    const waited = await waiting.result;
    assert.ok(waited.exitCode === 0 && !waited.timedOut, `the waiting consumer did not get the late record\n${describeRun(waited)}`);
    assertSameRecords(parseJsonMessages(waited.stdout), late, `${topic} [0] waiting consumer`, { firstOffset: 1000 });

    await broker.stop();
  });
});

// --- 5. metadata ---------------------------------------------------------------------------------------------

interface KcatMetadata {
  originating_broker: { id: number; name: string };
  controllerid: number;
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{ topic: string; error?: string; partitions: Array<{ partition: number; error?: string; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
}

async function listMetadata(bootstrap: string, topic?: string): Promise<KcatMetadata> {
  const result = await kcatSucceeds(['-L', '-J', '-b', bootstrap, ...(topic === undefined ? [] : ['-t', topic])]);
  return JSON.parse(result.stdout.toString('utf8')) as KcatMetadata;
}

/** Topics as `name: partition list`, with leader, replicas and ISR of each partition, internal (`__`) topics left out. */
function topicSummary(metadata: KcatMetadata): Record<string, string[]> {
  const summary: Record<string, string[]> = {};
  for (const topic of metadata.topics) {
    if (topic.topic.startsWith('__')) continue;
    summary[topic.topic] = topic.partitions
      .map((partition) => `${partition.partition} leader=${partition.leader} replicas=${partition.replicas.map((replica) => replica.id).join(',')} isr=${partition.isrs.map((replica) => replica.id).join(',')}${partition.error === undefined ? '' : ` error=${partition.error}`}`)
      .sort();
    if (topic.error !== undefined) summary[topic.topic]?.push(`error=${topic.error}`);
  }
  return summary;
}

function partitionsLed(count: number): string[] {
  return Array.from({ length: count }, (_, partition) => `${partition} leader=0 replicas=0 isr=0`).sort();
}

test('kcat -L -J: the broker at its host and port, each topic with its partitions', { timeout: testTimeoutMs }, async () => {
  await withBroker([], async (holder) => {
    const empty = await listMetadata(holder.broker.bootstrap);
    assert.deepEqual(empty.brokers, [{ id: 0, name: `127.0.0.1:${holder.broker.port}` }]);
    assert.equal(empty.originating_broker.id, 0);
    assert.equal(empty.controllerid, 0);
    assert.deepEqual(topicSummary(empty), {}, 'a new broker has no topics');

    const names = ['meta-a', 'meta.b_c-d'];
    for (const name of names) await producePartition(holder.broker.bootstrap, name, 3, numberedRecords(name, 0, 3), { keyed: true, emptyIsNull: false });
    const listed = await listMetadata(holder.broker.bootstrap);
    assert.deepEqual(topicSummary(listed), { 'meta-a': partitionsLed(4), 'meta.b_c-d': partitionsLed(4) });
    assert.deepEqual(topicSummary(await listMetadata(holder.broker.bootstrap, 'meta-a')), { 'meta-a': partitionsLed(4) }, 'kcat -L -t meta-a');

    // The partition count belongs to the topic: a restart with another default keeps it, new topics take the new one.
    await holder.broker.stop();
    holder.broker = await startBrokerProcess({ dataDir: holder.broker.dataDir, args: ['--num-partitions', '2'] });
    await producePartition(holder.broker.bootstrap, 'meta-new', 1, numberedRecords('new', 0, 2), { keyed: true, emptyIsNull: false });
    const afterRestart = await listMetadata(holder.broker.bootstrap);
    assert.deepEqual(afterRestart.brokers, [{ id: 0, name: `127.0.0.1:${holder.broker.port}` }]);
    assert.deepEqual(topicSummary(afterRestart), { 'meta-a': partitionsLed(4), 'meta.b_c-d': partitionsLed(4), 'meta-new': partitionsLed(2) });
    await holder.broker.stop();
  });
});

// --- 6. big records --------------------------------------------------------------------------------------------

test('kcat: a 900 KB record round-trips; one over max.message.bytes is refused and the broker goes on serving', { timeout: testTimeoutMs }, async () => {
  const maxMessageBytes = 950_000;
  await withBroker(['--topic-defaults.max-message-bytes', String(maxMessageBytes)], async ({ broker }) => {
    const topic = 'big';
    const random = seededRandom(900);
    const files = temporaryDirectory('osprey-kcat-big-');
    const bigValue = binaryContent(random, 900 * 1024);
    const tooBigValue = binaryContent(random, 990_000);
    writeFileSync(join(files, 'big'), bigValue);
    writeFileSync(join(files, 'too-big'), tooBigValue);
    const fileProducer = (file: string, key: string): string[] => producerArgs(broker.bootstrap, topic, 0, ['-k', key, join(files, file)]);

    const accepted = await kcatSucceeds(fileProducer('big', 'big-key'));
    assert.deepEqual(deliveryReports(accepted.stderr), [{ partition: 0, offset: 0 }], `the 900 KB record\n${describeRun(accepted)}`);

    const refused = await runKcat(fileProducer('too-big', 'too-big-key'));
    assert.equal(refused.exitCode, 1, `kcat should fail the delivery of a ${tooBigValue.length}-byte record (max.message.bytes ${maxMessageBytes})\n${describeRun(refused)}`);
    assert.deepEqual(deliveryFailures(refused.stderr), ['Broker: Message size too large'], describeRun(refused));
    assert.deepEqual(deliveryReports(refused.stderr), []);

    const small = numberedRecords('small', 0, 1);
    await producePartition(broker.bootstrap, topic, 0, small, { keyed: true, emptyIsNull: false, firstOffset: 1 });
    const expected = [{ key: Buffer.from('big-key'), value: bigValue }, ...small];
    assertSameRecords(await consumeBinary(broker.bootstrap, topic, { partition: 0 }), expected, `${topic} [0], kcat -f binary`);
    assertSameRecords(await consumeJson(broker.bootstrap, topic, { partition: 0 }), expected, `${topic} [0], kcat -J`, { headers: [] });
    await waitUntilWrittenOut(broker);
    const stored = storedBatches(broker.dataDir, topic, 0);
    assert.deepEqual(stored.map((batch) => [batch.baseOffset, batch.recordsCount]), [[0, 1], [1, 1]], 'the refused record left nothing in the log');
    await broker.stop();
  });
});
