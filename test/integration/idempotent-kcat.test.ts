/**
 * librdkafka's idempotent producer (kcat 1.7.1 on librdkafka 2.0.2, `-X enable.idempotence=true`:
 * acks=all, up to five requests in flight per connection, retries without end) against a real
 * broker process that is kill -9'd and restarted three times while kcat is producing.
 *
 * Each kill lands right after the broker wrote a produce request's batches to the partition files
 * (the test watches their sizes and kills at once, well before the group-commit fsync and the
 * answer), so librdkafka retries requests the broker already stored, together with the others that
 * were in flight behind them. Read back with kcat -C -e: every record exactly once, none missing,
 * and within each partition in the order kcat was given them, offsets contiguous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { killRightAfterAWrite } from '../helpers/crash-while-producing.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { consumeJson, deliveryFailures, describeRun, KcatProcess, recordDelimiterByte, valueOnlyDelimiterArgs } from '../helpers/kcat.js';
import type { ConsumedRecord } from '../helpers/kcat.js';

const partitionCount = 4;
const recordCount = 12_000;
const recordsPerWrite = 50;
/** kill -9 once this many records have been handed to kcat. */
const crashAfterRecords = [3_000, 6_000, 9_000];
const outageMs = 700;

/** Record n's value: its number, zero-padded, and some filler. */
function value(index: number): string {
  return `r${String(index).padStart(6, '0')}-${'x'.repeat(index % 40)}`;
}

function numberOf(record: ConsumedRecord): number {
  return Number(/^r(\d{6})-/.exec(record.value?.toString('latin1') ?? '')?.[1] ?? NaN);
}

/** Every record number 0..count-1 exactly once; within each partition increasing; offsets contiguous. */
function assertExactlyOnceInOrder(consumed: readonly ConsumedRecord[], count: number, label: string): void {
  const problems: string[] = [];
  const seen = new Map<number, number>();
  for (const record of consumed) seen.set(numberOf(record), (seen.get(numberOf(record)) ?? 0) + 1);
  const duplicates = [...seen].filter(([, times]) => times > 1).map(([number, times]) => `r${number}×${times}`);
  const missing = Array.from({ length: count }, (_, index) => index).filter((index) => !seen.has(index));
  const unexpected = [...seen.keys()].filter((number) => !(number >= 0 && number < count));
  if (duplicates.length > 0) problems.push(`${duplicates.length} duplicated: ${duplicates.slice(0, 10).join(', ')}`);
  if (missing.length > 0) problems.push(`${missing.length} missing: ${missing.slice(0, 10).map((index) => `r${index}`).join(', ')}`);
  if (unexpected.length > 0) problems.push(`${unexpected.length} never sent: ${unexpected.slice(0, 10).join(', ')}`);
  for (let partition = 0; partition < partitionCount; partition++) {
    const records = consumed.filter((record) => record.partition === partition);
    for (let index = 0; index < records.length; index++) {
      if (records[index]!.offset !== index) problems.push(`[${partition}] offset ${records[index]!.offset} at position ${index}`);
      if (index > 0 && numberOf(records[index]!) <= numberOf(records[index - 1]!)) {
        problems.push(`[${partition}] out of order at offset ${records[index]!.offset}: r${numberOf(records[index]!)} after r${numberOf(records[index - 1]!)}`);
      }
    }
  }
  assert.deepEqual(problems.slice(0, 30), [], `${label}:\n${problems.slice(0, 30).join('\n')}`);
}

test('kcat with enable.idempotence through three kill -9 restarts: every record once, in order per partition', { timeout: 90_000 }, async (t) => {
  let broker: BrokerProcess = await startBrokerProcess({ args: ['--num-partitions', String(partitionCount)] });
  const topic = 'idempotent-kcat';
  const kcat = new KcatProcess(
    [
      '-P',
      '-E', // kcat exits when all brokers are down unless told not to; librdkafka reconnects by itself
      '-b',
      broker.bootstrap,
      '-t',
      topic,
      ...valueOnlyDelimiterArgs,
      '-X',
      'enable.idempotence=true',
      '-X',
      'message.timeout.ms=60000',
      '-X',
      'reconnect.backoff.ms=50',
      '-X',
      'reconnect.backoff.max.ms=300',
      '-X',
      'linger.ms=2',
      '-X',
      'batch.num.messages=200',
    ],
    75_000,
  );
  let crashes = 0;
  let crashesRightAfterAWrite = 0;
  let written = 0;
  const crasher = (async () => {
    for (const threshold of crashAfterRecords) {
      while (written < threshold) await sleep(2);
      if (await killRightAfterAWrite(broker, topic)) crashesRightAfterAWrite++;
      crashes++;
      await sleep(outageMs); // the outage itself: kcat retries against a broker that is down
      broker = await broker.restart();
    }
  })();
  const delimiter = String.fromCharCode(recordDelimiterByte);
  for (let index = 0; index < recordCount; index += recordsPerWrite) {
    const chunk = Array.from({ length: Math.min(recordsPerWrite, recordCount - index) }, (_, offset) => value(index + offset) + delimiter).join('');
    await kcat.write(chunk);
    written = index + recordsPerWrite;
    await sleep(3); // paces the writes: a steady stream, so each crash lands among batches in flight
  }
  await crasher;
  kcat.endInput();
  const result = await kcat.result;
  assert.ok(result.exitCode === 0 && !result.timedOut, `kcat producer failed\n${describeRun(result)}`);
  assert.deepEqual(deliveryFailures(result.stderr), [], describeRun(result));
  t.diagnostic(`${recordCount} records through ${crashes} kill -9 restarts (${crashesRightAfterAWrite} right after a write); kcat took ${Math.round(result.elapsedMs)} ms`);
  assert.equal(crashesRightAfterAWrite, crashes, 'every kill came right after a write');

  const consumed = await consumeJson(broker.bootstrap, topic, { timeoutMs: 30_000 });
  assertExactlyOnceInOrder(consumed, recordCount, `${topic} (kcat stderr:\n${result.stderr.slice(-3000)})`);
  assert.equal(consumed.length, recordCount);
  await broker.stop();
});
