/**
 * A TCP proxy for fault tests: listens on a free loopback port and forwards bytes both ways to one
 * target, so a test can cut one process off from another while both keep running (a network
 * partition between them, not a crash or a pause).
 *
 *   const proxy = await startTcpProxy({ host: '127.0.0.1', port: etcdPort });
 *   … the broker dials proxy.port instead of etcd's …
 *   proxy.cut();     // every connection through it is destroyed; new ones are accepted and destroyed at once
 *   proxy.heal();    // new connections are forwarded again (the cut ones stay gone: clients reconnect)
 *   proxy.cut('silently');   // nothing is forwarded any more, nothing is closed: packets lost on the way
 *   proxy.heal();    // what was held goes through, late, as after TCP retransmissions
 *   await proxy.close();
 *
 * A plain cut resets connections (both ends see them end at once): the brokers' etcd client fails
 * fast and reconnects once healed. A silent cut is a partition no endpoint can see: connections
 * stay open and requests wait for their deadlines; each direction stops being read, so what is
 * sent meanwhile waits in socket buffers and arrives, in order, after the heal, as TCP delivers it
 * after a short outage. New connections during a silent cut are accepted and held the same way.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  /** Per direction of each connection: sends on what a silent cut held back. */
  private readonly releases = new Set<() => void>();
  private isCut = false;
  private isSilent = false;

  constructor(
    private readonly server: Server,
    readonly target: ProxyTarget,
    readonly host: string,
    readonly port: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /**
   * Destroys every connection through the proxy, and every new one until heal(); 'silently': keeps
   * them, forwarding nothing until heal().
   */
  cut(how: 'reset' | 'silently' = 'reset'): void {
    if (how === 'silently') {
      this.isSilent = true;
      return;
    }
    this.isCut = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.releases.clear();
  }

  /** Forwards again: new connections, and what silently cut ones held. */
  heal(): void {
    this.isCut = false;
    this.isSilent = false;
    for (const release of this.releases) release();
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
    const releases = [this.forward(client, upstream), this.forward(upstream, client)];
    // Either side ending or failing ends both: a half-forwarded stream is of no use to anyone.
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      for (const release of releases) this.releases.delete(release);
    };
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', end);
      socket.on('close', end);
    }
  }

  /** Writes what `from` reads to `to`, or holds it while silently cut; returns what sends the held bytes on. */
  private forward(from: Socket, to: Socket): () => void {
    const held: Buffer[] = [];
    from.on('data', (chunk: Buffer) => {
      if (this.isSilent) held.push(chunk);
      else to.write(chunk);
    });
    const release = (): void => {
      for (const chunk of held.splice(0)) to.write(chunk);
    };
    this.releases.add(release);
    return release;
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
