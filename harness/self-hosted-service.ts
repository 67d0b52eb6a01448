import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, projectRoot, redisUrls } from '../src/config/config.loader';
import { dropDatabase } from './database-checks';
import { deleteKeysWithPrefix, freePort } from './redis-node';

export interface SelfHostedService {
  url: string;
  databaseUrl: string;
  adminUser: string;
  adminPassword: string;
  stop(): Promise<void>;
}

/** One API process of a self-hosted group, owned (and stopped) by its pid. */
export interface ServiceProcess {
  url: string;
  pid: number;
  /** The newest 50 kB it printed (pino JSON lines on stdout). */
  output(): string;
  /** How many lines of its output matched `pattern` (count it from start-up on). */
  count(pattern: RegExp): number;
  signal(name: NodeJS.Signals): void;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/** Several API processes sharing one throwaway database and Redis key prefix. */
export interface ServiceGroup extends SelfHostedService {
  processes: ServiceProcess[];
  urls: string[];
}

/**
 * Starts the built service (dist/src/main.js) on a free loopback port with a throwaway
 * database and Redis key prefix, against the PostgreSQL and Redis of the local
 * configuration. stop() ends it and removes the database and the keys.
 */
export async function startSelfHostedService(extraEnv: Record<string, string> = {}): Promise<SelfHostedService> {
  return startServiceGroup(1, extraEnv);
}

/**
 * Starts `count` API processes like startSelfHostedService, all on one database and key
 * prefix, as instances behind a load balancer would be. The first creates and migrates the
 * database alone; the others start together. stop() ends every process still running.
 * `perProcess(index, env)` may change one process's environment (a proxied link, a fake clock).
 */
export async function startServiceGroup(
  count: number,
  extraEnv: Record<string, string> = {},
  perProcess: (index: number, env: Record<string, string>) => Record<string, string> = (_, env) => env,
  options: {
    /** 'discard' sends the processes' stdout to /dev/null (as a log shipper would take it away), so a chatty LOG_LEVEL costs this process nothing. */
    stdout?: 'keep' | 'discard';
    /** The processes reach PostgreSQL on this loopback port (a proxy in front of it); set-up and clean-up go direct. */
    databasePort?: number;
    /** Extra node flags before the script (e.g. --cpu-prof, which NODE_OPTIONS does not accept). */
    nodeArgs?: string[];
  } = {},
): Promise<ServiceGroup> {
  const stdout = options.stdout ?? 'keep';
  const main = join(projectRoot(), 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const base = loadConfig();
  const id = `${Date.now().toString(36)}_${process.pid}_${randomBytes(2).toString('hex')}`;
  const dbUrl = new URL(base.DATABASE_URL);
  dbUrl.pathname = `/coupons_stress_${id}`;
  const prefix = `stress:${id}:`;
  const adminPassword = randomBytes(12).toString('hex');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: options.databasePort ? onLoopbackPort(dbUrl, options.databasePort) : dbUrl.toString(),
    REDIS_KEY_PREFIX: prefix,
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: adminPassword,
    JWT_SECRET: randomBytes(32).toString('hex'),
    // Every stress user logs in (and may register) from this one address: per-address limits
    // would stop the set-up, not test the sale. Per-username and per-user claim limits stay on.
    LOGIN_RATE_LIMIT_PER_ADDRESS: '0',
    REGISTRATION_RATE_LIMIT_PER_ADDRESS: '0',
    // The set-up logs thousands of users in, 64 at a time; a sale's own logins are not measured.
    BCRYPT_MAX_CONCURRENT: '1024',
    // No load balancer polls these processes' health: stop straight away on SIGTERM.
    SHUTDOWN_GRACE_MS: '0',
    ...extraEnv,
  };
  const processes: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map(stopProcess));
    // Best effort: a leftover throwaway database is harmless, and stop() runs on failure paths too.
    await dropDatabase(dbUrl.toString()).catch(() => undefined);
    await deleteKeysWithPrefix(env.REDIS_URLS ? env.REDIS_URLS.split(',') : redisUrls(base), prefix);
  };
  try {
    processes.push(await spawnService(main, perProcess(0, env), stdout, options.nodeArgs));
    processes.push(
      ...(await Promise.all(
        Array.from({ length: count - 1 }, (_, i) => spawnService(main, perProcess(i + 1, env), stdout, options.nodeArgs)),
      )),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: processes[0].url,
    urls: processes.map((p) => p.url),
    processes,
    databaseUrl: dbUrl.toString(),
    adminUser: 'admin',
    adminPassword,
    stop,
  };
}

function onLoopbackPort(url: URL, port: number): string {
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  return proxied.toString();
}

async function spawnService(
  main: string,
  env: Record<string, string>,
  stdout: 'keep' | 'discard',
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', stdout === 'keep' ? 'pipe' : 'ignore', 'pipe'],
  });
  let output = '';
  let partial = '';
  const counters = new Map<RegExp, number>();
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-50_000);
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) for (const [pattern, n] of counters) if (pattern.test(line)) counters.set(pattern, n + 1);
  };
  child.stdout?.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service: ServiceProcess = {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => output,
    count: (pattern) => {
      if (!counters.has(pattern)) counters.set(pattern, output.split('\n').filter((line) => pattern.test(line)).length);
      return counters.get(pattern)!;
    },
    signal: (name) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(name);
    },
    exited,
  };
  try {
    await waitHealthy(service.url, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return service;
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

async function stopProcess(service: ServiceProcess): Promise<void> {
  service.signal('SIGTERM');
  const timer = setTimeout(() => service.signal('SIGKILL'), 10_000);
  await service.exited;
  clearTimeout(timer);
}
