/**
 * The HTTP listener: `GET /metrics` answers the broker's metrics in Prometheus text format.
 * It binds to the same host as the Kafka listener; the admin API and console come later.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../../metrics/metrics.js';

export interface HttpListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpListener(host: string, port: number, metrics: Metrics): Promise<HttpListener> {
  const server = createServer((request, response) => answer(request, response, metrics));
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

function answer(request: IncomingMessage, response: ServerResponse, metrics: Metrics): void {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
}
