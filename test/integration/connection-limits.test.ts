/**
 * Connection hardening against real broker processes over raw sockets (issue 9, net): request
 * memory is claimed as bytes arrive, a frame must arrive within its deadline, the frame limit before
 * a first well-formed request, the in-flight request limit per frame, per-address connection
 * limits, containment of an unexpected error, and log lines that neither flood nor carry raw
 * control bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { initProducerIdRequest, initProducerIdResponse } from '../../src/protocol/kafka/messages/init-producer-id.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { kcatSucceeds } from '../helpers/kcat.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { metricValue, waitUntil } from '../helpers/waiting.js';
import { decodeRecordBatches, decodeResponse, encodeRecordBatch, encodeRequestFrame, rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';

const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const initProducerIdApi = rawApi(initProducerIdRequest, initProducerIdResponse);

const megabyte = 1024 * 1024;
const zeroUuid = Buffer.alloc(16);
const apiVersionsBody = { clientSoftwareName: 'osprey-test', clientSoftwareVersion: '1.0' };
const metadataAll = { topics: null, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function sizePrefix(frameBytes: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(frameBytes);
  return prefix;
}

function open(broker: BrokerProcess): Promise<RawKafkaConnection> {
  return RawKafkaConnection.open(broker.host, broker.port);
}

/** A well-formed first request: until one arrives, frames are limited to maxUnauthenticatedFrameBytes. */
function apiVersionsFrame(correlationId = 1): Buffer {
  return encodeRequestFrame(apiVersionsApi, 3, correlationId, apiVersionsBody);
}

function produceFrame(topic: string, correlationId: number, value: Buffer, acks = -1): Buffer {
  return encodeRequestFrame(produceApi, 8, correlationId, {
    acks,
    timeoutMs: 5_000,
    topicData: [{ name: topic, topicId: zeroUuid, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value }]) }] }],
  });
}

function fetchFrame(topic: string, correlationId: number, maxWaitMs: number): Buffer {
  return encodeRequestFrame(fetchApi, 11, correlationId, {
    maxWaitMs,
    minBytes: 1,
    maxBytes: megabyte,
    forgottenTopicsData: [],
    topics: [{ topic, topicId: zeroUuid, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: megabyte }] }],
  });
}

async function createTopic(broker: BrokerProcess, topic: string): Promise<void> {
  const connection = await open(broker);
  try {
    const metadata = await connection.call(metadataApi, 4, { topics: [{ name: topic, topicId: zeroUuid }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.equal(metadata.topics[0]?.errorCode, 0);
  } finally {
    connection.destroy();
  }
}

/** Resolves once the broker holds at least `bytes` of request memory (claimed as bytes arrive). */
function waitUntilBrokerHolds(broker: BrokerProcess, bytes: number): Promise<void> {
  return waitUntil(async () => (await metricValue(broker, 'osprey_request_memory_bytes')) >= bytes, `the broker to hold ${bytes} bytes of requests`, 10_000);
}

/** A new connection's ApiVersions and Metadata are answered: the broker serves others. */
async function assertServesOthers(broker: BrokerProcess): Promise<void> {
  const bystander = await open(broker);
  try {
    const versions = await bystander.call(apiVersionsApi, 3, apiVersionsBody, 10_000);
    assert.equal(versions.errorCode, 0);
    const metadata = await bystander.call(metadataApi, 1, metadataAll, 10_000);
    assert.equal(metadata.brokers.length, 1);
  } finally {
    bystander.destroy();
  }
}

describe('request memory is claimed as bytes arrive (default limits)', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess();
  });
  after(async () => {
    await broker?.stop();
  });

  test('six connections announcing 512 MiB in size prefixes and trickling a byte a second do not stall other clients', async () => {
    // Each first sends a well-formed request, so the large frame limit applies, then only a size
    // prefix: five of 100 MiB and one of 12 MiB fill the whole default pool if prefixes reserve it.
    const announcedBytes = [100, 100, 100, 100, 100, 12].map((size) => size * megabyte);
    const tricklers = await Promise.all(announcedBytes.map(() => open(broker)));
    for (const [index, trickler] of tricklers.entries()) {
      trickler.write(Buffer.concat([apiVersionsFrame(), sizePrefix(announcedBytes[index]!)]));
      await trickler.nextFrame(10_000);
    }
    const trickle = setInterval(() => {
      for (const trickler of tricklers) trickler.write(Buffer.from([0]));
    }, 1_000);
    try {
      // Trickling: the broker has the size prefixes (4 bytes each) and the first bytes after them.
      await waitUntilBrokerHolds(broker, tricklers.length * (4 + 1));
      await assertServesOthers(broker);
      const listed = await kcatSucceeds(['-b', broker.bootstrap, '-L', '-m', '10'], { timeoutMs: 30_000 });
      assert.match(listed.stdout.toString(), /1 brokers:/, 'kcat lists the broker');
      const heldBytes = await metricValue(broker, 'osprey_request_memory_bytes');
      assert.ok(heldBytes < megabyte, `the tricklers hold ${heldBytes} bytes of request memory`);
    } finally {
      clearInterval(trickle);
      for (const trickler of tricklers) trickler.destroy();
    }
  });

  test('before its first well-formed request a connection may not send a frame over maxUnauthenticatedFrameBytes (512 KiB)', async () => {
    const stranger = await open(broker);
    const localPort = stranger.socket.localPort;
    stranger.write(Buffer.concat([sizePrefix(600 * 1024), Buffer.alloc(1024)]));
    await stranger.waitForClose(10_000);
    const line = await broker.waitForLog(/WARN closing connection .*frame of 614400 bytes exceeds the limit of 524288 \(limits\.maxUnauthenticatedFrameBytes/);
    assert.match(line, new RegExp(`peer=127\\.0\\.0\\.1:${localPort} `));
    // After ApiVersions, the same frame size is read and answered.
    await createTopic(broker, 'after-first-request');
    const client = await open(broker);
    await client.call(apiVersionsApi, 3, apiVersionsBody);
    client.write(produceFrame('after-first-request', 9, Buffer.alloc(600 * 1024, 0x61)));
    const response = decodeResponse(produceApi, 8, await client.nextFrame(10_000));
    assert.equal(response.body.responses[0]?.partitionResponses[0]?.errorCode, 0, 'read whole and stored');
    client.destroy();
  });
});

describe('a frame must arrive within limits.frameReceiveTimeoutMs', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess({ args: ['--limits.frame-receive-timeout-ms', '2000'] });
  });
  after(async () => {
    await broker?.stop();
  });

  test('a frame trickled a byte every 200 ms is dropped with its connection; other clients are served throughout', async () => {
    const trickler = await open(broker);
    trickler.write(Buffer.concat([apiVersionsFrame(), sizePrefix(1000)]));
    await trickler.nextFrame(10_000);
    const trickle = setInterval(() => trickler.write(Buffer.from([0])), 200);
    try {
      await assertServesOthers(broker);
      await trickler.waitForClose(20_000);
    } finally {
      clearInterval(trickle);
    }
    const line = await broker.waitForLog(/WARN closing connection .*frame not received within 2000 ms/);
    assert.match(line, /bytes of 1000 after \d+ ms/);
    assert.equal(await metricValue(broker, 'osprey_connections_closed_total{reason="frame_timeout"}'), 1);
  });

  test('a connection that sends whole frames slowly is not closed', async () => {
    const client = await open(broker);
    for (let round = 0; round < 4; round++) {
      await client.call(apiVersionsApi, 3, apiVersionsBody);
      // What is tested: idle gaps between whole frames (4 s in all) do not count against the 2 s a frame has.
      await sleep(1_000);
    }
    assert.equal(client.closed, false);
    client.destroy();
  });
});

describe('small requests are never starved by large ones', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess({
      args: ['--limits.max-queued-request-bytes', String(4 * megabyte), '--limits.small-request-reserve-bytes', String(megabyte), '--topic-defaults.max-message-bytes', String(3 * megabyte)],
    });
  });
  after(async () => {
    await broker?.stop();
  });

  test('large frames fill the pool up to the reserve; Metadata still answers, a large Produce waits until memory is released', async () => {
    await createTopic(broker, 'reserve');
    // The holder really sends 3.2 MiB of a 3.5 MiB frame: more than the pool minus the reserve.
    const holder = await open(broker);
    await holder.call(apiVersionsApi, 3, apiVersionsBody);
    holder.write(Buffer.concat([sizePrefix(3.5 * megabyte), Buffer.alloc(3.2 * megabyte)]));
    await waitUntilBrokerHolds(broker, 3.2 * megabyte);
    const waiting = await open(broker);
    await waiting.call(apiVersionsApi, 3, apiVersionsBody);
    waiting.write(produceFrame('reserve', 7, Buffer.alloc(megabyte, 0x62)));
    // The second is the time the Produce is given to be wrongly answered: what is tested is that nothing comes.
    await assert.rejects(waiting.nextFrame(1_000), /no response within/, 'the large Produce was read while the pool was full');
    await assertServesOthers(broker);
    holder.destroy();
    const response = decodeResponse(produceApi, 8, await waiting.nextFrame(10_000));
    assert.equal(response.body.responses[0]?.partitionResponses[0]?.errorCode, 0, 'stored once memory was released');
    waiting.destroy();
  });
});

describe('limits.maxInFlightRequests holds per frame, even for frames of one socket read', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess({ args: ['--limits.max-in-flight-requests', '1'] });
  });
  after(async () => {
    await broker?.stop();
  });

  test('a long-polling Fetch and a Produce sent in one write: the Produce is not read until the Fetch is answered', async () => {
    await createTopic(broker, 'in-flight');
    const client = await open(broker);
    await client.call(apiVersionsApi, 3, apiVersionsBody);
    // Had both been handed to handlers at once, the Produce would wake the Fetch with its record.
    client.write(Buffer.concat([fetchFrame('in-flight', 2, 1_500), produceFrame('in-flight', 3, Buffer.from('late'), 1)]));
    const fetched = decodeResponse(fetchApi, 11, await client.nextFrame(10_000));
    assert.equal(fetched.correlationId, 2);
    const records = fetched.body.responses[0]?.partitions[0]?.records ?? Buffer.alloc(0);
    assert.equal(decodeRecordBatches(records).length, 0, 'the Fetch ran alone: the Produce behind it was not handled yet');
    const produced = decodeResponse(produceApi, 8, await client.nextFrame(10_000));
    assert.equal(produced.correlationId, 3);
    assert.equal(produced.body.responses[0]?.partitionResponses[0]?.errorCode, 0);
    client.destroy();
  });
});

describe('connections per client address (limits.maxConnectionsPerAddress)', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess({ args: ['--limits.max-connections-per-address', '3'] });
  });
  after(async () => {
    await broker?.stop();
  });

  /** A connection from `localAddress` (all of 127.0.0.0/8 is local); resolves once the broker answered ApiVersions or closed it. */
  function connectFrom(localAddress: string): Promise<{ socket: Socket; answered: boolean }> {
    return new Promise((resolve) => {
      const socket = connect({ host: broker.host, port: broker.port, localAddress });
      // Refused connections may end in a reset: answered false either way.
      socket.once('error', () => resolve({ socket, answered: false }));
      socket.once('connect', () => socket.write(apiVersionsFrame()));
      socket.once('data', () => resolve({ socket, answered: true }));
      socket.once('close', () => resolve({ socket, answered: false }));
    });
  }

  test('a fourth connection from one address is closed at once; other addresses still connect', async () => {
    const first = await Promise.all([connectFrom('127.0.0.2'), connectFrom('127.0.0.2'), connectFrom('127.0.0.2')]);
    assert.deepEqual(first.map((connection) => connection.answered), [true, true, true]);
    const fourth = await connectFrom('127.0.0.2');
    assert.equal(fourth.answered, false, 'the fourth connection from 127.0.0.2 was closed');
    const other = await connectFrom('127.0.0.3');
    assert.equal(other.answered, true, '127.0.0.3 has its own share');
    await broker.waitForLog(/WARN connection refused: too many connections limit=limits\.maxConnectionsPerAddress maximum=3 peer=127\.0\.0\.2/);
    assert.equal(await metricValue(broker, 'osprey_connections_refused_total{limit="limits.maxConnectionsPerAddress"}'), 1);
    // A slot freed is a slot again.
    const connectionsBefore = await metricValue(broker, 'osprey_connections');
    first[0]!.socket.destroy();
    await waitUntil(async () => (await metricValue(broker, 'osprey_connections')) < connectionsBefore, 'the broker to see the connection closed', 10_000);
    const again = await connectFrom('127.0.0.2');
    assert.equal(again.answered, true);
    for (const connection of [...first, fourth, other, again]) connection.socket.destroy();
  });
});

describe('an unexpected error while handling a frame closes that connection only', () => {
  let broker: BrokerProcess;
  before(async () => {
    // The test hook of src/server/kafka/fault-hook.ts: every Metadata request throws after decoding.
    broker = await startBrokerProcess({ env: { OSPREY_TEST_FAULT_API: 'Metadata' } });
  });
  after(async () => {
    await broker?.stop();
  });

  test('the connection is closed, the error logged with the API and version and counted; the broker serves on', async () => {
    await broker.waitForLog(/WARN test fault hook OSPREY_TEST_FAULT_API is set/);
    const victim = await open(broker);
    victim.write(encodeRequestFrame(metadataApi, 1, 5, metadataAll));
    await victim.waitForClose(10_000);
    const line = await broker.waitForLog(/ERROR unexpected error while handling a frame/);
    assert.match(line, /api=Metadata version=1 /);
    assert.match(line, /fault injected in Metadata/);
    assert.equal(await metricValue(broker, 'osprey_connection_errors_total{api="Metadata"}'), 1);
    assert.equal(broker.exitCode, null, 'the broker is still running');
    const bystander = await open(broker);
    const versions = await bystander.call(apiVersionsApi, 3, apiVersionsBody);
    assert.equal(versions.errorCode, 0);
    bystander.destroy();
  });
});

describe('log lines: client strings escaped, floods summarised', () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBrokerProcess({ args: ['--log-lines-per-message', '5', '--log-suppression-window-ms', '2000'] });
  });
  after(async () => {
    await broker?.stop();
  });

  test('control bytes in a client id and a transactional id reach the log escaped', async () => {
    const client = await open(broker);
    const clientId = 'evil\n2026-01-01T00:00:00.000Z ERROR forged\x1b[2J';
    client.write(encodeRequestFrame(initProducerIdApi, 1, 1, { transactionalId: 'tx\u202etxt', transactionTimeoutMs: 1000 }, clientId));
    await client.nextFrame(10_000);
    client.destroy();
    const line = await broker.waitForLog(/InitProducerId refused/);
    assert.ok(!broker.logs().includes('\x1b'), 'no raw escape byte in the log');
    assert.ok(!/^2026-01-01T00:00:00.000Z ERROR forged/m.test(broker.logs()), 'no forged line');
    assert.match(line, /clientId="evil\\n2026-01-01T00:00:00\.000Z ERROR forged\\x1b\[2J"/);
    assert.match(line, /transactionalId="tx\\u\{202e\}txt"/);
  });

  test('a hundred bad connections write at most five closing lines per window, and lines counting the rest', async () => {
    const mark = broker.logs().length;
    for (let index = 0; index < 100; index++) {
      const connection = await open(broker);
      connection.write(Buffer.concat([sizePrefix(8), Buffer.from([0x7f, 0x7f, 0, 0, 0, 0, 0, 1])])); // unknown api key
      await connection.waitForClose(10_000);
    }
    const since = () => broker.logs().slice(mark).split('\n');
    const closingLines = () => since().filter((line) => / WARN closing connection /.test(line)).length;
    const suppressed = () =>
      since()
        .map((line) => / WARN similar lines suppressed count=(\d+) message="closing connection"/.exec(line)?.[1])
        .reduce((sum, count) => sum + Number(count ?? 0), 0);
    await waitUntil(() => closingLines() + suppressed() >= 100, 'every close written or counted', 20_000).catch(() => undefined); // the assertion below says what is missing
    assert.equal(closingLines() + suppressed(), 100, 'every close is either written or counted');
    assert.ok(closingLines() <= 25, `${closingLines()} closing lines for 100 bad connections`);
  });
});

describe('shutdown with consumers long-polling', () => {
  test('SIGTERM answers the waiting fetches before the logs close: no ERROR line, exit code 0', async () => {
    const broker = await startBrokerProcess();
    await createTopic(broker, 'long-poll');
    const consumers = await Promise.all(Array.from({ length: 5 }, () => open(broker)));
    try {
      const fetches = consumers.map((_, index) => fetchFrame('long-poll', index + 1, 25_000));
      for (const [index, consumer] of consumers.entries()) consumer.write(fetches[index]!);
      // Every Fetch is read and waiting: held, unanswered, in request memory (its size prefix, 4
      // bytes, is released once the frame is whole).
      await waitUntilBrokerHolds(broker, fetches.reduce((sum, fetch) => sum + fetch.length - 4, 0));
      const answers = consumers.map((consumer) => consumer.nextFrame(20_000));
      await broker.stop();
      for (const [index, answer] of answers.entries()) {
        const fetched = decodeResponse(fetchApi, 11, await answer);
        assert.equal(fetched.correlationId, index + 1);
        assert.equal(fetched.body.responses[0]?.partitions[0]?.errorCode, 0, 'answered, not failed');
      }
    } finally {
      // Open sockets would keep this file's process alive if an assertion failed above.
      for (const consumer of consumers) consumer.destroy();
    }
    const errors = broker.logs().split('\n').filter((line) => / ERROR /.test(line));
    assert.deepEqual(errors, []);
  });
});
