import { Server, Socket, createConnection, createServer } from 'node:net';

export type ProxyMode = 'forward' | 'blackhole' | 'refuse';

/**
 * A loopback TCP proxy a test can break on purpose: `blackhole` keeps connections open but
 * swallows every byte (a hung database), `refuse` cuts every connection and rejects new ones.
 * `delayMs` holds every chunk that long in each direction (a network hop between hosts; the
 * bench's latency rows), keeping the order of the bytes.
 */
export class TcpProxy {
  private mode: ProxyMode = 'forward';
  /** Added to every chunk, each way. Change it while no traffic flows: a chunk held under the old delay could be overtaken. */
  delayMs = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => proxy.accept(client, targetHost, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => undefined);
    if (this.mode === 'blackhole') {
      client.on('data', () => undefined);
      return;
    }
    const upstream = createConnection({ host, port });
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.on('data', (chunk) => this.pass(chunk, upstream));
    upstream.on('data', (chunk) => this.pass(chunk, client));
  }

  private pass(chunk: Buffer, to: Socket): void {
    if (this.mode !== 'forward') return;
    if (this.delayMs <= 0) {
      to.write(chunk);
      return;
    }
    // Timers of one duration fire in the order they were set, so the stream stays in order.
    setTimeout(() => {
      if (this.mode === 'forward' && !to.destroyed) to.write(chunk);
    }, this.delayMs);
  }

  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'refuse') for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
