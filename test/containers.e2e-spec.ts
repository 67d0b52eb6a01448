import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/config.loader';

/**
 * No Docker engine runs on the development machines, so the container files are checked by
 * reading them: the compose services, their health-gated order, ports and environment, and the
 * Dockerfile's stages against what the repository really holds.
 */
const ROOT = join(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const CONFIG_KEYS = Object.keys(JSON.parse(read('env.example.json')));

/** Compose's ${VAR:-default} and ${VAR:?message}: a default, or a stand-in for a required secret. */
function interpolate(value: string, required: string[]): string {
  return value.replace(/\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_match, name: string, fallback?: string) => {
    if (fallback !== undefined) return fallback;
    required.push(name);
    return `stand-in-${name.toLowerCase()}-0123456789abcdef0123456789`;
  });
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true });
  const services = compose.services as Record<string, any>;
  const apis = ['api-1', 'api-2'];

  it('runs PostgreSQL, three Redis nodes and two API instances', () => {
    expect(Object.keys(services).sort()).toEqual(['api-1', 'api-2', 'postgres', 'redis-1', 'redis-2', 'redis-3']);
    expect(services.postgres.image).toMatch(/^postgres:15/);
    for (const name of ['redis-1', 'redis-2', 'redis-3']) expect(services[name].image).toMatch(/^redis:7/);
    for (const name of apis) expect(services[name].build).toBe('.');
  });

  it('gives every service a health check', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, test: service.healthcheck?.test?.length > 0 }).toEqual({ name, test: true });
    }
    expect(services.postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(services['redis-1'].healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const name of apis) expect(services[name].healthcheck.test.join(' ')).toContain('/api/healthcheck');
  });

  it('starts the APIs only once their dependencies are healthy, api-2 after api-1', () => {
    for (const name of apis) {
      const dependsOn = services[name].depends_on;
      for (const dependency of ['postgres', 'redis-1', 'redis-2', 'redis-3']) {
        expect({ name, dependency, condition: dependsOn[dependency]?.condition }).toEqual({
          name,
          dependency,
          condition: 'service_healthy',
        });
      }
    }
    expect(services['api-2'].depends_on['api-1']).toEqual({ condition: 'service_healthy' });
  });

  it('publishes each API on its own host port, to the PORT it listens on', () => {
    expect(services['api-1'].ports).toEqual(['3001:3000']);
    expect(services['api-2'].ports).toEqual(['3002:3000']);
    for (const name of apis) expect(services[name].environment.PORT).toBe('3000');
    for (const name of ['postgres', 'redis-1', 'redis-2', 'redis-3']) expect(services[name].ports).toBeUndefined();
  });

  it('sets only real config keys, and the values pass the service\'s own validation', () => {
    for (const name of apis) {
      const environment = services[name].environment as Record<string, string>;
      for (const key of Object.keys(environment)) expect({ key, known: CONFIG_KEYS.includes(key) }).toEqual({ key, known: true });
      const required: string[] = [];
      const values = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), required)]));
      // Secrets have no default: compose refuses to start without them.
      expect(required.sort()).toEqual(['ADMIN_PASSWORD', 'JWT_SECRET']);
      const config = loadConfig({}, values);
      expect(config.NODE_ENV).toBe('production');
      expect(config.REDIS_URLS).toBe('redis://redis-1:6379,redis://redis-2:6379,redis://redis-3:6379');
      const db = new URL(config.DATABASE_URL);
      const pg = services.postgres.environment;
      expect([db.hostname, db.port, db.username, db.pathname.slice(1)]).toEqual(['postgres', '5432', pg.POSTGRES_USER, pg.POSTGRES_DB]);
      expect(db.password).toBe(interpolate(pg.POSTGRES_PASSWORD, []));
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile').replace(/\\\n\s*/g, ' ');
  const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+ /.test(line));
  const stages = instructions.join('\n').split(/^FROM /m).slice(1);

  it('builds in one stage and runs in another, as a non-root user, with a health check', () => {
    expect(stages).toHaveLength(2);
    const runtime = stages[1];
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^ENV NODE_ENV=production$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\/api\/healthcheck/m);
    expect(runtime).toContain('COPY --from=build');
    expect(runtime).not.toMatch(/^RUN npm (ci|install)/m);
    expect(stages[0]).toMatch(/npm ci/);
    expect(stages[0]).toMatch(/npm prune --omit=dev/);
    expect(runtime).toMatch(/^EXPOSE 3000$/m);
  });

  it('copies only what exists and starts the entry point the build produces', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const sources = line.replace(/--\S+/g, '').trim().split(/\s+/).slice(1, -1);
      for (const source of sources) expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
    }
    const cmd = JSON.parse(instructions.find((l) => l.startsWith('CMD '))!.slice(4)) as string[];
    expect(cmd).toEqual(['node', 'dist/src/main.js']);
    expect(JSON.parse(read('tsconfig.json')).compilerOptions.outDir).toBe('./dist');
    expect(existsSync(join(ROOT, 'src', 'main.ts'))).toBe(true);
  });

  it('keeps local state out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', 'env.json', '.git']) expect(ignored).toContain(entry);
  });
});
