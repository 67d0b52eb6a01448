import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { satisfies } from 'semver';
import { startServiceGroup } from '../harness/self-hosted-service';

/**
 * The project runs on the Node it pins (package.json's devDependency `node`, whose binary npm
 * puts in node_modules/.bin), not on whatever Node the machine has: npm scripts, `npm exec`
 * and jest find it first on PATH. The image's base is the same major.
 */
const ROOT = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const pinned: string = lock.packages['node_modules/node'].version;

describe('the pinned Node', () => {
  it('is a Node 24 LTS release, inside engines.node', () => {
    expect(pinned.split('.')[0]).toBe('24');
    expect(satisfies(pinned, manifest.devDependencies.node)).toBe(true);
    expect(satisfies(pinned, manifest.engines.node)).toBe(true);
  });

  it('runs these tests', () => {
    expect(process.version).toBe(`v${pinned}`);
  });

  it('is the node that `npm exec` (and so every npm script) finds', () => {
    const version = execFileSync('npm', ['exec', '--', 'node', '--version'], { cwd: ROOT, encoding: 'utf8' }).trim();
    expect(version).toBe(`v${pinned}`);
  });

  it('is the major the Dockerfile builds and runs on', () => {
    const bases = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(bases).toEqual([`node:${pinned.split('.')[0]}-bookworm-slim`, `node:${pinned.split('.')[0]}-bookworm-slim`]);
  });

  it("loads bcrypt's native binary", async () => {
    // bcrypt's prebuilt binaries use Node-API, so they load on any Node major without a rebuild.
    const bcrypt = await import('bcrypt');
    const hash = await bcrypt.hash('password123', 4);
    expect(await bcrypt.compare('password123', hash)).toBe(true);
  });
});

describe('the V8 flags the service sets itself (src/lifecycle/v8-flags.ts)', () => {
  it('leaves allocation-site pretenuring off in the built service, as deployed', async () => {
    // V8 prints these statistics at each young-generation GC while pretenuring is on: a service
    // started without the flag prints dozens by the time it listens (performance.md).
    const group = await startServiceGroup(1, { LOG_LEVEL: 'warn', NODE_ENV: 'production' }, undefined, {
      nodeArgs: ['--trace-pretenuring-statistics'],
    });
    try {
      for (let i = 0; i < 200; i++) expect((await fetch(`${group.url}/api/healthcheck/live`)).status).toBe(200);
      const output = group.processes[0].output();
      expect(output.split('\n').filter((line) => line.includes('pretenuring'))).toEqual([]);
    } finally {
      await group.stop();
    }
  }, 60_000);
});
