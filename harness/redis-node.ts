import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import Redis from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A Redis server owned by one test or scenario: started on a free loopback port, stopped by its own pid. */
export class RedisNode {
  private constructor(
    readonly port: number,
    private pid: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(port?: number): Promise<RedisNode> {
    const chosen = port ?? (await freePort());
    const pidfile = `/tmp/coupons-test-redis-${chosen}.pid`;
    rmSync(pidfile, { force: true });
    execFileSync('redis-server', [
      '--port',
      String(chosen),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'yes',
      '--pidfile',
      pidfile,
      '--logfile',
      `/tmp/coupons-test-redis-${chosen}.log`,
    ]);
    const deadline = Date.now() + 5000;
    while (!existsSync(pidfile) || !(await ping(chosen))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${chosen} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return new RedisNode(chosen, Number(readFileSync(pidfile, 'utf8').trim()));
  }

  /** SIGKILL: the node vanishes mid-sale. */
  async kill(): Promise<void> {
    signal(this.pid, 'SIGCONT');
    signal(this.pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (alive(this.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** SIGSTOP: the node keeps its connections but never answers. */
  pause(): void {
    signal(this.pid, 'SIGSTOP');
  }

  resume(): void {
    signal(this.pid, 'SIGCONT');
  }

  /** Starts a fresh server on the same port after kill(). */
  async restart(): Promise<void> {
    const again = await RedisNode.start(this.port);
    this.pid = again.pid;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ping(port: number): Promise<boolean> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Removes the keys under one prefix only (never a flush: the Redis may be shared). */
export async function deleteKeysWithPrefix(urls: string[], prefix: string): Promise<void> {
  if (!prefix) return;
  for (const url of urls) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } catch {
      // best effort
    } finally {
      redis.disconnect();
    }
  }
}
