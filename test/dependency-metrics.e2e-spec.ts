import { TcpProxy } from '../harness/tcp-proxy';
import { SHARED_REDIS_URL, TestApp, databaseUrl, isolatedNames, sleep, startTestApp } from './support/test-app';

/** HEALTH_TIMEOUT_MS of these apps: each probe of a scrape gives up after this long. */
const PROBE_TIMEOUT_MS = 500;
/** A scrape waits for its slowest probe: the timeout, plus slack for a loaded machine. */
const SCRAPE_WITHIN_MS = PROBE_TIMEOUT_MS + 2000;
/** The login limit per username of this app: the next login of that name is answered 429. */
const LOGINS_PER_USERNAME = 3;
/** A dependency back in service reconnects within a few scrapes (ioredis retries every <= 1 s). */
const RECOVERY_SCRAPES = 30;

/** The samples of one metric in a scrape, by their label string: `{dependency="redis",node="..."}` -> value. */
function samples(exposition: string, metric: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    const match = line.match(new RegExp(`^${metric}(\\{[^}]*\\})? (\\S+)$`));
    if (match) found.set(match[1] ?? '', Number(match[2]));
  }
  return found;
}

describe('dependency_up in /metrics, read at scrape time (PostgreSQL and three Redis nodes behind test proxies)', () => {
  let t: TestApp;
  let pg: TcpProxy;
  let redis: TcpProxy[];
  const shared = new URL(SHARED_REDIS_URL);

  const scrape = async () => {
    const started = Date.now();
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    const body = await res.text();
    return { ms: Date.now() - started, up: samples(body, 'dependency_up'), body };
  };
  const label = (dependency: string, proxy: TcpProxy) => `{dependency="${dependency}",node="127.0.0.1:${proxy.port}"}`;
  const untilUp = async (dependency: string, proxy: TcpProxy) => {
    for (let i = 0; i < RECOVERY_SCRAPES; i++) {
      if ((await scrape()).up.get(label(dependency, proxy)) === 1) return;
      await sleep(200);
    }
    throw new Error(`${dependency} behind :${proxy.port} never came back to 1`);
  };

  beforeAll(async () => {
    pg = await TcpProxy.start('127.0.0.1', 5432);
    redis = await Promise.all([0, 1, 2].map(() => TcpProxy.start(shared.hostname, Number(shared.port || 6379))));
    const { database } = isolatedNames();
    t = await startTestApp({
      DATABASE_URL: databaseUrl(database, `postgres://postgres@127.0.0.1:${pg.port}/postgres`),
      REDIS_URLS: redis.map((proxy) => `redis://127.0.0.1:${proxy.port}`).join(','),
      HEALTH_TIMEOUT_MS: PROBE_TIMEOUT_MS,
      DATABASE_CONNECT_TIMEOUT_MS: PROBE_TIMEOUT_MS,
      LOGIN_RATE_LIMIT_PER_USERNAME: LOGINS_PER_USERNAME,
    });
  });
  afterAll(async () => {
    pg.set('forward');
    for (const proxy of redis) proxy.set('forward');
    await t.close();
    await Promise.all([pg, ...redis].map((proxy) => proxy.close()));
  });

  it('all reachable: 1 for PostgreSQL and for each Redis node, labelled by host:port', async () => {
    const { up } = await scrape();
    expect(Object.fromEntries(up)).toEqual({
      [label('postgres', pg)]: 1,
      [label('redis', redis[0])]: 1,
      [label('redis', redis[1])]: 1,
      [label('redis', redis[2])]: 1,
    });
  });

  it.each(['refuse', 'blackhole'] as const)(
    'PostgreSQL unreachable (%s): 0 at the next scrape, within the probe timeout; then back to 1',
    async (mode) => {
      pg.set(mode);
      try {
        const { up, ms } = await scrape();
        expect(up.get(label('postgres', pg))).toBe(0);
        expect(up.get(label('redis', redis[0]))).toBe(1);
        expect(ms).toBeLessThan(SCRAPE_WITHIN_MS);
      } finally {
        pg.set('forward');
      }
      await untilUp('postgres', pg);
    },
  );

  it.each(['refuse', 'blackhole'] as const)(
    'one Redis node unreachable (%s): its own series goes to 0 at the next scrape, the others stay 1; then back to 1',
    async (mode) => {
      redis[1].set(mode);
      try {
        const { up, ms } = await scrape();
        expect(up.get(label('redis', redis[1]))).toBe(0);
        expect(up.get(label('redis', redis[0]))).toBe(1);
        expect(up.get(label('redis', redis[2]))).toBe(1);
        expect(up.get(label('postgres', pg))).toBe(1);
        expect(ms).toBeLessThan(SCRAPE_WITHIN_MS);
      } finally {
        redis[1].set('forward');
      }
      await untilUp('redis', redis[1]);
    },
  );

  it('a 429 is counted by the limit it exceeded', async () => {
    const count = (body: string) => samples(body, 'rate_limited_total').get('{limit="login:username"}') ?? 0;
    const before = count((await scrape()).body);
    const statuses: number[] = [];
    for (let i = 0; i <= LOGINS_PER_USERNAME; i++) {
      statuses.push((await t.api.post('/api/users/login', { username: 'limited', password: 'wrong-password' })).status);
    }
    expect(statuses).toEqual([...Array(LOGINS_PER_USERNAME).fill(401), 429]);
    expect(count((await scrape()).body)).toBe(before + 1);
  });

  it('the rate limiter failing open (its Redis node away) is counted', async () => {
    const count = (body: string) => samples(body, 'rate_limit_fail_open_total').get('') ?? 0;
    const before = count((await scrape()).body);
    // The limits are counted on the first Redis node.
    redis[0].set('refuse');
    try {
      const login = await t.api.post('/api/users/login', { username: 'failopen', password: 'wrong-password' });
      expect(login.status).toBe(401);
    } finally {
      redis[0].set('forward');
    }
    expect(count((await scrape()).body)).toBe(before + 1);
    await untilUp('redis', redis[0]);
  });
});

describe('shed logins (503 AUTH_BUSY) are counted', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One hash at a time, each slow enough (cost 12), and no waiting line
    // (BCRYPT_QUEUE_MAX_WAIT_MS 0): a burst is mostly refused at once, whatever the machine's speed.
    t = await startTestApp({ BCRYPT_MAX_CONCURRENT: 1, BCRYPT_COST: 12, BCRYPT_QUEUE_MAX_WAIT_MS: 0 });
  });
  afterAll(() => t.close());

  it('auth_shed_total grows by the number of AUTH_BUSY answers', async () => {
    const count = async () => samples(await (await fetch(`${t.url}/metrics`)).text(), 'auth_shed_total').get('') ?? 0;
    const before = await count();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.api.post('/api/users/login', { username: `nobody_${i}`, password: 'wrong-password' })),
    );
    const busy = answers.filter((a) => a.body.code === 'AUTH_BUSY').length;
    expect(busy).toBeGreaterThan(0);
    expect(await count()).toBe(before + busy);
  });
});
