/**
 * The kill -9 scenario the client tests share: a client sends slices of records, first one at a
 * time, then from several senders at once, and the broker is killed while sends are in flight and
 * restarted on the same data. Afterwards every acknowledged slice must be stored at the offsets
 * its acknowledgement gave, and each partition must hold contiguous offsets from 0.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerProcess } from './broker-process.js';
import type { PartitionContents } from './partition-reader.js';
import { assertPartitionHolds, recordsOfPartition } from './record-fixtures.js';
import type { FixtureRecord } from './record-fixtures.js';

/** A slice the broker acknowledged, with the base offset it got in each partition. */
export interface AcknowledgedSlice {
  readonly slice: FixtureRecord[];
  readonly baseOffsets: Map<number, bigint>;
}

export interface CrashOptions {
  broker: BrokerProcess;
  sliceCount: number;
  /** Slices sent one at a time before the concurrent phase. */
  calmSends: number;
  concurrentSenders: number;
  /** Sends slice `index`; resolves once acknowledged and returns how many slices are acknowledged so far. */
  send(index: number): Promise<number>;
  /** The broker's last log lines, for failure messages. */
  tail(broker: BrokerProcess): string;
}

export interface CrashOutcome {
  /** The restarted broker. */
  broker: BrokerProcess;
  acknowledgedBeforeCrash: number;
  acknowledgedAfterCrash: number;
  failedSends: number;
}

/** Runs the sends, kills the broker with SIGKILL once ten concurrent sends are acknowledged, restarts it. */
export async function produceThroughCrash(options: CrashOptions): Promise<CrashOutcome> {
  const { calmSends, concurrentSenders, sliceCount } = options;
  let acknowledged = 0;
  const send = async (index: number): Promise<void> => {
    acknowledged = await options.send(index);
  };
  for (let index = 0; index < calmSends; index++) await send(index);
  let crashed = false;
  let failedSends = 0;
  let nextSlice = calmSends;
  const sender = async (): Promise<void> => {
    while (!crashed && nextSlice < sliceCount) {
      const index = nextSlice++;
      try {
        await send(index);
      } catch {
        failedSends++; // a send the crash interrupted: it may or may not have been stored
        return;
      }
    }
  };
  let sendersDone = false;
  const inFlight = Promise.all(Array.from({ length: concurrentSenders }, sender)).finally(() => {
    sendersDone = true;
  });
  while (acknowledged < calmSends + 10 && !sendersDone) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(!sendersDone, `the senders stopped before the crash (${failedSends} sends failed)\n--- broker log ---\n${options.tail(options.broker)}`);
  crashed = true;
  await options.broker.kill9();
  const acknowledgedBeforeCrash = acknowledged;
  const broker = await options.broker.restart();
  await inFlight; // a send retried against the restarted broker may still be acknowledged
  return { broker, acknowledgedBeforeCrash, acknowledgedAfterCrash: acknowledged - acknowledgedBeforeCrash, failedSends };
}

/** Every acknowledged slice sits at its acknowledged offsets; offsets are contiguous from 0 up to the high watermark. */
export function assertAcknowledgedStored(topic: string, contents: readonly PartitionContents[], acknowledged: readonly AcknowledgedSlice[]): void {
  for (const { slice, baseOffsets } of acknowledged) {
    for (const [partition, baseOffset] of baseOffsets) {
      const stored = contents[partition]?.records ?? [];
      const expected = recordsOfPartition(slice, partition);
      const start = Number(baseOffset);
      assertPartitionHolds(`${topic}/${partition} (acknowledged at ${baseOffset})`, stored.slice(start, start + expected.length), expected, baseOffset);
    }
  }
  for (const [partition, { records: stored, highWatermark }] of contents.entries()) {
    assert.equal(BigInt(stored.length), highWatermark, `${topic}/${partition}: records read vs high watermark`);
    stored.forEach((record, index) => assert.equal(record.offset, BigInt(index), `${topic}/${partition}: offsets contiguous from 0`));
  }
}

/** Bytes in the topic's segment files under the broker's data directory. */
export function topicLogBytes(dataDir: string, topic: string): number {
  let total = 0;
  for (const folder of readdirSync(dataDir)) {
    if (!folder.startsWith(`${topic}-`)) continue;
    for (const file of readdirSync(join(dataDir, folder))) if (file.endsWith('.log')) total += statSync(join(dataDir, folder, file)).size;
  }
  return total;
}

/**
 * What changes when the broker writes the topic's batches: the sizes of its segment files and the
 * modification times of the journal files (a commit writes there first; segments are written later,
 * behind it, and a reused journal file does not grow).
 */
function writeSignature(dataDir: string, topic: string): string {
  const journal = join(dataDir, 'journal');
  const stamps = existsSync(journal) ? readdirSync(journal).map((file) => String(statSync(join(journal, file), { bigint: true }).mtimeNs)) : [];
  return `${topicLogBytes(dataDir, topic)} ${stamps.join(',')}`;
}

/**
 * Kills the broker (SIGKILL) right after it writes the topic's batches (to the journal or the
 * segment files): spins on writeSignature for up to 20 ms at a time (blocking this process, so the
 * client cannot see an answer), and yields in between so the client can send its next request.
 * Returns false if no write came.
 */
export async function killRightAfterAWrite(broker: BrokerProcess, topic: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const before = writeSignature(broker.dataDir, topic);
    const spinUntil = performance.now() + 20;
    while (performance.now() < spinUntil) {
      if (writeSignature(broker.dataDir, topic) !== before) {
        process.kill(broker.pid, 'SIGKILL');
        await broker.kill9();
        return true;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await broker.kill9();
  return false;
}
