/**
 * The client's producer and consumer used as a library against a real broker process: offsets
 * reported per record, ordering with many batches per partition in flight, an idempotent
 * producer riding out a broker restart (kill -9) with every record written exactly once, and
 * records that come while every request is in flight leaving together in one batch.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { Admin } from '../../src/client/admin.js';
import { apis } from '../../src/client/apis.js';
import { KafkaClient, zeroTopicId } from '../../src/client/client.js';
import type { Connection } from '../../src/client/connection.js';
import { readBaseOffset, readLastOffset } from '../../src/protocol/kafka/batch-header.js';
import { recordBatchTotalBytes } from '../../src/protocol/kafka/records.js';
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

/** A Fetch of one partition from `offset` on `connection`, held by the broker up to maxWaitMs while there is nothing. */
function fetchPartition(connection: Connection, topic: string, offset: number, maxWaitMs: number) {
  return connection.request(
    apis.fetch,
    {
      maxWaitMs,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, topicId: zeroTopicId, partitions: [{ partition: 0, fetchOffset: BigInt(offset), partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    },
    { timeoutMs: maxWaitMs + 30_000 },
  );
}

test('records produced while every Produce request is in flight wait in one open batch and leave together, not one request each', async () => {
  const broker = await startBrokerProcess();
  brokers.push(broker);
  const client = new KafkaClient({ brokers: [broker.bootstrap] });
  const gateClient = new KafkaClient({ brokers: [broker.bootstrap] });
  try {
    const admin = new Admin(client);
    await admin.createTopic('held', { partitions: 1 });
    await admin.createTopic('gate', { partitions: 1 });
    const producer = new Producer(client, { lingerMs: 0, maxInFlightPerBroker: 1 });
    const metadata = await producer.prepare('held');
    // The broker answers a connection's requests in arrival order: a Fetch waiting on the empty
    // topic 'gate' holds back the answer of every Produce sent after it on the same connection,
    // so the first Produce stays in flight, without any timing, until the gate opens.
    const connection = await client.connectionToNode(metadata.partitions[0]!.leaderId);
    const gate = fetchPartition(connection, 'gate', 0, 60_000);
    let acknowledged = 0;
    const onDelivery = (error: Error | null) => {
      assert.equal(error, null);
      acknowledged++;
    };
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    producer.produce('held', { value: 'first' }, onDelivery);
    await nextTurn(); // its linger (one turn) is over: its batch is the request in flight
    for (let index = 0; index < 10; index++) {
      producer.produce('held', { value: `later-${index}` }, onDelivery);
      await nextTurn(); // each record in a turn of its own, so each would close a batch of its own at linger 0
    }
    assert.equal(acknowledged, 0, 'the first request is still unanswered');
    await new Producer(gateClient, { lingerMs: 0 }).send('gate', { value: 'open' });
    await gate;
    await producer.flush();
    assert.equal(acknowledged, 11);
    const answer = await fetchPartition(connection, 'held', 0, 0);
    const records = answer.responses[0]!.partitions[0]!.records!;
    const batches: [number, number][] = [];
    for (let at = 0; at < records.length; at += recordBatchTotalBytes(records, at)!) batches.push([readBaseOffset(records, at), readLastOffset(records, at)]);
    assert.deepEqual(
      batches,
      [
        [0, 0],
        [1, 10],
      ],
      'the ten later records in one batch, sent when the first request was answered',
    );
  } finally {
    client.close();
    gateClient.close();
  }
});

test('batches of many partitions held while every Produce request is in flight leave together in one request, not one request each', async () => {
  const broker = await startBrokerProcess();
  brokers.push(broker);
  const client = new KafkaClient({ brokers: [broker.bootstrap] });
  const gateClient = new KafkaClient({ brokers: [broker.bootstrap] });
  const partitionCount = 40;
  try {
    const admin = new Admin(client);
    await admin.createTopic('spread', { partitions: partitionCount });
    await admin.createTopic('gate', { partitions: 1 });
    const producer = new Producer(client, { lingerMs: 0, maxInFlightPerBroker: 1 });
    const metadata = await producer.prepare('spread');
    // As above: a Fetch waiting on 'gate' holds back the answers of the Produce requests behind it.
    const connection = await client.connectionToNode(metadata.partitions[0]!.leaderId);
    const gate = fetchPartition(connection, 'gate', 0, 60_000);
    // Counts the producer's requests on its (one) connection; the requests themselves go unchanged.
    let produceRequests = 0;
    const request = connection.request.bind(connection);
    connection.request = ((api, body, options) => {
      if (api.key === apis.produce.key) produceRequests++;
      return request(api, body, options);
    }) as typeof connection.request;
    let acknowledged = 0;
    const onDelivery = (error: Error | null) => {
      assert.equal(error, null);
      acknowledged++;
    };
    producer.produce('spread', { value: 'first', partition: 0 }, onDelivery);
    await new Promise((resolve) => setImmediate(resolve)); // its linger is over: the request in flight
    assert.equal(produceRequests, 1);
    // One record for every partition: at the end of the linger the leader has no room, so every batch is held.
    for (let partition = 0; partition < partitionCount; partition++) producer.produce('spread', { value: `p${partition}`, partition }, onDelivery);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(produceRequests, 1, 'nothing more sent while the first request is in flight');
    await new Producer(gateClient, { lingerMs: 0 }).send('gate', { value: 'open' });
    await gate;
    await producer.flush();
    assert.equal(acknowledged, partitionCount + 1);
    assert.equal(produceRequests, 2, `the ${partitionCount} held batches in one request once the first was answered`);
  } finally {
    client.close();
    gateClient.close();
  }
});
