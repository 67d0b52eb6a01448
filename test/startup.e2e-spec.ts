import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../harness/redis-node';
import { dropDatabase } from '../harness/database-checks';
import { databaseUrl, isolatedNames } from './support/test-app';

const MAIN = join(__dirname, '..', 'dist', 'src', 'main.js');

function run(env: Record<string, string>, untilOutput?: RegExp, timeoutMs = 20000) {
  return new Promise<{ code: number | null; output: string; kill: () => void }>((resolve) => {
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, ...env } });
    let output = '';
    const finish = (code: number | null) => resolve({ code, output, kill: () => child.kill('SIGTERM') });
    const timer = setTimeout(() => finish(null), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (untilOutput?.test(output)) {
        clearTimeout(timer);
        finish(null);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      finish(code);
    });
  });
}

describe('the built service (dist/src/main.js)', () => {
  it('refuses to start on bad configuration, naming every bad key', async () => {
    const result = await run({ PORT: 'eighty', BCRYPT_COST: '2' });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/PORT="eighty"/);
    expect(result.output).toMatch(/BCRYPT_COST=/);
  });

  it('creates its database, migrates, serves health and stops cleanly on SIGTERM', async () => {
    const { database, prefix } = isolatedNames();
    const port = await freePort();
    const started = await run(
      {
        // The example JWT_SECRET, accepted only where development is chosen on purpose.
        NODE_ENV: 'development',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl(database),
        REDIS_KEY_PREFIX: prefix,
        LOG_LEVEL: 'info',
      },
      /listening on/,
    );
    try {
      expect(started.output).toContain(`created database ${database}`);
      expect(started.output).toContain('applied migration');
      expect(started.output).toContain('ADMIN_PASSWORD is not set');
      const health = await fetch(`http://127.0.0.1:${port}/api/healthcheck`);
      expect(health.status).toBe(200);
    } finally {
      started.kill();
      await new Promise((r) => setTimeout(r, 500));
      await dropDatabase(databaseUrl(database));
    }
  });
});
