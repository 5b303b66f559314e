/**
 * Osprey micro-benchmarks, so that a regression in the broker figures shows where it comes from:
 * the Kafka codecs per API (the versions current clients speak), CRC32C, record batch encode/decode,
 * the storage append path (with and without fsync) and the fetch path (tail cache and segment files).
 *
 * Each runs for a fixed time per round after a warm-up; figures are medians of rounds.
 */
import { crc32c } from '@node-rs/crc32';
import { mkdtempSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { codecFor } from '../src/protocol/kafka/codec.js';
import { fetchRequest, fetchResponse } from '../src/protocol/kafka/messages/fetch.js';
import { metadataRequest, metadataResponse } from '../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../src/protocol/kafka/messages/produce.js';
import { decodeRecordBatch, encodeRecordBatch } from '../src/protocol/kafka/records.js';
import { Reader } from '../src/protocol/wire/reader.js';
import { Writer } from '../src/protocol/wire/writer.js';
import { Journal } from '../src/storage/journal.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import type { LogEnvironment, LogOptions } from '../src/storage/partition-log.js';
import { defaultBrokerConfig } from '../src/config/broker-config.js';
import { asOffset } from '../src/storage/offset.js';
import { hasCommand } from './lib/install.js';
import { removeDirectory, runCommand, temporaryDirectory } from './lib/processes.js';
import type { MicroResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

interface Case {
  readonly name: string;
  /** Bytes one operation handles, for MB/s; 0 when it does not apply. */
  readonly bytesPerOperation: number;
  /** When the bytes are only known after running (a fetch returns what the log has): bytes of the last operation. */
  readonly measuredBytesPerOperation?: () => number;
  readonly note: string;
  /** Runs `operations` operations; may be async. */
  readonly run: (operations: number) => void | Promise<void>;
  readonly setUp?: () => Promise<void>;
  readonly tearDown?: () => Promise<void>;
  /** One operation is one write + fdatasync cycle of this many bytes (held against fio's in the report). */
  readonly cycleBytes?: number;
}

const recordsPerBatch = 100;
const zeroUuid = Buffer.alloc(16);
const recordBytes = 100;

function sampleBatch(): Buffer {
  const value = Buffer.alloc(recordBytes, 0x61);
  return encodeRecordBatch({ baseTimestampMs: 1_700_000_000_000, records: Array.from({ length: recordsPerBatch }, () => ({ key: null, value })) });
}

function codecCases(): Case[] {
  const batch = sampleBatch();
  const produceRequestCodec = codecFor(produceRequest);
  const produceResponseCodec = codecFor(produceResponse);
  const fetchRequestCodec = codecFor(fetchRequest);
  const fetchResponseCodec = codecFor(fetchResponse);
  const metadataRequestCodec = codecFor(metadataRequest);
  const metadataResponseCodec = codecFor(metadataResponse);

  const produceValue = { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: 'bench-topic', topicId: zeroUuid, partitionData: [{ index: 0, records: batch }] }] };
  const produceBytes = encodeWith((writer) => produceRequestCodec.encode(9, produceValue, writer));
  const produceResponseValue = { responses: [{ name: 'bench-topic', topicId: zeroUuid, partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 1234n, logAppendTimeMs: -1n, logStartOffset: 0n, recordErrors: [], errorMessage: null }] }], throttleTimeMs: 0 };
  const fetchRequestValue = {
    replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'bench-topic', topicId: zeroUuid, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1000n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1_048_576 }] }],
    forgottenTopicsData: [], rackId: '',
  };
  const fetchRequestBytes = encodeWith((writer) => fetchRequestCodec.encode(12, fetchRequestValue, writer));
  const eightBatches = Buffer.concat(Array.from({ length: 8 }, () => batch));
  const fetchResponseValue = {
    throttleTimeMs: 0, errorCode: 0, sessionId: 0,
    responses: [{ topic: 'bench-topic', topicId: zeroUuid, partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 100_000n, lastStableOffset: 100_000n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records: eightBatches }] }],
  };
  const metadataResponseValue = {
    throttleTimeMs: 0, brokers: [{ nodeId: 0, host: '127.0.0.1', port: 9092, rack: null }], clusterId: 'bench', controllerId: 0,
    topics: [{ errorCode: 0, name: 'bench-topic', topicId: Buffer.alloc(16, 7), isInternal: false, partitions: Array.from({ length: 64 }, (_, index) => ({ errorCode: 0, partitionIndex: index, leaderId: 0, leaderEpoch: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] })), topicAuthorizedOperations: -2147483648 }],
    errorCode: 0,
  };
  const metadataResponseBytes = encodeWith((writer) => metadataResponseCodec.encode(12, metadataResponseValue, writer));
  const metadataRequestValue = { topics: [{ topicId: Buffer.alloc(16), name: 'bench-topic' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
  return [
    { name: 'Produce v9 request decode (1 partition, 100×100 B batch)', bytesPerOperation: produceBytes.length, note: 'broker side: what every produce costs before the log', run: (n) => repeat(n, () => produceRequestCodec.decode(9, new Reader(produceBytes))) },
    { name: 'Produce v9 request encode', bytesPerOperation: produceBytes.length, note: 'client side', run: (n) => repeat(n, () => encodeWith((writer) => produceRequestCodec.encode(9, produceValue, writer))) },
    { name: 'Produce v9 response encode', bytesPerOperation: 0, note: 'broker side', run: (n) => repeat(n, () => encodeWith((writer) => produceResponseCodec.encode(9, produceResponseValue, writer))) },
    { name: 'Fetch v12 request decode', bytesPerOperation: 0, note: 'broker side', run: (n) => repeat(n, () => fetchRequestCodec.decode(12, new Reader(fetchRequestBytes))) },
    { name: 'Fetch v12 response encode (8 batches, 83 KB)', bytesPerOperation: eightBatches.length, note: 'broker side; records passed through as stored bytes', run: (n) => repeat(n, () => encodeChunks((writer) => fetchResponseCodec.encode(12, fetchResponseValue, writer))) },
    { name: 'Metadata v12 response encode (64 partitions)', bytesPerOperation: 0, note: 'broker side', run: (n) => repeat(n, () => encodeWith((writer) => metadataResponseCodec.encode(12, metadataResponseValue, writer))) },
    { name: 'Metadata v12 response decode (64 partitions)', bytesPerOperation: 0, note: 'client side', run: (n) => repeat(n, () => metadataResponseCodec.decode(12, new Reader(metadataResponseBytes))) },
    { name: 'Metadata v12 request encode', bytesPerOperation: 0, note: 'client side', run: (n) => repeat(n, () => encodeWith((writer) => metadataRequestCodec.encode(12, metadataRequestValue, writer))) },
    { name: 'RecordBatch encode (100×100 B)', bytesPerOperation: batch.length, note: 'client side / tests; the broker never re-encodes', run: (n) => repeat(n, () => sampleBatch()) },
    { name: 'RecordBatch decode (100×100 B, CRC checked)', bytesPerOperation: batch.length, note: 'consumers, compaction; the broker produce path reads only the header', run: (n) => repeat(n, () => decodeRecordBatch(batch)) },
  ];
}

function crcCases(): Case[] {
  const small = Buffer.alloc(16 * 1024, 0x5a);
  const large = Buffer.alloc(1024 * 1024, 0x5a);
  return [
    { name: 'CRC32C 16 KiB', bytesPerOperation: small.length, note: '@node-rs/crc32', run: (n) => repeat(n, () => crc32c(small)) },
    { name: 'CRC32C 1 MiB', bytesPerOperation: large.length, note: '@node-rs/crc32', run: (n) => repeat(n, () => crc32c(large)) },
  ];
}

function logOptions(flush: LogOptions['flush']): LogOptions {
  return { segmentBytes: 256 * 1024 * 1024, segmentMs: 7 * 24 * 3600 * 1000, retentionMs: -1, retentionBytes: -1, indexIntervalBytes: 4096, flush, flushIntervalMs: 1000 };
}

function storageCases(dataParent: string): Case[] {
  const batch = sampleBatch();
  let directory = '';
  let log: PartitionLog | undefined;
  const open = (flush: LogOptions['flush']) => async () => {
    directory = temporaryDirectory(dataParent, 'osprey-micro-');
    log = await PartitionLog.open(join(directory, 'topic-0'), logOptions(flush));
  };
  const close = async () => {
    await log?.close();
    removeDirectory(directory);
  };
  const appendGroup = async (n: number, groupSize: number) => {
    const current = log!;
    for (let done = 0; done < n; done += groupSize) {
      let last: Promise<void> = Promise.resolve();
      for (let index = 0; index < groupSize; index += 1) last = current.append(Buffer.from(batch)).durable;
      await last;
    }
  };
  let filled: PartitionLog | undefined;
  let filledDirectory = '';
  const fill = async () => {
    filledDirectory = mkdtempSync(join(dataParent, 'osprey-micro-fetch-'));
    filled = await PartitionLog.open(join(filledDirectory, 'topic-0'), logOptions('never'));
    for (let index = 0; index < 2000; index += 1) filled.append(Buffer.from(batch));
    await filled.append(Buffer.from(batch)).durable;
  };
  const unfill = async () => {
    await filled?.close();
    removeDirectory(filledDirectory);
  };
  let lastReadBytes = 0;
  const readFrom = async (n: number, fetchOffset: () => number) => {
    for (let index = 0; index < n; index += 1) lastReadBytes = (await filled!.read(asOffset(fetchOffset()), 1024 * 1024)).byteCount;
  };
  let cursor = 0;
  return [
    { name: 'Append, flush=never (100×100 B batches)', bytesPerOperation: batch.length, note: 'PartitionLog.append: header checks, offsets, write; no fsync', setUp: open('never'), tearDown: close, run: (n) => appendGroup(n, 64) },
    { name: 'Append, flush=always, 8 batches per group commit', bytesPerOperation: batch.length, note: 'one fdatasync per 8 appended batches (~85 KB)', setUp: open('always'), tearDown: close, run: (n) => appendGroup(n, 8) },
    { name: 'Fetch the last 8 batches from the tail cache', bytesPerOperation: 0, measuredBytesPerOperation: () => lastReadBytes, note: 'PartitionLog.read at the log end: recent batches in memory, returned without copying', setUp: fill, tearDown: unfill, run: (n) => readFrom(n, () => 2001 * recordsPerBatch - 8 * recordsPerBatch) },
    { name: 'Fetch up to 1 MiB from segment files', bytesPerOperation: 0, measuredBytesPerOperation: () => lastReadBytes, note: 'PartitionLog.read of older data: index lookup + file read (page cache)', setUp: fill, tearDown: unfill, run: (n) => readFrom(n, () => ((cursor = (cursor + 1) % 1500) * recordsPerBatch)) },
  ];
}

/** Batches of 100 × 100 B per cycle in the cycle cases: 6 × 11 KB = 66 KB, about fio's 64 KiB block. */
const cycleBatches = 6;

/**
 * The group-commit cycle (write + one fdatasync of a batch of appends) against fio's 64 KiB write +
 * fdatasync (the machine section, same run, same disk): the same cycle through the partition log
 * with the broker's shared journal (its default: the segment write, the journal's writev and its
 * fdatasync), through the log fsyncing its own segment (journal off), and as a bare Node
 * writev + fdatasync loop of the same bytes, which shows what Node's thread pool adds to fio's
 * figure before any of Osprey's code does.
 */
function cycleCases(dataParent: string): Case[] {
  const batch = sampleBatch();
  const cycleBytes = cycleBatches * batch.length;
  /** One case's own log (each case keeps its own state: the cases are set up side by side). */
  const logCase = (withJournal: boolean, name: string, note: string): Case => {
    let directory = '';
    let log: PartitionLog | undefined;
    let journal: Journal | undefined;
    return {
      name, note, bytesPerOperation: cycleBytes, cycleBytes,
      setUp: async () => {
        directory = temporaryDirectory(dataParent, 'osprey-micro-cycle-');
        const environment: LogEnvironment = {};
        if (withJournal) {
          // As the broker opens it (src/broker/broker.ts), with the broker's default sizes.
          journal = await Journal.open(directory, { acceptsWrites: true, fileBytes: defaultBrokerConfig.journalFileBytes, maxBytes: defaultBrokerConfig.journalMaxBytes });
          environment.journal = journal;
        }
        log = await PartitionLog.open(join(directory, 'topic-0'), logOptions('always'), undefined, environment);
      },
      tearDown: async () => {
        await log?.close();
        await journal?.close();
        removeDirectory(directory);
      },
      run: async (n) => {
        const current = log!;
        for (let cycle = 0; cycle < n; cycle += 1) {
          let last: Promise<void> = Promise.resolve();
          for (let index = 0; index < cycleBatches; index += 1) last = current.append(Buffer.from(batch)).durable;
          await last;
        }
      },
    };
  };
  let bareDirectory = '';
  let handle: FileHandle | undefined;
  const block = Buffer.alloc(cycleBytes, 0x61);
  const size = `${cycleBatches} batches, ${(cycleBytes / 1000).toFixed(1)} KB`;
  return [
    logCase(true, `Cycle: append + shared journal, flush=always (${size} per fdatasync)`, "the broker's default: one journal writev on an O_DSYNC file per cycle; segments written behind it"),
    logCase(false, `Cycle: append, journal off, flush=always (${size} per fdatasync)`, 'the log fsyncs its own segment each cycle'),
    {
      name: `Cycle: bare Node writev + fdatasync (${(cycleBytes / 1000).toFixed(1)} KB)`, bytesPerOperation: cycleBytes, cycleBytes,
      note: 'fs/promises on the thread pool, no Osprey code: the floor for the cycles above',
      setUp: async () => {
        bareDirectory = temporaryDirectory(dataParent, 'osprey-micro-cycle-');
        handle = await openFile(join(bareDirectory, 'bare'), 'a');
      },
      tearDown: async () => {
        await handle?.close();
        removeDirectory(bareDirectory);
      },
      run: async (n) => {
        for (let cycle = 0; cycle < n; cycle += 1) {
          await handle!.writev([block]);
          await handle!.datasync();
        }
      },
    },
  ];
}

/**
 * Like measureCase, for cases whose figures are compared with each other on a shared, noisy disk:
 * all set up side by side, each calibrated, then their rounds taken in turn (A B C fio A B C fio …),
 * so that a slow second of the disk weighs on all of them alike. `fio`, when given, is a round of
 * fio's own cycle (its rate as fio reports it) taken after each round of the cases.
 */
async function measureInterleaved(entries: readonly Case[], roundMs: number, rounds: number, fio?: FioCycle): Promise<MicroResult[]> {
  const ready: Case[] = [];
  try {
    for (const entry of entries) {
      await entry.setUp?.();
      ready.push(entry);
    }
    const operations = [];
    for (const entry of entries) operations.push(await calibrate(entry, roundMs));
    const rates: number[][] = entries.map(() => []);
    const fioRates: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      for (const [index, entry] of entries.entries()) {
        const started = performance.now();
        await entry.run(operations[index]!);
        rates[index]!.push(operations[index]! / ((performance.now() - started) / 1000));
      }
      if (fio !== undefined) fioRates.push(await fio.round(Math.max(1, Math.round(roundMs / 1000))));
    }
    const results = entries.map((entry, index) => result(entry, rates[index]!));
    if (fio !== undefined) results.push(result({ name: fio.name, note: fio.note, bytesPerOperation: fio.blockBytes, cycleBytes: fio.blockBytes, run: () => undefined }, fioRates));
    return results;
  } finally {
    for (const entry of ready) await entry.tearDown?.();
  }
}

/** fio's write + fdatasync cycle, run for a round at a time between the cycle cases' rounds. */
interface FioCycle {
  readonly name: string;
  readonly note: string;
  readonly blockBytes: number;
  /** Runs fio for `seconds`; resolves with its write + fdatasync cycles per second. */
  round(seconds: number): Promise<number>;
}

/** The machine section's fio 64 KiB line (lib/machine.ts), a second at a time, in a scratch folder of `dataParent`; undefined without fio. */
function fioCycle(dataParent: string): FioCycle | undefined {
  if (!hasCommand('fio')) return undefined;
  const blockBytes = 64 * 1024;
  return {
    name: 'Cycle: fio 64 KiB write + fdatasync, in turn with the cycles above',
    note: 'fio --rw=write --bs=65536 --ioengine=sync --fdatasync=1 --direct=0, as in the machine section, a round at a time',
    blockBytes,
    async round(seconds) {
      const scratch = temporaryDirectory(dataParent, 'fio-');
      try {
        const { stdout } = await runCommand('fio', ['--name=cycle', `--directory=${scratch}`, '--rw=write', `--bs=${blockBytes}`, `--size=${2 ** 30}`, `--runtime=${seconds}`, '--ioengine=sync', '--fdatasync=1', '--end_fsync=1', '--direct=0', '--output-format=json'], { timeoutMs: 60_000 });
        const report = JSON.parse(stdout) as { jobs: Array<{ write: { iops: number } }> };
        return report.jobs[0]?.write.iops ?? 0;
      } finally {
        removeDirectory(scratch);
      }
    },
  };
}

/** How many operations of `entry` take about `roundMs`. */
async function calibrate(entry: Case, roundMs: number): Promise<number> {
  let operations = 1;
  for (;;) {
    const started = performance.now();
    await entry.run(operations);
    const elapsed = performance.now() - started;
    if (elapsed >= roundMs / 4 || operations >= 1 << 24) return Math.max(1, Math.round((operations * roundMs) / Math.max(elapsed, 0.001)));
    operations *= 4;
  }
}

function result(entry: Case, rates: readonly number[]): MicroResult {
  const operationsPerSecond = summarize(rates);
  const bytesPerOperation = entry.measuredBytesPerOperation?.() ?? entry.bytesPerOperation;
  const megabytesPerSecond = bytesPerOperation > 0 ? summarize(rates.map((rate) => (rate * bytesPerOperation) / 1e6)) : null;
  return { name: entry.name, operationsPerSecond, megabytesPerSecond, note: entry.note, ...(entry.cycleBytes === undefined ? {} : { cycleBytes: entry.cycleBytes }) };
}

function repeat(n: number, operation: () => unknown): void {
  for (let index = 0; index < n; index += 1) operation();
}

function encodeWith(encode: (writer: Writer) => void): Buffer {
  const writer = new Writer();
  encode(writer);
  return writer.toBuffer();
}

function encodeChunks(encode: (writer: Writer) => void): Buffer[] {
  const writer = new Writer();
  encode(writer);
  return writer.finish();
}

/** Operations per second of one case: calibrated to `roundMs` per round, then `rounds` rounds. */
async function measureCase(entry: Case, roundMs: number, rounds: number): Promise<MicroResult> {
  await entry.setUp?.();
  try {
    const operations = await calibrate(entry, roundMs);
    const rates: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const started = performance.now();
      await entry.run(operations);
      rates.push(operations / ((performance.now() - started) / 1000));
    }
    return result(entry, rates);
  } finally {
    await entry.tearDown?.();
  }
}

export async function runMicroBenchmarks(dataParent: string, quick: boolean, log: (line: string) => void): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  for (const entry of [...codecCases(), ...crcCases(), ...storageCases(dataParent)]) {
    const measured = await measureCase(entry, quick ? 150 : 500, quick ? 3 : 5);
    const throughput = measured.megabytesPerSecond === null ? '' : `, ${measured.megabytesPerSecond.median.toFixed(0)} MB/s`;
    log(`  ${entry.name}: ${Math.round(measured.operationsPerSecond.median).toLocaleString('en')} op/s${throughput}`);
    results.push(measured);
  }
  // Rounds of a second or more: a cycle costs about a millisecond, and a disk shared with other work
  // varies from one moment to the next.
  for (const measured of await measureInterleaved(cycleCases(dataParent), quick ? 1000 : 2000, quick ? 3 : 5, fioCycle(dataParent))) {
    log(`  ${measured.name}: ${Math.round(measured.operationsPerSecond.median).toLocaleString('en')} op/s, ${(1e6 / measured.operationsPerSecond.median).toFixed(0)} µs per cycle`);
    results.push(measured);
  }
  return results;
}
