import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { loadConfig, projectRoot, redisUrls } from '../src/config/config.loader';

export interface SelfHostedService {
  url: string;
  databaseUrl: string;
  adminUser: string;
  adminPassword: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the built service (dist/src/main.js) on a free loopback port with a throwaway
 * database and Redis key prefix, against the PostgreSQL and Redis of the local
 * configuration. stop() ends it and removes the database and the keys.
 */
export async function startSelfHostedService(extraEnv: Record<string, string> = {}): Promise<SelfHostedService> {
  const main = join(projectRoot(), 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const base = loadConfig();
  const id = `${Date.now().toString(36)}_${process.pid}`;
  const dbUrl = new URL(base.DATABASE_URL);
  dbUrl.pathname = `/coupons_stress_${id}`;
  const prefix = `stress:${id}:`;
  const port = await freePort();
  const adminPassword = randomBytes(12).toString('hex');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    DATABASE_URL: dbUrl.toString(),
    REDIS_KEY_PREFIX: prefix,
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: adminPassword,
    JWT_SECRET: randomBytes(32).toString('hex'),
    // Every stress user logs in from this one address: a per-address login limit would stop
    // the set-up, not test the sale. Per-username and per-user claim limits stay on.
    LOGIN_RATE_LIMIT_PER_ADDRESS: '0',
    ...extraEnv,
  };
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    await dropDatabase(base.DATABASE_URL, dbUrl.toString());
    throw error;
  }
  return {
    url,
    databaseUrl: dbUrl.toString(),
    adminUser: 'admin',
    adminPassword,
    stop: async () => {
      await stopChild(child);
      await dropDatabase(base.DATABASE_URL, dbUrl.toString());
      await deleteKeysWithPrefix(redisUrls(base), prefix);
    },
  };
}

async function waitHealthy(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${output()}`);
    try {
      const response = await fetch(`${url}/api/healthcheck`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the service did not become healthy within 30 s:\n${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function dropDatabase(baseUrl: string, url: string): Promise<void> {
  const maintenance = new URL(baseUrl);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString() });
  try {
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
  } catch {
    // best effort: a leftover throwaway database is harmless
  } finally {
    await client.end().catch(() => undefined);
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
