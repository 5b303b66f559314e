/**
 * A TCP proxy for fault tests: listens on a free loopback port and forwards bytes both ways to one
 * target, so a test can cut one process off from another while both keep running (a network
 * partition between them, not a crash or a pause).
 *
 *   const proxy = await startTcpProxy({ host: '127.0.0.1', port: etcdPort });
 *   … the broker dials proxy.port instead of etcd's …
 *   proxy.cut();     // every connection through it is destroyed; new ones are accepted and destroyed at once
 *   proxy.heal();    // new connections are forwarded again (the cut ones stay gone: clients reconnect)
 *   await proxy.close();
 *
 * A cut resets connections (both ends see them end at once) rather than dropping packets silently:
 * the brokers' etcd client then fails fast and reconnects once healed, so the time a test waits is
 * the lease TTL, not a TCP retransmission timeout.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private isCut = false;

  constructor(
    private readonly server: Server,
    readonly target: ProxyTarget,
    readonly host: string,
    readonly port: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Destroys every connection through the proxy, and every new one until heal(). */
  cut(): void {
    this.isCut = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Forwards new connections again. */
  heal(): void {
    this.isCut = false;
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.isCut) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: this.target.host, port: this.target.port });
    // Either side ending or failing ends both: a half-forwarded stream is of no use to anyone.
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', end);
      socket.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** Starts a proxy to `target` on a free port of 127.0.0.1. */
export async function startTcpProxy(target: ProxyTarget): Promise<TcpProxy> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  // The proxy must not keep the test process alive by itself (as the brokers' children do not).
  server.unref();
  return new TcpProxy(server, target, '127.0.0.1', address.port);
}
