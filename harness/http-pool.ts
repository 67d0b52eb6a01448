import { Client, Dispatcher } from 'undici';

export interface HttpAnswer {
  /** 0 when no HTTP answer came (timeout, refused, reset). */
  status: number;
  body: any;
  retryAfter: string | null;
  /** The answer carried `Idempotent-Replayed: true` (the first answer to its Idempotency-Key, again). */
  replayed?: boolean;
  /** Why no answer came, when status is 0. */
  failure?: string;
}

/**
 * Up to `connections` keep-alive connections to one instance (no bound when 0, as undici's Pool
 * took it), each carrying one request at a time. An idle connection is taken from a stack and a
 * request that finds none waits its turn (first come, first served). undici's own Pool looks
 * through every connection it holds for an idle one on each request: at 4,096 connections that
 * scan was the largest item of the load tool's profile, this stack halves the load tool's CPU
 * there, and in the concurrency sweep the load tool, not the service, had been what filled its
 * core (performance.md, "The concurrency sweep").
 */
class InstanceConnections {
  private readonly idle: Client[] = [];
  private readonly all: Client[] = [];
  private readonly waiting: ((client: Client) => void)[] = [];

  constructor(
    private readonly url: string,
    private readonly connections: number,
    private readonly options: Client.Options,
  ) {}

  /** Sends one request and reads its whole body on a connection of its own; the connection is then free. */
  async request(options: Dispatcher.RequestOptions): Promise<{ response: Dispatcher.ResponseData; text: string }> {
    const client = this.idle.pop() ?? (this.connections <= 0 || this.all.length < this.connections ? this.open() : await this.turn());
    try {
      const response = await client.request(options);
      return { response, text: await response.body.text() };
    } finally {
      this.release(client);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((client) => client.close().catch(() => undefined)));
  }

  private open(): Client {
    const client = new Client(this.url, this.options);
    this.all.push(client);
    return client;
  }

  private turn(): Promise<Client> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(client: Client): void {
    const next = this.waiting.shift();
    if (next) next(client);
    else this.idle.push(client);
  }
}

/** Keep-alive connection pools to one or more instances, used round-robin. */
export class HttpPool {
  private readonly pools: InstanceConnections[];
  private readonly outOfRotation = new Set<number>();
  private next = 0;

  constructor(
    readonly urls: string[],
    connectionsPerUrl: number,
    private readonly timeoutMs: number,
  ) {
    this.pools = urls.map(
      (url) =>
        new InstanceConnections(url, connectionsPerUrl, {
          pipelining: 1,
          keepAliveTimeout: 30_000,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
    );
  }

  /**
   * Takes an instance out of the round-robin (or puts it back), as a load balancer does when
   * its health checks fail; requests already sent to it still wait for their answer.
   */
  setInRotation(url: string, inRotation: boolean): void {
    const index = this.urls.indexOf(url);
    if (index < 0) throw new Error(`${url} is not one of this pool's instances`);
    if (inRotation) this.outOfRotation.delete(index);
    else this.outOfRotation.add(index);
  }

  async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    token?: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    for (let skipped = 0; this.outOfRotation.has(this.next) && skipped < this.pools.length; skipped++) {
      this.next = (this.next + 1) % this.pools.length;
    }
    const pool = this.pools[this.next];
    this.next = (this.next + 1) % this.pools.length;
    const headers: Record<string, string> = { ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    try {
      const { response, text } = await pool.request({
        method,
        path,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // a non-JSON answer is reported as text
      }
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.statusCode,
        body: parsed,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
        replayed: response.headers['idempotent-replayed'] === 'true',
      };
    } catch (error) {
      return { status: 0, body: null, retryAfter: null, failure: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close().catch(() => undefined)));
  }
}

/** Runs tasks with at most `limit` in flight; returns when all are done. */
export async function runBounded<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let cursor = 0;
  const worker = async () => {
    while (cursor < items.length) {
      const index = cursor++;
      await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
