import Redis from 'ioredis';
import { loadConfig } from '../src/config/config.loader';
import { ApiClient } from './support/http-client';
import { SHARED_REDIS_URL, TestApp, couponInvariants, makeUsers, startSiblingApp, startTestApp } from './support/test-app';

const login = (api: ApiClient, username: string, headers: Record<string, string> = {}) =>
  api.post('/api/users/login', { username, password: 'wrong-password' }, { headers });

describe('rate limits (Redis-backed, shared by every process)', () => {
  describe('login', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        LOGIN_RATE_LIMIT_PER_USERNAME: 5,
        LOGIN_RATE_LIMIT_PER_ADDRESS: 12,
        LOGIN_RATE_LIMIT_WINDOW_MS: 60000,
        TRUST_PROXY: '',
      });
    });
    afterAll(() => t.close());

    it('per username: the 6th attempt in the window is 429 TOO_MANY_REQUESTS with Retry-After, even with the right password', async () => {
      await t.api.register('target');
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push((await login(t.api, 'target')).status);
      expect(answers).toEqual([401, 401, 401, 401, 401]);
      const limited = await t.api.post('/api/users/login', { username: 'target', password: 'password123' });
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ statusCode: 429, code: 'TOO_MANY_REQUESTS', message: expect.any(String) });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(72); // the 60 s window, jittered by up to a fifth
      // The counter lives in Redis under this app's prefix, with the window as its expiry.
      const redis = new Redis(SHARED_REDIS_URL);
      const key = `${t.config.REDIS_KEY_PREFIX}ratelimit:login:username:target`;
      expect(Number(await redis.get(key))).toBe(6);
      expect(await redis.pttl(key)).toBeGreaterThan(50_000);
      redis.disconnect();
    });

    it('per client address: other usernames are cut off once the address spent its budget; X-Forwarded-For is ignored without TRUST_PROXY', async () => {
      // 6 attempts were spent by the previous test from this address; 6 more reach 12.
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await login(t.api, `spray_${i}`, { 'x-forwarded-for': `10.0.0.${i}` })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
      const limited = await login(t.api, 'spray_fresh', { 'x-forwarded-for': '10.9.9.9' });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  it('counts are shared across processes', async () => {
    const t = await startTestApp({ LOGIN_RATE_LIMIT_PER_USERNAME: 4 });
    const other = await startSiblingApp(t);
    try {
      const statuses = [];
      for (const api of [t.api, other.api, t.api, other.api, t.api]) statuses.push((await login(api, 'shared')).status);
      expect(statuses).toEqual([401, 401, 401, 401, 429]);
      expect((await login(other.api, 'shared')).status).toBe(429);
    } finally {
      await other.close();
      await t.close();
    }
  });

  it('behind a trusted proxy each forwarded client has its own budget, and the window expires', async () => {
    const t = await startTestApp({ LOGIN_RATE_LIMIT_PER_ADDRESS: 2, LOGIN_RATE_LIMIT_WINDOW_MS: 1000, TRUST_PROXY: '127.0.0.1' });
    try {
      const from = (ip: string, name: string) => login(t.api, name, { 'x-forwarded-for': ip });
      expect((await from('203.0.113.1', 'user1')).status).toBe(401);
      expect((await from('203.0.113.1', 'user2')).status).toBe(401);
      expect((await from('203.0.113.1', 'user3')).status).toBe(429);
      expect((await from('203.0.113.2', 'user4')).status).toBe(401);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await from('203.0.113.1', 'user5')).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  describe('claims', () => {
    it('per user: over the limit is 429 with Retry-After and writes nothing; other users are unaffected', async () => {
      const t = await startTestApp({ CLAIM_RATE_LIMIT_PER_USER: 3, CLAIM_RATE_LIMIT_WINDOW_MS: 10000 });
      try {
        const admin = await t.adminToken();
        await t.api.createCoupon(admin, 'LIMITED', 10);
        const [greedy, calm] = await makeUsers(t.api, 'claimer_', 2);
        const codes = [];
        for (let i = 0; i < 3; i++) codes.push((await t.api.claim(greedy.token, 'LIMITED')).status);
        expect(codes).toEqual([200, 409, 409]);
        const limited = await t.api.claim(greedy.token, 'LIMITED');
        expect(limited.status).toBe(429);
        expect(limited.body.code).toBe('TOO_MANY_REQUESTS');
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
        // The 10 s window's rest, jittered by up to a fifth of it (api.md).
        expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(12);
        expect((await t.api.claim(calm.token, 'LIMITED')).status).toBe(200);
        expect(await couponInvariants(t, 'LIMITED')).toEqual({ amount: 10, remaining_amount: 8, rows: 2, distinct_users: 2 });
      } finally {
        await t.close();
      }
    });

    it('the default limits let an honest sale through: 20 concurrent claims of one user get ALREADY_CLAIMED, not 429', async () => {
      const defaults = loadConfig({}, {});
      const t = await startTestApp({
        CLAIM_RATE_LIMIT_PER_USER: defaults.CLAIM_RATE_LIMIT_PER_USER,
        CLAIM_RATE_LIMIT_WINDOW_MS: defaults.CLAIM_RATE_LIMIT_WINDOW_MS,
      });
      try {
        const admin = await t.adminToken();
        await t.api.createCoupon(admin, 'HONEST', 50);
        const users = await makeUsers(t.api, 'honest_', 30);
        const dipper = users[0];
        const results = await Promise.all([
          ...Array.from({ length: 20 }, () => t.api.claim(dipper.token, 'HONEST')),
          ...users.slice(1).map((u) => t.api.claim(u.token, 'HONEST')),
        ]);
        expect(results.filter((r) => r.status === 429)).toHaveLength(0);
        expect(results.filter((r) => r.status === 200)).toHaveLength(30);
        expect(await couponInvariants(t, 'HONEST')).toEqual({ amount: 50, remaining_amount: 20, rows: 30, distinct_users: 30 });
      } finally {
        await t.close();
      }
    });
  });

  it('the defaults in env.example.json: claims 30 per 10 s per user, logins 10 per username and 300 per address per minute', () => {
    const defaults = loadConfig({}, {});
    expect(defaults.CLAIM_RATE_LIMIT_PER_USER).toBeGreaterThanOrEqual(30);
    expect(defaults.CLAIM_RATE_LIMIT_WINDOW_MS).toBe(10000);
    expect(defaults.LOGIN_RATE_LIMIT_PER_USERNAME).toBe(10);
    expect(defaults.LOGIN_RATE_LIMIT_PER_ADDRESS).toBe(300);
    expect(defaults.LOGIN_RATE_LIMIT_WINDOW_MS).toBe(60000);
  });
});
