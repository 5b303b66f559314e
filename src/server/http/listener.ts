/**
 * The HTTP listener: `GET /metrics` answers the broker's metrics in Prometheus text format, and
 * `/api/…` is the admin API of the AMQP side (admin-api.ts; 503 when AMQP is off). It binds to the
 * same host as the Kafka listener.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { QueueBroker } from '../../queues/queue-broker.js';
import { AdminApi, errorReply } from './admin-api.js';
import type { HttpReply } from './router.js';

export interface HttpListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpListenerOptions {
  /** The AMQP side's queue broker; null (the default) when AMQP is off: the admin API answers 503. */
  readonly queueBroker?: QueueBroker | null;
  /** Where failures of admin requests are logged. */
  readonly logger?: Logger;
}

/** Request bodies of the admin API larger than this are refused (413): they are small JSON objects. */
export const maxRequestBodyBytes = 1024 * 1024;

export async function startHttpListener(host: string, port: number, metrics: Metrics, options: HttpListenerOptions = {}): Promise<HttpListener> {
  const adminApi = new AdminApi(options.queueBroker ?? null, options.logger ?? null);
  const server = createServer((request, response) => {
    answer(request, response, metrics, adminApi).catch((error: unknown) => {
      options.logger?.error('http request failed', { url: request.url ?? '', error: String(error) });
      if (!response.headersSent) sendJson(response, errorReply(500, 'internal_error', String(error)));
      else response.destroy();
    });
  });
  // Scrapers keep connections alive; do not let an idle one hold shutdown back.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('http listener has no TCP address');
  return {
    host,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(request: IncomingMessage, response: ServerResponse, metrics: Metrics, adminApi: AdminApi): Promise<void> {
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  if (path === '/api' || path.startsWith('/api/')) {
    const body = await readJsonBody(request);
    if (!body.ok) {
      sendJson(response, body.reply);
      return;
    }
    const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
    sendJson(response, await adminApi.answer(request.method ?? 'GET', path, query, body.value));
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics or /api/\n');
}

type BodyResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reply: HttpReply };

/** The request's JSON body (undefined when empty), read up to maxRequestBodyBytes. */
async function readJsonBody(request: IncomingMessage): Promise<BodyResult> {
  const bytes = await new Promise<Buffer | null>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxRequestBodyBytes) {
        chunks.push(chunk);
        return;
      }
      // Too large: stop keeping it and let the rest drain; the answer closes the connection.
      request.off('data', onData);
      request.resume();
      resolve(null);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
  if (bytes === null) return { ok: false, reply: { ...errorReply(413, 'payload_too_large', `request bodies are limited to ${maxRequestBodyBytes} bytes`), headers: { connection: 'close' } } };
  const text = bytes.toString('utf8');
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, reply: errorReply(400, 'bad_request', `the request body is not JSON: ${error instanceof Error ? error.message : String(error)}`) };
  }
}

function sendJson(response: ServerResponse, reply: HttpReply): void {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if (reply.body === undefined) {
    response.writeHead(reply.status, headers).end();
    return;
  }
  headers['content-type'] = 'application/json';
  response.writeHead(reply.status, headers).end(JSON.stringify(reply.body) + '\n');
}
