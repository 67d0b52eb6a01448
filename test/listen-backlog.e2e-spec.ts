import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../harness/redis-node';
import { dropDatabase } from '../harness/database-checks';
import { databaseUrl, isolatedNames, sleep } from './support/test-app';

const DIST = join(__dirname, '..', 'dist', 'src');

/** The backlog the kernel holds for a listening socket: `ss -ltn` shows it as Send-Q. */
function listenBacklog(port: number): number | null {
  const output = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const line = output.split('\n').find((l) => l.startsWith('LISTEN'));
  return line ? Number(line.trim().split(/\s+/)[2]) : null;
}

/** Starts an entry file of the built service with `env`, waits until it listens, and returns its port's backlog. */
async function backlogOf(entry: 'main.js' | 'cluster.js', env: Record<string, string>): Promise<number | null> {
  const { database, prefix } = isolatedNames();
  const port = await freePort();
  const child = spawn(process.execPath, [join(DIST, entry)], {
    env: {
      PATH: process.env.PATH,
      // The example JWT_SECRET, accepted only where development is chosen on purpose.
      NODE_ENV: 'development',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl(database),
      REDIS_KEY_PREFIX: prefix,
      SHUTDOWN_GRACE_MS: '0',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  try {
    const deadline = Date.now() + 20_000;
    while (!/listening on/.test(output)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the service did not start:\n${output}`);
      await sleep(100);
    }
    return listenBacklog(port);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await dropDatabase(databaseUrl(database));
  }
}

describe('LISTEN_BACKLOG', () => {
  // The kernel silently lowers a backlog above net.core.somaxconn, so the values tested stay below it.
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

  it('sets the listen socket backlog of npm start (main.js)', async () => {
    expect(somaxconn).toBeGreaterThanOrEqual(1237);
    expect(await backlogOf('main.js', { LISTEN_BACKLOG: '1237' })).toBe(1237);
  });

  it('defaults to a flash-sale size (4096, or what the kernel allows), not Node 511', async () => {
    expect(await backlogOf('main.js', {})).toBe(Math.min(4096, somaxconn));
  });

  it('sets the shared socket backlog of npm run start:cluster (cluster.js)', async () => {
    expect(await backlogOf('cluster.js', { LISTEN_BACKLOG: '1239', CLUSTER_WORKERS: '1' })).toBe(1239);
  });
});
