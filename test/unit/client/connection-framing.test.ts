/**
 * The client's side of framing (src/client/connection.ts over src/protocol/kafka/frame-reader.ts):
 * a fake broker on a local socket answers ApiVersions with responses split at every byte, or with
 * frames the client must refuse (too short for a correlation id, larger than maxResponseBytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { Connection } from '../../../src/client/connection.js';
import { apis } from '../../../src/client/apis.js';
import { Writer } from '../../../src/protocol/wire/writer.js';

/** An ApiVersions v3 response frame (size prefix included) for `correlationId`. */
function apiVersionsFrame(correlationId: number): Buffer {
  const writer = new Writer(256);
  writer.int32(0);
  writer.int32(correlationId);
  apis.apiVersions.response.encode(
    3,
    {
      errorCode: 0,
      apiKeys: [
        { apiKey: 18, minVersion: 0, maxVersion: 3 },
        { apiKey: 3, minVersion: 1, maxVersion: 12 },
      ],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    },
    writer,
  );
  writer.patchInt32(0, writer.length - 4);
  return writer.toBuffer();
}

/** A fake broker that answers the first request with what `answer` makes of its correlation id. */
async function withFakeBroker(answer: (correlationId: number, socket: Socket) => void, run: (port: number) => Promise<void>): Promise<void> {
  const server = createServer((socket) => {
    socket.once('data', (request: Buffer) => answer(request.readInt32BE(8), socket));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    server.close();
  }
}

function open(port: number, maxResponseBytes?: number): Promise<Connection> {
  return Connection.open({ host: '127.0.0.1', port, clientId: 'framing-test', connectTimeoutMs: 5000, requestTimeoutMs: 5000, ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }) });
}

test('a response that arrives one byte at a time is read whole', async () => {
  await withFakeBroker(
    (correlationId, socket) => {
      const frame = apiVersionsFrame(correlationId);
      let at = 0;
      const timer = setInterval(() => {
        if (at >= frame.length) return clearInterval(timer);
        socket.write(frame.subarray(at, at + 1));
        at++;
      }, 1);
    },
    async (port) => {
      const connection = await open(port);
      assert.deepEqual(connection.versionRange(3), { min: 1, max: 12 });
      connection.close();
    },
  );
});

test('a response frame too short to hold a correlation id is refused', async () => {
  await withFakeBroker(
    (_correlationId, socket) => socket.write(Buffer.from([0, 0, 0, 2, 0, 0])),
    async (port) => {
      await assert.rejects(open(port), /a response frame of 2 bytes is not acceptable; closing/);
    },
  );
});

test('a response frame over maxResponseBytes is refused before it is buffered', async () => {
  await withFakeBroker(
    (correlationId, socket) => socket.write(apiVersionsFrame(correlationId)),
    async (port) => {
      const size = apiVersionsFrame(1).length - 4;
      await assert.rejects(open(port, size - 1), new RegExp(`a response frame of ${size} bytes is not acceptable; closing`));
      const connection = await open(port, size);
      connection.close();
    },
  );
});
