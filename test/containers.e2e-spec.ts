import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/config.loader';
import { deleteKeysWithPrefix, freePort } from '../harness/redis-node';
import {
  BuiltStage,
  Stage,
  commandOf,
  copyContext,
  dockerignore,
  parseDockerfile,
  replayDockerfile,
  run,
} from './support/dockerfile-replay';
import { dropDatabase } from '../harness/database-checks';
import { LOCAL_BROKER, deleteExchange, exchangeExists } from '../harness/event-queue';
import { SHARED_REDIS_URL, databaseUrl, isolatedNames } from './support/test-app';

/**
 * No Docker engine runs on the development machines, so the container files are checked by
 * reading them (the compose services, their health-gated order, ports and environment) and the
 * Dockerfile by carrying out its steps in a temporary folder and starting what they produce.
 */
const ROOT = join(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const CONFIG_KEYS = Object.keys(JSON.parse(read('env.example.json')));

/** Compose's ${VAR:-default} and ${VAR:?message}: a default, or a stand-in for a required secret. */
/** Polls `read` until it returns a value, or fails after `ms`. */
async function eventually<T>(read: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

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

  it('runs PostgreSQL, three Redis nodes, RabbitMQ and two API instances; Prometheus and Grafana only in the monitoring profile', () => {
    const byDefault = Object.keys(services).filter((name) => !services[name].profiles);
    expect(byDefault.sort()).toEqual(['api-1', 'api-2', 'postgres', 'rabbitmq', 'redis-1', 'redis-2', 'redis-3']);
    const monitoring = Object.keys(services).filter((name) => services[name].profiles?.includes('monitoring'));
    expect(monitoring.sort()).toEqual(['grafana', 'prometheus']);
    expect(Object.keys(services)).toHaveLength(byDefault.length + monitoring.length);
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
      for (const dependency of ['postgres', 'redis-1', 'redis-2', 'redis-3', 'rabbitmq']) {
        expect({ name, dependency, condition: dependsOn[dependency]?.condition }).toEqual({
          name,
          dependency,
          condition: 'service_healthy',
        });
      }
    }
    expect(services['api-2'].depends_on['api-1']).toEqual({ condition: 'service_healthy' });
  });

  it("publishes each API on its own port of the host's loopback, to the PORT it listens on", () => {
    // /metrics and /api/docs answer without a token: nothing is published beyond the host itself.
    expect(services['api-1'].ports).toEqual(['127.0.0.1:3001:3000']);
    expect(services['api-2'].ports).toEqual(['127.0.0.1:3002:3000']);
    for (const name of apis) expect(services[name].environment.PORT).toBe('3000');
    for (const name of ['postgres', 'redis-1', 'redis-2', 'redis-3', 'rabbitmq']) expect(services[name].ports).toBeUndefined();
    // Unauthenticated Prometheus, and Grafana: the host's loopback only, Grafana off npm start's 3000.
    expect(services.prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
    expect(services.grafana.ports).toEqual(['127.0.0.1:3030:3000']);
    const published = Object.values(services).flatMap((service: any) => (service.ports ?? []) as string[]);
    for (const port of published) expect({ port, loopback: port.startsWith('127.0.0.1:') }).toEqual({ port, loopback: true });
  });

  it('provisions Prometheus and Grafana from the files in deploy/, pointed at the compose services', () => {
    const mounts = (name: string) =>
      Object.fromEntries(
        (services[name].volumes as string[])
          .map((v) => v.split(':'))
          .filter(([from]) => from.startsWith('./'))
          .map(([from, to]) => [to, from]),
      );
    for (const name of ['prometheus', 'grafana']) {
      for (const from of Object.values(mounts(name)))
        expect({ from, exists: existsSync(join(ROOT, from)) }).toEqual({ from, exists: true });
    }
    const prometheusDir = mounts('prometheus')['/etc/prometheus'];
    expect(services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const prometheus = parse(read(`${prometheusDir}/prometheus.yml`));
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
    const api = prometheus.scrape_configs.find((job: any) => job.job_name === 'flash-sale-api');
    expect(api.metrics_path).toBe('/metrics');
    expect(api.static_configs[0].targets).toEqual(apis.map((name) => `${name}:${services[name].environment.PORT}`));

    const grafana = mounts('grafana');
    const datasource = parse(read(`${grafana['/etc/grafana/provisioning']}/datasources/prometheus.yml`)).datasources[0];
    expect(datasource.url).toBe('http://prometheus:9090');
    const provider = parse(read(`${grafana['/etc/grafana/provisioning']}/dashboards/flash-sale.yml`)).providers[0];
    const dashboardFile = Object.entries(grafana).find(([to]) => to.startsWith(provider.options.path + '/'))![1];
    const dashboard = JSON.parse(read(dashboardFile));
    const uids = new Set(
      dashboard.panels
        .flatMap((panel: any) => [panel.datasource, ...(panel.targets ?? []).map((t: any) => t.datasource)])
        .filter(Boolean)
        .map((d: any) => d.uid),
    );
    expect([...uids]).toEqual([datasource.uid]);
  });

  it("sets only real config keys, and the values pass the service's own validation", () => {
    for (const name of apis) {
      const environment = services[name].environment as Record<string, string>;
      for (const key of Object.keys(environment)) expect({ key, known: CONFIG_KEYS.includes(key) }).toEqual({ key, known: true });
      const required: string[] = [];
      const values = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), required)]));
      // Secrets have no default: compose refuses to start without them.
      expect(required.sort()).toEqual(['ADMIN_PASSWORD', 'JWT_SECRET', 'POSTGRES_PASSWORD', 'RABBITMQ_PASSWORD']);
      const config = loadConfig({}, values);
      expect(config.NODE_ENV).toBe('production');
      expect(config.REDIS_URLS).toBe('redis://redis-1:6379,redis://redis-2:6379,redis://redis-3:6379');
      const db = new URL(config.DATABASE_URL);
      const pg = services.postgres.environment;
      expect([db.hostname, db.port, db.username, db.pathname.slice(1)]).toEqual(['postgres', '5432', pg.POSTGRES_USER, pg.POSTGRES_DB]);
      const postgresRequired: string[] = [];
      expect(db.password).toBe(interpolate(pg.POSTGRES_PASSWORD, postgresRequired));
      expect(postgresRequired).toEqual(['POSTGRES_PASSWORD']);
      // Both instances relay events to the compose broker, as its own user, with a password that has no default.
      const broker = new URL(config.EVENTS_URL);
      const mq = services.rabbitmq.environment;
      expect([broker.protocol, broker.hostname, broker.port, broker.username]).toEqual([
        'amqp:',
        'rabbitmq',
        '5672',
        mq.RABBITMQ_DEFAULT_USER,
      ]);
      const brokerRequired: string[] = [];
      expect(broker.password).toBe(interpolate(mq.RABBITMQ_DEFAULT_PASS, brokerRequired));
      expect(brokerRequired).toEqual(['RABBITMQ_PASSWORD']);
    }
  });

  it('refuses to start Grafana without its admin password, and never defaults it', async () => {
    // Compose's own ${VAR:?} would stop `docker compose up` without the profile too: the entrypoint refuses instead.
    expect(services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toBe('${GRAFANA_ADMIN_PASSWORD:-}');
    const [shell, flag, script, name] = services.grafana.entrypoint as string[];
    // Compose turns $$ into $ before the container's shell sees it.
    const start = (password: string) =>
      run([shell, flag, script.replace(/\$\$/g, '$'), name], tmpdir(), { PATH: '/usr/bin:/bin', GF_SECURITY_ADMIN_PASSWORD: password });
    await expect(start('')).rejects.toThrow(/exited with 1[\s\S]*set GRAFANA_ADMIN_PASSWORD/);
    // With a password it goes on to Grafana's own /run.sh (absent here: 127, not found).
    await expect(start('s3cret')).rejects.toThrow(/exited with 127/);
  });
});

describe('Dockerfile', () => {
  const stages = parseDockerfile(read('Dockerfile'));
  const [build, runtime] = stages;
  const lines = (stage: Stage) => stage.instructions.map((i) => `${i.keyword} ${i.args}`);

  it('builds in one stage and runs in another, as a non-root user, with a health check', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(lines(runtime)).toContain('USER node');
    expect(lines(runtime)).toContain('ENV NODE_ENV=production');
    expect(lines(runtime)).toContain('EXPOSE 3000');
    // Liveness: an orchestrator restarts unhealthy containers, and a database outage must not restart them all.
    expect(lines(runtime).find((l) => l.startsWith('HEALTHCHECK '))).toContain("/api/healthcheck/live'");
    expect(lines(runtime).some((l) => /^RUN npm (ci|install)/.test(l))).toBe(false);
    expect(lines(build).some((l) => l.startsWith('RUN npm ci'))).toBe(true);
    expect(lines(build).some((l) => /npm prune --omit=dev/.test(l))).toBe(true);
  });

  it('starts from the Node major version the service is tested on', () => {
    for (const stage of stages) expect(stage.base).toBe(`node:${process.versions.node.split('.')[0]}-bookworm-slim`);
  });

  it('reads .dockerignore as Docker does: a matching folder takes its contents with it', () => {
    const ignored = dockerignore(read('.dockerignore'));
    for (const path of [
      'node_modules/pg/package.json',
      'dist/src/main.js',
      '.git/HEAD',
      'env.json',
      'test/containers.e2e-spec.ts',
      'npm-debug.log',
      'deploy/prometheus/alerts.yml',
    ]) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
    }
    for (const path of ['package.json', 'package-lock.json', 'src/main.ts', 'migrations', 'env.example.json']) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false });
    }
    const rules = dockerignore('*.md\n!README.md\ndocs/**/draft-?.txt\n');
    expect([rules('NOTES.md'), rules('README.md'), rules('docs/a/b/draft-1.txt'), rules('docs/draft-12.txt')]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    const folder = dockerignore('docs\n!docs/keep.md\n');
    expect([folder('docs/other.md'), folder('docs/keep.md'), folder.hasExceptions]).toEqual([true, false, true]);
  });
});

/**
 * The image's steps carried out for real (see test/support/dockerfile-replay.ts): npm ci on the
 * lockfile, the build, the prune, then the runtime stage's CMD from the runtime stage's files
 * alone, with the compose file's API environment pointed at the local PostgreSQL and Redis.
 */
describe('the image, built by replaying the Dockerfile', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true });
  let buildDir: string;
  let stages: BuiltStage[];
  let runtime: BuiltStage;
  let hostEnv: Record<string, string>;
  let serviceEnv: Record<string, string>;
  let service: ChildProcess | undefined;
  let output = '';
  let url: string;
  const { database, prefix } = isolatedNames();
  // The image's relay publishes to the shared broker, to an exchange of this suite's own.
  const exchange = `test-image-${prefix.replace(/:/g, '-')}events`;

  beforeAll(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'dockerfile-replay-'));
    copyContext(ROOT, join(buildDir, 'context'));
    // What node:24-bookworm-slim gives RUN steps: node and npm on PATH, a home for npm's cache.
    // Node is the project's pinned one (jest runs on it), so npm and every RUN step run on it too.
    // prefer-offline lets npm ci take tarballs it already has; the lockfile still decides them.
    hostEnv = {
      PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: process.env.HOME ?? buildDir,
      npm_config_prefer_offline: 'true',
      npm_config_update_notifier: 'false',
      // The host's npm settings (registry, CA file) reach RUN steps as the build's network would:
      // npm started on the pinned Node looks for its global config beside that binary, not in /usr/etc.
      ...Object.fromEntries(
        Object.entries(process.env).filter(([key, value]) => /^npm_config_(globalconfig|userconfig|cafile|registry)$/.test(key) && value),
      ),
    };
    stages = await replayDockerfile(read('Dockerfile'), join(buildDir, 'context'), buildDir, hostEnv);
    runtime = stages[stages.length - 1];
    const size = execFileSync('du', ['-sk', join(runtime.root, runtime.workdir, 'node_modules')], { encoding: 'utf8' });
    console.log(`runtime stage node_modules: ${Math.round(Number(size.split('\t')[0]) / 1024)} MiB (du -sk)`);

    const required: string[] = [];
    const environment = Object.fromEntries(
      Object.entries(compose.services['api-1'].environment as Record<string, string>).map(([k, v]) => [
        k,
        interpolate(String(v), required),
      ]),
    );
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    serviceEnv = {
      PATH: hostEnv.PATH,
      ...runtime.env,
      ...environment,
      // Where compose's network names point on this machine, and a database and prefix of our own.
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl(database),
      DATABASE_POOL_SIZE: '4',
      REDIS_URLS: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      EVENTS_URL: LOCAL_BROKER.url,
      EVENTS_EXCHANGE: exchange,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_PASSWORD: 'replayed-image-admin-password',
    };
    service = spawn(runtime.cmd![0], runtime.cmd!.slice(1), { cwd: join(runtime.root, runtime.workdir), env: serviceEnv });
    service.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    service.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  }, 600_000);

  afterAll(async () => {
    if (service && service.exitCode === null) {
      service.kill('SIGKILL');
      await new Promise((resolve) => service!.once('exit', resolve));
    }
    await dropDatabase(databaseUrl(database));
    await deleteKeysWithPrefix([SHARED_REDIS_URL], prefix);
    await deleteExchange(exchange);
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it("runs the RUN steps on the pinned Node, the base image's major", async () => {
    expect((await run(['node', '--version'], buildDir, hostEnv)).trim()).toBe(process.version);
    expect((await run(['npm', 'exec', '--', 'node', '-p', 'process.version'], buildDir, hostEnv)).trim()).toBe(process.version);
    for (const stage of stages) expect(stage.base).toBe(`node:${process.versions.node.split('.')[0]}-bookworm-slim`);
  });

  it('leaves only production packages and the compiled service in the runtime stage', () => {
    expect(runtime.workdir).toBe('/app');
    const app = join(runtime.root, runtime.workdir);
    expect(readdirSync(app).sort()).toEqual(['dist', 'env.example.json', 'node_modules', 'package.json']);
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
    for (const tool of ['undici', 'hdr-histogram-js', 'chart.js', 'jest'])
      expect({ tool, shipped: existsSync(join(app, 'node_modules', tool)) }).toEqual({ tool, shipped: false });
    expect(existsSync(join(app, 'dist', 'src', 'main.js'))).toBe(true);
    // tsconfig.build.json compiles the service alone, and the tools are not in the build context.
    expect(readdirSync(join(app, 'dist')).sort()).toEqual(['migrations', 'src']);
  });

  it("starts the runtime stage's CMD in production mode and answers /api/healthcheck 200", async () => {
    const deadline = Date.now() + 60_000;
    let status = 0;
    while (Date.now() < deadline && service!.exitCode === null) {
      status = await fetch(`${url}/api/healthcheck`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect({ status, exited: service!.exitCode, output: status === 200 ? '' : output }).toEqual({ status: 200, exited: null, output: '' });
    // Production logs are JSON lines, and the example JWT secret would have been refused. The
    // server answers as soon as it listens; the start-up line is written on a later turn.
    const started = await eventually(() => output.split('\n').find((line) => line.includes('listening on')), 5_000);
    expect(JSON.parse(started).level).toBe(30);
    expect(runtime.env.NODE_ENV).toBe('production');
    // The relay ships in the image (amqplib is a production dependency) and declares its exchange at start.
    expect(await exchangeExists(exchange)).toBe(true);
  });

  it("the image's HEALTHCHECK command passes against the running service", async () => {
    const check = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(runtime.healthcheck!)![1];
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ...runtime.env, PORT: new URL(url).port };
    await expect(run(commandOf(check), join(runtime.root, runtime.workdir), env)).resolves.toBeDefined();
    // ... and fails when nothing answers, so the pass above means something.
    await expect(run(commandOf(check), join(runtime.root, runtime.workdir), { ...env, PORT: String(await freePort()) })).rejects.toThrow(
      /exited with 1/,
    );
  });

  it('runs `npm run migration:run` from the runtime stage (compiled migrations, no TypeScript compiler)', async () => {
    const app = join(runtime.root, runtime.workdir);
    expect(existsSync(join(app, 'node_modules', '.bin', 'tsc'))).toBe(false);
    const output = await run(['npm', 'run', 'migration:run'], app, { ...serviceEnv, HOME: hostEnv.HOME });
    expect(output).toMatch(/run-migrations\.js/);
  });

  it('drains and exits 0 on SIGTERM, as the orchestrator stops it', async () => {
    expect(service!.exitCode).toBeNull();
    const exited = new Promise<number | null>((resolve) => service!.once('exit', (code) => resolve(code)));
    service!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
