import { Server, Socket, createConnection, createServer } from 'node:net';

export type ProxyMode = 'forward' | 'blackhole' | 'refuse';

/** One proxied connection: the client's socket, ours to the target, and what a partition holds back. */
interface Link {
  client: Socket;
  upstream: Socket;
  /** Bytes sent during a blackhole, delivered in order when it lifts (as TCP would retransmit them). */
  held: { to: Socket; chunk: Buffer }[];
  /** A side closed during a blackhole: the other side learns it when the blackhole lifts. */
  closedDuringBlackhole: boolean;
  /** Our local port towards the target, kept: a closed socket no longer reports it. */
  upstreamPort?: number;
  /** Chunks on their way, per direction, in the order they were sent (see TcpProxy.deliver); null: the close. */
  inFlight: Map<Socket, { due: number; chunk: Buffer | null }[]>;
}

/**
 * A loopback TCP proxy a test can break on purpose, like a network between two hosts:
 * - `blackhole`: a partition. Connections stay open on both sides, no byte and no close gets
 *   through (new connections are accepted and hang too). When it lifts, held bytes arrive in
 *   order, and a side whose peer went away meanwhile is reset, as a real peer would do.
 * - `refuse`: cuts every connection and rejects new ones.
 * - `delayMs`: every chunk, either way, arrives that much later (a slow link).
 */
export class TcpProxy {
  private mode: ProxyMode = 'forward';
  private delay = 0;
  /** Armed by cutAfterClientSends: the client bytes that, once delivered, cut their link (and, with cutRefuses, every link). */
  private cutAfter?: Buffer;
  private cutRefuses = true;
  /** Armed by cutBeforeClientSends: the client bytes that are never delivered; their link is cut instead. */
  private cutBefore?: Buffer;
  private readonly links = new Set<Link>();
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
    const upstream = createConnection({ host, port });
    const link: Link = { client, upstream, held: [], closedDuringBlackhole: false, inFlight: new Map() };
    this.links.add(link);
    upstream.once('connect', () => (link.upstreamPort = upstream.localPort));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    const onClose = (other: Socket) => () => {
      if (this.mode === 'blackhole') {
        link.closedDuringBlackhole = true;
        return;
      }
      this.links.delete(link);
      // Bytes still on their way to `other` arrive first, then the close (a slow link's FIN
      // comes after its data).
      const waiting = link.inFlight.get(other);
      if (waiting) waiting.push({ due: performance.now() + this.delay, chunk: null });
      else other.destroy();
    };
    client.on('close', onClose(upstream));
    upstream.on('close', onClose(client));
    client.on('data', (chunk) => this.pass(link, upstream, chunk));
    upstream.on('data', (chunk) => this.pass(link, client, chunk));
  }

  private pass(link: Link, to: Socket, chunk: Buffer): void {
    if (this.cutBefore && this.mode === 'forward' && to === link.upstream && chunk.includes(this.cutBefore)) {
      // Never delivered: the target sees its client vanish (and rolls back what it held open).
      this.cutBefore = undefined;
      this.links.delete(link);
      link.client.destroy();
      link.upstream.destroy();
      return;
    }
    if (this.cutAfter && this.mode === 'forward' && to === link.upstream && chunk.includes(this.cutAfter)) {
      // Delivered, then the link goes: the target acts on these bytes, its answer reaches nobody.
      // Our side only half-closes (FIN after the bytes, never a reset that could discard them) and
      // keeps reading until the target closes; the client's socket is cut at once.
      this.cutAfter = undefined;
      this.links.delete(link);
      to.end(chunk);
      link.client.removeAllListeners('close');
      link.client.destroy();
      if (this.cutRefuses) this.set('refuse');
      return;
    }
    if (this.mode === 'blackhole') {
      link.held.push({ to, chunk });
      return;
    }
    if (this.mode !== 'forward') return;
    this.deliver(link, to, chunk);
  }

  /**
   * Writes a chunk after the link's delay, never before a chunk sent earlier the same way: a
   * link that gets faster (setDelay(0) after a slow spell) still delivers its bytes in order,
   * as TCP does. A timer per chunk would let the later, undelayed ones overtake the delayed.
   */
  private deliver(link: Link, to: Socket, chunk: Buffer): void {
    const waiting = link.inFlight.get(to);
    if (waiting) {
      waiting.push({ due: performance.now() + this.delay, chunk }); // the drain already on its way takes it in turn
      return;
    }
    if (this.delay === 0) {
      if (!to.destroyed) to.write(chunk);
      return;
    }
    const queue: { due: number; chunk: Buffer | null }[] = [{ due: performance.now() + this.delay, chunk }];
    link.inFlight.set(to, queue);
    const drain = () => {
      while (queue.length > 0 && queue[0].due <= performance.now()) {
        const next = queue.shift()!.chunk;
        if (next === null) to.destroy();
        // A partition that began while these bytes were on their way holds them too.
        else if (this.mode === 'blackhole') link.held.push({ to, chunk: next });
        else if (this.mode === 'forward' && !to.destroyed) to.write(next);
      }
      if (queue.length > 0) setTimeout(drain, queue[0].due - performance.now());
      else link.inFlight.delete(to);
    };
    setTimeout(drain, this.delay);
  }

  set(mode: ProxyMode): void {
    const wasBlackhole = this.mode === 'blackhole';
    this.mode = mode;
    if (mode === 'refuse') {
      for (const link of this.links) {
        link.client.destroy();
        link.upstream.destroy();
      }
      this.links.clear();
    }
    if (wasBlackhole && mode === 'forward') {
      for (const link of [...this.links]) {
        if (link.closedDuringBlackhole) {
          // The peer is gone: a retransmission after the partition meets a reset.
          this.links.delete(link);
          link.client.resetAndDestroy();
          link.upstream.resetAndDestroy();
          continue;
        }
        for (const { to, chunk } of link.held.splice(0)) this.pass(link, to, chunk);
      }
    }
  }

  /**
   * The next client chunk containing `text` (say `COMMIT\0`, PostgreSQL's COMMIT query) reaches the target, then the
   * proxy switches to `refuse`: the target acts on it (commits) but its answer is lost, and new
   * connections are refused until `set('forward')`. With `refuse` false only that link is cut:
   * the client can reconnect at once and ask what happened.
   */
  cutAfterClientSends(text: string, refuse = true): void {
    this.cutAfter = Buffer.from(text);
    this.cutRefuses = refuse;
  }

  /**
   * The next client chunk containing `text` never reaches the target: that link is cut both ways
   * instead (the target rolls back its open transaction), and the proxy goes on forwarding.
   */
  cutBeforeClientSends(text: string): void {
    this.cutBefore = Buffer.from(text);
  }

  /** Adds `ms` to every chunk's trip, in both directions, from now on. */
  setDelay(ms: number): void {
    this.delay = ms;
  }

  /**
   * The local ports of the proxy's own connections to the target: what the target sees as its
   * clients' ports (PostgreSQL's pg_stat_activity.client_port), so a test can tell them apart.
   */
  upstreamPorts(): number[] {
    return [...this.links].map((link) => link.upstream.localPort).filter((p): p is number => typeof p === 'number');
  }

  /**
   * Whether the client of the connection whose upstream local port is `upstreamPort` has closed
   * it (during a blackhole the target does not hear of it yet). False for an unknown port.
   */
  clientClosed(upstreamPort: number): boolean {
    for (const link of this.links) {
      if (link.upstreamPort === upstreamPort) return link.client.destroyed || link.client.readableEnded;
    }
    return false;
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    this.links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
