import { ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { startServiceGroup } from '../harness/self-hosted-service';
import { deleteKeysWithPrefix, freePort } from '../harness/redis-node';
import { dropDatabase } from '../harness/database-checks';
import { databaseUrl, isolatedNames, SHARED_REDIS_URL, sleep } from './support/test-app';

const CLUSTER = join(__dirname, '..', 'dist', 'src', 'cluster.js');

/** GET on a fresh connection each time, so the cluster primary hands it to the next worker. */
function getFresh(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/** The pid on each log line matching `message` (pino prints it, pretty "INFO (pid):" or JSON). */
const pidsOf = (output: string, message: RegExp): number[] =>
  output
    .split('\n')
    .filter((line) => message.test(line))
    .map((line) => Number((/\b[A-Z]+ \((\d+)\):/.exec(line) ?? /"pid":(\d+)/.exec(line))?.[1]))
    .filter((pid) => Number.isInteger(pid));

async function until(condition: () => boolean, timeoutMs: number, what: string, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${output().slice(-3000)}`);
    await sleep(100);
  }
}

describe('npm run start:cluster (dist/src/cluster.js)', () => {
  let child: ChildProcess | null = null;
  const { database, prefix } = isolatedNames();
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await dropDatabase(databaseUrl(database));
    await deleteKeysWithPrefix([SHARED_REDIS_URL], prefix);
  });

  it('forks CLUSTER_WORKERS workers that all serve one port, replaces a killed one, drains on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [CLUSTER], {
      env: {
        PATH: process.env.PATH,
        CLUSTER_WORKERS: '2',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl(database),
        REDIS_KEY_PREFIX: prefix,
        SHUTDOWN_GRACE_MS: '0',
        // The example JWT_SECRET, accepted only where development is chosen on purpose.
        NODE_ENV: 'development',
      },
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    const listening = () => pidsOf(output, /listening on/);
    await until(
      () => listening().length >= 2,
      30_000,
      'two workers listening',
      () => output,
    );
    const workers = listening();
    expect(new Set(workers).size).toBe(2);
    expect(workers).not.toContain(child.pid);

    // Both workers answer requests on the one port.
    for (let i = 0; i < 20; i++) expect(await getFresh(`${url}/api/healthcheck`)).toBe(200);
    await until(
      () => new Set(pidsOf(output, /request completed/)).size === 2,
      5000,
      'requests logged by both workers',
      () => output,
    );
    expect(new Set(pidsOf(output, /request completed/))).toEqual(new Set(workers));

    // A crashed worker is replaced, and the port answers on every connection again.
    process.kill(workers[0], 'SIGKILL');
    await until(
      () => listening().length >= 3,
      30_000,
      'a replacement worker',
      () => output,
    );
    expect(output).toMatch(new RegExp(`worker ${workers[0]} exited \\(SIGKILL\\); starting a replacement`));
    for (let i = 0; i < 10; i++) expect(await getFresh(`${url}/api/healthcheck`)).toBe(200);

    const stopping = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(15_000);
    expect(output).toMatch(/drained; exiting/);
  }, 90_000);
});

describe('SIGTERM on one API process', () => {
  it('turns health 503 "draining" during SHUTDOWN_GRACE_MS, then exits 0', async () => {
    const group = await startServiceGroup(1, { SHUTDOWN_GRACE_MS: '1500', LOG_LEVEL: 'info' });
    try {
      const [service] = group.processes;
      expect((await fetch(`${service.url}/api/healthcheck`)).status).toBe(200);
      service.signal('SIGTERM');
      await sleep(300);
      const health = await fetch(`${service.url}/api/healthcheck`);
      const body = await health.json();
      expect(health.status).toBe(503);
      expect(JSON.stringify(body)).toContain('draining');
      expect(await service.exited).toBe(0);
      expect(service.output()).toMatch(/SIGTERM: draining/);
    } finally {
      await group.stop();
    }
  }, 60_000);
});
