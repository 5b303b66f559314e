/**
 * KafkaJS 2.2.4's idempotent producer (`idempotent: true`, one request in flight as it requires)
 * against a real broker process that is kill -9'd and restarted three times mid-stream.
 *
 * Each kill lands where retries hurt: the test watches the partition files and kills the broker
 * the moment a produce request's batches reach them, before the client can have read the answer
 * (the watch is a busy loop in the client's own process, so the client cannot read anything while
 * it runs). The client then retries a request the broker already wrote: without de-duplication
 * those records would be stored twice. The producer retries through each outage (generous retries;
 * a send that still fails is sent again by the test, as an application would, and KafkaJS reuses its
 * sequence numbers for it). Read back with kcat (librdkafka, CRCs checked): every record exactly once, none missing,
 * in send order within each partition, offsets contiguous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { killRightAfterAWrite } from '../helpers/crash-while-producing.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { consumeJson } from '../helpers/kcat.js';
import type { ConsumedRecord } from '../helpers/kcat.js';

const { Kafka, logLevel } = kafkajs;

const partitionCount = 4;
const recordsPerSend = 40;
const sendCount = 125; // 5000 records
/** kill -9 once this many sends are acknowledged. */
const crashAfterSends = [30, 60, 90];
const outageMs = 700;

/** Fails with a list of duplicates, missing records and the first out-of-order position per partition. */
function assertExactlyOnceInOrder(consumed: readonly ConsumedRecord[], expected: ReadonlyMap<number, readonly string[]>, label: string): void {
  const problems: string[] = [];
  for (const [partition, values] of expected) {
    const records = consumed.filter((record) => record.partition === partition);
    const stored = records.map((record) => record.value?.toString('utf8') ?? '<null>');
    const counts = new Map<string, number>();
    for (const value of stored) counts.set(value, (counts.get(value) ?? 0) + 1);
    const duplicates = [...counts].filter(([, count]) => count > 1).map(([value, count]) => `${value}×${count}`);
    const missing = values.filter((value) => !counts.has(value));
    const unexpected = stored.filter((value) => !values.includes(value));
    if (duplicates.length > 0) problems.push(`[${partition}] ${duplicates.length} duplicated: ${duplicates.slice(0, 10).join(', ')}`);
    if (missing.length > 0) problems.push(`[${partition}] ${missing.length} missing: ${missing.slice(0, 10).join(', ')}`);
    if (unexpected.length > 0) problems.push(`[${partition}] ${unexpected.length} never sent: ${unexpected.slice(0, 10).join(', ')}`);
    if (duplicates.length === 0 && missing.length === 0 && unexpected.length === 0) {
      const firstMismatch = stored.findIndex((value, index) => value !== values[index]);
      if (firstMismatch >= 0) problems.push(`[${partition}] out of order at position ${firstMismatch}: ${stored[firstMismatch]} where ${values[firstMismatch]} was sent`);
    }
    records.forEach((record, index) => {
      if (record.offset !== index) problems.push(`[${partition}] offset ${record.offset} at position ${index}`);
    });
  }
  assert.deepEqual(problems, [], `${label}:\n${problems.join('\n')}`);
}

test('KafkaJS idempotent producer through three kill -9 restarts: every record once, in order per partition', { timeout: 90_000 }, async (t) => {
  let broker: BrokerProcess = await startBrokerProcess({ args: ['--num-partitions', String(partitionCount)] });
  const topic = 'idempotent-kafkajs';
  const retry = { retries: 40, initialRetryTime: 100, maxRetryTime: 500 };
  const kafka = new Kafka({ clientId: 'osprey-idempotent-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 10_000, retry });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry });
  await producer.connect();

  const expected = new Map<number, string[]>(Array.from({ length: partitionCount }, (_, partition) => [partition, []]));
  let acknowledgedSends = 0;
  let applicationRetries = 0;
  let crashes = 0;
  let crashesRightAfterAWrite = 0;
  try {
    const crasher = (async () => {
      for (const threshold of crashAfterSends) {
        while (acknowledgedSends < threshold) await sleep(5);
        if (await killRightAfterAWrite(broker, topic)) crashesRightAfterAWrite++;
        crashes++;
        await sleep(outageMs); // the outage itself: the producer retries against a broker that is down
        broker = await broker.restart();
      }
    })();

    for (let send = 0; send < sendCount; send++) {
      const messages = Array.from({ length: recordsPerSend }, (_, index) => {
        const partition = (send + index) % partitionCount;
        const value = `s${send}-r${index}`;
        return { partition, key: `key-${partition}`, value };
      });
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.send({ topic, messages, acks: -1, timeout: 10_000 });
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          applicationRetries++;
          await sleep(200); // the application's own back-off before it sends again
        }
      }
      for (const message of messages) expected.get(message.partition)!.push(message.value);
      acknowledgedSends++;
    }
    await crasher;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  assert.equal(crashes, crashAfterSends.length);
  t.diagnostic(`${sendCount * recordsPerSend} records acknowledged across ${crashes} kill -9 restarts (${crashesRightAfterAWrite} right after a write); ${applicationRetries} sends retried by the test after KafkaJS gave up`);
  assert.equal(crashesRightAfterAWrite, crashes, 'every kill came right after a write');

  const consumed = await consumeJson(broker.bootstrap, topic, { timeoutMs: 30_000 });
  assert.equal(consumed.length, sendCount * recordsPerSend, `records read back (log tail:\n${broker.logs().split('\n').slice(-20).join('\n')})`);
  assertExactlyOnceInOrder(consumed, expected, topic);
  await broker.stop();
});
