/**
 * Fetches served from the segment files, on a real broker process with no tail cache: the broker
 * reads into pooled buffers, writes the responses from them and reuses them for later fetches once
 * the socket has taken each response (src/storage/read-buffers.ts). Several consumers read the same
 * backlog at once with different fetch sizes, so buffers go round between connections; each must
 * get every record, in order, byte for byte; and a client that stops reading keeps its responses
 * intact while others fetch (its buffers are not reused before the socket has taken them).
 * Oracle: the values we produced (each names its index).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { Admin } from '../../src/client/admin.js';
import { KafkaClient } from '../../src/client/client.js';
import { Consumer } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { RawKafkaConnection, decodeRecordBatches, decodeResponse, encodeRequestFrame, rawApi } from '../helpers/raw-kafka-client.js';

const brokers: BrokerProcess[] = [];
after(async () => {
  for (const broker of brokers) if (broker.exitCode === null && broker.exitSignal === null) await broker.stop();
});

const recordCount = 30_000;

/** Record `index`'s value: its index, then filler of a length that varies with it. */
function valueOf(index: number): string {
  return `${index}:`.padEnd(20 + ((index * 37) % 200), String.fromCharCode(97 + (index % 26)));
}

const fetchApi = rawApi(fetchRequest, fetchResponse);
const megabyte = 1024 * 1024;

/** Fetch v11 of partition 0 from `fetchOffset`, up to 1 MiB, without waiting. */
function fetchFrame(topic: string, correlationId: number, fetchOffset: number): Buffer {
  return encodeRequestFrame(fetchApi, 11, correlationId, {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 50 * megabyte,
    forgottenTopicsData: [],
    topics: [{ topic, topicId: Buffer.alloc(16), partitions: [{ partition: 0, fetchOffset: BigInt(fetchOffset), partitionMaxBytes: megabyte }] }],
  });
}

async function produceBacklog(client: KafkaClient, topic: string): Promise<void> {
  await new Admin(client).createTopic(topic, { partitions: 1 });
  const producer = new Producer(client, { batchBytes: 16 * 1024, lingerMs: 0 });
  for (let index = 0; index < recordCount; index++) producer.produce(topic, { key: null, value: valueOf(index) }, (error) => assert.equal(error, null));
  await producer.flush();
}

async function readEverything(client: KafkaClient, topic: string, partitionMaxBytes: number): Promise<{ values: string[]; offsets: number[] }> {
  const consumer = new Consumer(client, { maxWaitMs: 50, partitionMaxBytes });
  consumer.assign([{ topic, partition: 0, offset: 0 }]);
  const values: string[] = [];
  const offsets: number[] = [];
  do {
    for (const record of await consumer.poll()) {
      values.push(record.value!.toString());
      offsets.push(record.offset);
    }
  } while (!consumer.caughtUp);
  return { values, offsets };
}

test('consumers reading a backlog from the files at once, with different fetch sizes, each get every record byte for byte', async () => {
  const broker = await startBrokerProcess({ args: ['--limits.max-tail-cache-bytes-per-partition', '0'] });
  brokers.push(broker);
  const client = new KafkaClient({ brokers: [broker.bootstrap] });
  try {
    await produceBacklog(client, 'backlog');
    const consumers = [1, 20_000, 64 * 1024, 1024 * 1024].map((partitionMaxBytes) => {
      const own = new KafkaClient({ brokers: [broker.bootstrap] });
      return readEverything(own, 'backlog', partitionMaxBytes).finally(() => own.close());
    });
    const expected = Array.from({ length: recordCount }, (_, index) => valueOf(index));
    for (const [index, { values, offsets }] of (await Promise.all(consumers)).entries()) {
      assert.equal(values.length, recordCount, `consumer ${index}: record count`);
      assert.deepEqual(offsets, expected.map((_, offset) => offset), `consumer ${index}: offsets from 0 without gaps`);
      for (let offset = 0; offset < recordCount; offset++) {
        if (values[offset] !== expected[offset]) assert.fail(`consumer ${index}: offset ${offset} holds ${JSON.stringify(values[offset])}, expected ${JSON.stringify(expected[offset])}`);
      }
    }
    // The responses went out from pooled buffers, given back once written.
    const freeBytes = Number(/^osprey_read_buffers_free_bytes (\d+)$/m.exec(await broker.metricsText())?.[1]);
    assert.ok(freeBytes > 0, `read buffers were given back (${freeBytes} bytes free)`);
  } finally {
    client.close();
  }
});

test('a client that stops reading gets its responses intact after others have fetched the same backlog meanwhile', async () => {
  const broker = await startBrokerProcess({ args: ['--limits.max-tail-cache-bytes-per-partition', '0'] });
  brokers.push(broker);
  const client = new KafkaClient({ brokers: [broker.bootstrap] });
  const stalled = await RawKafkaConnection.open(broker.host, broker.port, { reading: false });
  try {
    await produceBacklog(client, 'stalled');
    // Twenty 1 MiB answers wait behind a socket nobody reads: more than the kernel's socket buffers
    // take, so most stay queued in the broker, in the buffers they were read into…
    const starts = Array.from({ length: 20 }, (_, index) => (index * 1_447) % 25_000);
    for (const [index, offset] of starts.entries()) stalled.write(fetchFrame('stalled', index + 1, offset));
    // …while another consumer reads the whole backlog twice, with reads of the same size.
    for (let round = 0; round < 2; round++) assert.equal((await readEverything(client, 'stalled', megabyte)).values.length, recordCount);
    stalled.socket.resume();
    for (const [index, start] of starts.entries()) {
      const response = decodeResponse(fetchApi, 11, await stalled.nextFrame(20_000));
      assert.equal(response.correlationId, index + 1);
      const partition = response.body.responses[0]!.partitions[0]!;
      assert.equal(partition.errorCode, 0);
      const records = decodeRecordBatches(partition.records ?? Buffer.alloc(0)).flatMap((batch) => {
        assert.ok(batch.crcValid, `fetch ${index + 1}: batch at ${batch.baseOffset} passes its CRC`);
        return batch.records;
      });
      assert.ok(records.length > 1000, `fetch ${index + 1}: ${records.length} records`);
      const first = records.findIndex((record) => Number(record.offset) === start);
      assert.ok(first >= 0, `fetch ${index + 1} holds offset ${start}`);
      for (const record of records) assert.equal(record.value?.toString(), valueOf(Number(record.offset)), `fetch ${index + 1}: offset ${record.offset}`);
    }
  } finally {
    stalled.destroy();
    client.close();
  }
});
