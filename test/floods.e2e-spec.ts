import Redis from 'ioredis';
import { readFileSync, readdirSync } from 'node:fs';
import { bcryptConcurrency, loadConfig } from '../src/config/config.loader';
import { HashingLoadShedder } from '../src/users/hashing-load-shedder';
import { ApiResponse } from './support/http-client';
import { SHARED_REDIS_URL, TestApp, startSiblingApp, startTestApp } from './support/test-app';

const timed = async (send: () => Promise<ApiResponse>): Promise<ApiResponse & { ms: number }> => {
  const started = performance.now();
  const answer = await send();
  return { ...answer, ms: performance.now() - started };
};

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];

describe('registration limit per client address (Redis-backed, shared by every process)', () => {
  it('holds across two processes: the 5th registration from one address is 429 with Retry-After and writes nothing', async () => {
    const t = await startTestApp({ REGISTRATION_RATE_LIMIT_PER_ADDRESS: 4, REGISTRATION_RATE_LIMIT_WINDOW_MS: 60000, TRUST_PROXY: '' });
    const other = await startSiblingApp(t);
    try {
      const apis = [t.api, other.api, t.api, other.api];
      const statuses = [];
      // X-Forwarded-For is not believed without TRUST_PROXY: one address, whatever the header says.
      for (const [i, api] of apis.entries())
        statuses.push(
          (
            await api.post(
              '/api/users/register',
              { username: `farm_${i}`, password: 'password123' },
              { headers: { 'x-forwarded-for': `10.0.0.${i}` } },
            )
          ).status,
        );
      expect(statuses).toEqual([201, 201, 201, 201]);
      for (const api of [t.api, other.api]) {
        const limited = await api.register(`farm_over_${api === t.api ? 'a' : 'b'}`);
        expect(limited.status).toBe(429);
        expect(limited.body).toEqual({ statusCode: 429, code: 'TOO_MANY_REQUESTS', message: expect.any(String) });
        const retryAfter = Number(limited.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(72); // the 60 s window, jittered by up to a fifth
      }
      expect(await t.sql(`SELECT username FROM users WHERE username LIKE 'farm_%' ORDER BY id`)).toEqual(
        [0, 1, 2, 3].map((i) => ({ username: `farm_${i}` })),
      );
      // Logins are not registrations: they keep their own limits.
      expect((await other.api.post('/api/users/login', { username: 'farm_0', password: 'password123' })).status).toBe(200);
      const redis = new Redis(SHARED_REDIS_URL);
      const key = `${t.config.REDIS_KEY_PREFIX}ratelimit:registration:address:127.0.0.1`;
      expect(Number(await redis.get(key))).toBe(6);
      expect(await redis.pttl(key)).toBeGreaterThan(50_000);
      redis.disconnect();
    } finally {
      await other.close();
      await t.close();
    }
  });

  it('behind a trusted proxy each forwarded client has its own budget, and the window expires', async () => {
    const t = await startTestApp({
      REGISTRATION_RATE_LIMIT_PER_ADDRESS: 2,
      REGISTRATION_RATE_LIMIT_WINDOW_MS: 1000,
      TRUST_PROXY: '127.0.0.1',
    });
    try {
      let n = 0;
      const from = async (ip: string) =>
        (
          await t.api.post(
            '/api/users/register',
            { username: `proxied_${n++}`, password: 'password123' },
            { headers: { 'x-forwarded-for': ip } },
          )
        ).status;
      expect([await from('203.0.113.1'), await from('203.0.113.1'), await from('203.0.113.1')]).toEqual([201, 201, 429]);
      expect(await from('203.0.113.2')).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await from('203.0.113.1')).toBe(201);
    } finally {
      await t.close();
    }
  });

  it('the defaults: 300 registrations per address per hour; 0 turns the limit off', async () => {
    const defaults = loadConfig({}, {});
    expect(defaults.REGISTRATION_RATE_LIMIT_PER_ADDRESS).toBe(300);
    expect(defaults.REGISTRATION_RATE_LIMIT_WINDOW_MS).toBe(3_600_000);
    const t = await startTestApp({ REGISTRATION_RATE_LIMIT_PER_ADDRESS: 0, REGISTRATION_RATE_LIMIT_WINDOW_MS: 1000 });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => t.api.register(`unlimited_${i}`)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
    } finally {
      await t.close();
    }
  });
});

describe('password hashing is bounded per process', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One hash at a time, each slow enough (cost 12) that a queued request would show; no
    // queue (BCRYPT_QUEUE_MAX_WAIT_MS 0): the bound itself, refusing at the door.
    t = await startTestApp({ BCRYPT_MAX_CONCURRENT: 1, BCRYPT_COST: 12, BCRYPT_QUEUE_MAX_WAIT_MS: 0 });
  });
  afterAll(() => t.close());

  it('a registration flood: past the bound 503 AUTH_BUSY with Retry-After at once; every 201 can log in, every refused name does not exist', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `flood_${i}`);
    const answers = await Promise.all(names.map((name) => timed(() => t.api.register(name))));
    const created = names.filter((_, i) => answers[i].status === 201);
    const refused = names.filter((_, i) => answers[i].status === 503);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(30);
    expect(created.length + refused.length).toBe(names.length);
    for (const answer of answers.filter((a) => a.status === 503)) {
      expect(answer.body).toEqual({ statusCode: 503, code: 'AUTH_BUSY', message: expect.any(String) });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // "At once": refusals do not wait for a hash (one that waited would take a hash's time or
    // more). A cost-12 hash takes hundreds of ms here; the other jest worker's load on the two
    // cores can slow the refusals' answers to half of that, so the line is one hash, not half.
    const hashMs = Math.min(...answers.filter((a) => a.status === 201).map((a) => a.ms));
    expect(
      percentile(
        answers.filter((a) => a.status === 503).map((a) => a.ms),
        0.9,
      ),
    ).toBeLessThan(hashMs);
    // Most were refused as they arrived, before their body was read.
    expect(t.app.get(HashingLoadShedder).answered).toBeGreaterThanOrEqual(refused.length / 2);

    const stored = (await t.sql<{ username: string }>(`SELECT username FROM users WHERE username LIKE 'flood_%'`)).map((r) => r.username);
    expect(stored.sort()).toEqual([...created].sort());
    for (const name of created)
      expect((await t.api.post('/api/users/login', { username: name, password: 'password123' })).status).toBe(200);
    // The slot is free again: a refused name registers now.
    expect((await t.api.register(refused[0])).status).toBe(201);
  });

  it('a wrong-password login flood is bounded the same way, and a right password works once it stops', async () => {
    await t.api.register('patient');
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.api.post('/api/users/login', { username: i % 2 ? 'patient' : `nobody_${i}`, password: 'wrong-password' }),
      ),
    );
    const codes = answers.map((a) => a.body.code);
    expect(codes.filter((c) => c === 'AUTH_BUSY').length).toBeGreaterThanOrEqual(20);
    expect(codes.filter((c) => c !== 'AUTH_BUSY' && c !== 'INVALID_CREDENTIALS')).toEqual([]);
    expect((await t.api.post('/api/users/login', { username: 'patient', password: 'password123' })).status).toBe(200);
  });

  it('hashes run on threads of their own at nice 10 (Linux), so claims win the CPU when cores are short', async () => {
    if (process.platform !== 'linux') return;
    // stat field 19 is the nice value; fields after the ")" of the thread name start at field 3.
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
    const niced = readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === 10);
    // This suite's app (BCRYPT_MAX_CONCURRENT 1): one hashing thread; the event loop stays at 0.
    expect(niced.length).toBeGreaterThanOrEqual(1);
    expect(niceOf(String(process.pid))).toBe(0);
    expect((await t.api.register('niced_user')).status).toBe(201);
  });

  it('the default bound is half the cores, at least 1, at most the libuv pool', () => {
    const config = loadConfig({ BCRYPT_MAX_CONCURRENT: 0 }, {});
    expect(bcryptConcurrency(config, 2, 4)).toBe(1);
    expect(bcryptConcurrency(config, 1, 4)).toBe(1);
    expect(bcryptConcurrency(config, 6, 4)).toBe(3);
    expect(bcryptConcurrency(config, 32, 4)).toBe(4);
    expect(bcryptConcurrency(config, 32, 16)).toBe(16);
    expect(bcryptConcurrency(loadConfig({ BCRYPT_MAX_CONCURRENT: 3 }, {}), 2, 4)).toBe(3);
    expect(() => loadConfig({}, { BCRYPT_MAX_CONCURRENT: '-1' })).toThrow(/BCRYPT_MAX_CONCURRENT/);
    expect(() => loadConfig({}, { REGISTRATION_RATE_LIMIT_PER_ADDRESS: 'many' })).toThrow(/REGISTRATION_RATE_LIMIT_PER_ADDRESS/);
  });
});
