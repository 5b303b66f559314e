/**
 * The client's producer and consumer used as a library against a real broker process: offsets
 * reported per record, ordering with many batches per partition in flight, and an idempotent
 * producer riding out a broker restart (kill -9) with every record written exactly once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { Admin } from '../../src/client/admin.js';
import { KafkaClient } from '../../src/client/client.js';
import { Consumer } from '../../src/client/consumer.js';
import type { ConsumedRecord } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';

const brokers: BrokerProcess[] = [];

after(async () => {
  for (const broker of brokers) if (broker.exitCode === null && broker.exitSignal === null) await broker.stop();
});

async function readAll(client: KafkaClient, topic: string, partitions: number[]): Promise<ConsumedRecord[]> {
  const consumer = new Consumer(client, { maxWaitMs: 50 });
  consumer.assign(partitions.map((partition) => ({ topic, partition, offset: 0 })));
  const records: ConsumedRecord[] = [];
  do records.push(...(await consumer.poll()));
  while (!consumer.caughtUp);
  return records;
}

test('each record gets its own offset, in order, with many small batches per partition in flight', async () => {
  const broker = await startBrokerProcess();
  brokers.push(broker);
  const client = new KafkaClient({ brokers: [broker.bootstrap] });
  try {
    await new Admin(client).createTopic('offsets', { partitions: 2 });
    const producer = new Producer(client, { batchBytes: 1024, lingerMs: 0, compression: 'lz4' });
    const offsets = new Map<string, { partition: number; offset: number }>();
    for (let index = 0; index < 20_000; index++) {
      const value = `value-${index}`;
      producer.produce('offsets', { key: `key-${index % 7}`, value }, (error, partition, offset) => {
        assert.equal(error, null);
        offsets.set(value, { partition, offset });
      });
    }
    await producer.flush();
    assert.equal(offsets.size, 20_000);
    const records = await readAll(client, 'offsets', [0, 1]);
    assert.equal(records.length, 20_000);
    for (const record of records) assert.deepEqual(offsets.get(record.value!.toString()), { partition: record.partition, offset: record.offset });
    for (let key = 0; key < 7; key++) {
      const values = records.filter((record) => record.key?.toString() === `key-${key}`).map((record) => Number(record.value!.toString().slice(6)));
      assert.deepEqual(values, [...values].sort((left, right) => left - right), `key-${key} in production order`);
    }
  } finally {
    client.close();
  }
});

test('an idempotent producer retries through a broker crash; every acknowledged record is there exactly once', async () => {
  let broker = await startBrokerProcess();
  brokers.push(broker);
  const client = new KafkaClient({ brokers: [broker.bootstrap], requestTimeoutMs: 5_000, connectTimeoutMs: 1_000 });
  try {
    await new Admin(client).createTopic('survivor', { partitions: 3 });
    const producer = new Producer(client, { lingerMs: 2, batchBytes: 4096 });
    assert.equal(producer.idempotent, true);
    await producer.prepare('survivor');
    let acknowledged = 0;
    const failures: Error[] = [];
    let sent = 0;
    const produceFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (let index = 0; index < 50; index++) {
          producer.produce('survivor', { value: `record-${sent++}` }, (error) => (error === null ? acknowledged++ : failures.push(error)));
        }
        await new Promise((resolve) => setTimeout(resolve, 5)); // paces the stream of sends over `ms`
      }
    };
    await produceFor(500);
    const crash = broker.kill9();
    await produceFor(200);
    await crash;
    broker = await broker.restart();
    brokers.push(broker);
    await produceFor(500);
    await producer.flush();
    assert.deepEqual(failures.map((error) => error.message), []);
    assert.equal(acknowledged, sent);
    const records = await readAll(client, 'survivor', [0, 1, 2]);
    const values = records.map((record) => record.value!.toString());
    assert.equal(new Set(values).size, values.length, 'no duplicates');
    assert.equal(values.length, sent, 'every acknowledged record is in the log');
  } finally {
    client.close();
  }
});
