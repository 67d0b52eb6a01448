import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase } from '../harness/database-checks';
import { freePort } from '../harness/redis-node';
import { databaseUrl, isolatedNames } from './support/test-app';

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const DB_PASSWORD = 'db-pw-Zq81xx';
const REDIS_PASSWORD = 'redis-pw-Wk27yy';
/** Long enough for a start that fails on a refused connection (about 1 s here) under a loaded machine. */
const EXIT_WITHIN_MS = 30_000;

/** Runs a command to its exit (or EXIT_WITHIN_MS) and returns everything it wrote to stdout and stderr. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // Its own process group: npm's child must die with it if the start does not stop by itself.
    const child = spawn(command, args, {
      cwd: ROOT,
      detached: true,
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), EXIT_WITHIN_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const withPassword = (url: string, password: string) => {
  const parsed = new URL(url);
  parsed.username = parsed.username || 'postgres';
  parsed.password = password;
  return parsed.toString();
};

describe('secrets at start-up (the built dist/src/main.js)', () => {
  it('a configuration error names DATABASE_URL and REDIS_URLS but prints neither password', async () => {
    const result = await run(process.execPath, [MAIN], {
      NODE_ENV: 'development',
      // No database name, and an empty node in the list: both refused by the configuration.
      DATABASE_URL: `postgres://coupons:${DB_PASSWORD}@127.0.0.1:5432`,
      REDIS_URLS: `redis://:${REDIS_PASSWORD}@127.0.0.1:6379,,`,
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('DATABASE_URL="postgres://coupons:***@127.0.0.1:5432"');
    expect(result.output).toContain('REDIS_URLS=');
    expect(result.output).not.toContain(DB_PASSWORD);
    expect(result.output).not.toContain(REDIS_PASSWORD);
  });

  it('URLs no driver can parse are refused by the configuration, named, and printed masked', async () => {
    const result = await run(process.execPath, [MAIN], {
      NODE_ENV: 'development',
      DATABASE_URL: `postgres://coupons:${DB_PASSWORD}@127.0.0.1:99999/coupons`,
      REDIS_URLS: `redis://:${REDIS_PASSWORD}@127.0.0.1:notaport`,
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/DATABASE_URL=.*is not a valid URL/);
    expect(result.output).toMatch(/REDIS_URLS=.*is not a valid URL/);
    expect(result.output).not.toContain(DB_PASSWORD);
    expect(result.output).not.toContain(REDIS_PASSWORD);
  });

  it("whatever reaches the console before the app's logger (Nest prints a failed module's error whole) is masked", async () => {
    const script = `require(${JSON.stringify(join(ROOT, 'dist', 'src', 'logging', 'masked-console.js'))}).maskConsoleOutput();
      console.error(Object.assign(new TypeError('Invalid URL'), { input: 'redis://:${REDIS_PASSWORD}@h:x' }));
      process.stdout.write(Buffer.from('postgres://u:${DB_PASSWORD}@h/db\\n'));`;
    const result = await run(process.execPath, ['-e', script], {});
    expect(result.code).toBe(0);
    expect(result.output).toContain("input: 'redis://:***@h:x'");
    expect(result.output).toContain('postgres://u:***@h/db');
    expect(result.output).not.toContain(DB_PASSWORD);
    expect(result.output).not.toContain(REDIS_PASSWORD);
  });

  it('a start that cannot reach PostgreSQL, with both URLs given as *_FILE secrets, prints neither password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-e2e-'));
    try {
      const closed = await freePort();
      writeFileSync(join(dir, 'database_url'), `postgres://coupons:${DB_PASSWORD}@127.0.0.1:${closed}/coupons\n`);
      writeFileSync(join(dir, 'redis_urls'), `redis://:${REDIS_PASSWORD}@127.0.0.1:${closed}\n`);
      const result = await run(process.execPath, [MAIN], {
        NODE_ENV: 'development',
        DATABASE_URL_FILE: join(dir, 'database_url'),
        REDIS_URLS_FILE: join(dir, 'redis_urls'),
      });
      expect(result.code).toBe(1);
      expect(result.output).toContain('ECONNREFUSED');
      expect(result.output).not.toContain(DB_PASSWORD);
      expect(result.output).not.toContain(REDIS_PASSWORD);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a service that starts with passwords in both URLs and a Redis that is away never prints them, nor does its readiness', async () => {
    const { database, prefix } = isolatedNames();
    const port = await freePort();
    const closed = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH!,
        NODE_ENV: 'production',
        JWT_SECRET: 'a-test-secret-of-at-least-32-bytes-0123',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'debug',
        DATABASE_URL: withPassword(databaseUrl(database), DB_PASSWORD),
        REDIS_URLS: `redis://:${REDIS_PASSWORD}@127.0.0.1:${closed}`,
        REDIS_KEY_PREFIX: prefix,
        SHUTDOWN_GRACE_MS: '0',
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + EXIT_WITHIN_MS;
      while (!/listening on/.test(output) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(output).toMatch(/listening on/);
      const readiness = await fetch(`http://127.0.0.1:${port}/api/healthcheck`);
      const body = await readiness.text();
      expect(readiness.status).toBe(503);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // Time for the Redis client's reconnect attempts to log whatever they log.
      await new Promise((r) => setTimeout(r, 1500));
      for (const text of [output, body, metrics]) {
        expect(text).not.toContain(DB_PASSWORD);
        expect(text).not.toContain(REDIS_PASSWORD);
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await dropDatabase(databaseUrl(database));
    }
  });
});

describe('npm run start:prod without its own JWT_SECRET', () => {
  it('refuses to start and names JWT_SECRET (NODE_ENV unset)', async () => {
    const result = await run('npm', ['run', '--silent', 'start:prod'], { DATABASE_URL: databaseUrl('never_created') });
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/JWT_SECRET is not set/);
    expect(result.output).not.toMatch(/listening on/);
  });

  it('refuses with NODE_ENV=production too', async () => {
    const result = await run('npm', ['run', '--silent', 'start:prod'], { NODE_ENV: 'production' });
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/JWT_SECRET/);
  });
});
