import * as bcrypt from 'bcrypt';
import Redis from 'ioredis';
import { RedisNode } from '../harness/redis-node';
import { ClaimsService } from '../src/claims/claims.service';
import { RateLimiter } from '../src/rate-limit/rate-limiter.service';
import { PasswordHasher } from '../src/users/password-hasher';
import { ApiResponse } from './support/http-client';
import { TestApp, couponInvariants, makeUsers, sleep, startSiblingApp, startTestApp, untilSoldOutRemembered } from './support/test-app';

const PASSWORD = 'password123';
/** Cost 12: each compare takes hundreds of ms here, so the order requests are served in shows. */
const SLOW_COST = 12;

/** Inserts users whose stored hash is at `cost` (a login compares at the stored cost). */
async function insertUsers(t: TestApp, names: string[], cost: number): Promise<void> {
  const hash = bcrypt.hashSync(PASSWORD, cost);
  await t.sql(`INSERT INTO users (username, password_hash) SELECT unnest($1::text[]), $2`, [names, hash]);
}

const loginFrom = (t: TestApp, address: string, username: string) =>
  t.api.post('/api/users/login', { username, password: PASSWORD }, { headers: { 'x-forwarded-for': address } });

describe('the login queue: arrival order, round robin across client addresses', () => {
  let t: TestApp;
  const names = ['a_1', 'a_2', 'a_3', 'a_4', 'a_5', 'a_6', 'b_1', 'c_1'];
  const passwordOf = (name: string) => `password-of-${name}`;
  beforeAll(async () => {
    t = await startTestApp({ BCRYPT_MAX_CONCURRENT: 1, BCRYPT_QUEUE_MAX_WAIT_MS: 60_000, TRUST_PROXY: 'true' });
    for (const name of names) {
      await t.sql(`INSERT INTO users (username, password_hash) VALUES ($1, $2)`, [name, bcrypt.hashSync(passwordOf(name), SLOW_COST)]);
    }
  });
  afterAll(() => t.close());

  it('one address with six logins in line does not hold back two other addresses: they are served second and third', async () => {
    // The order hashes start in, seen where they start: each user has a password of its own.
    const hasher = t.app.get(PasswordHasher);
    const threads = (hasher as unknown as { threads: { compare: (password: string, hash: string) => Promise<boolean> } }).threads;
    const compare = threads.compare.bind(threads);
    const started: string[] = [];
    threads.compare = (password, hash) => {
      started.push(names.find((name) => passwordOf(name) === password) ?? password);
      return compare(password, hash);
    };
    const sent: Promise<ApiResponse>[] = [];
    // Each request is sent once the one before it is in the queue (or running): arrival order is certain.
    const send = async (address: string, username: string) => {
      const inQueue = hasher.line.inFlight + hasher.line.waiting;
      sent.push(t.api.post('/api/users/login', { username, password: passwordOf(username) }, { headers: { 'x-forwarded-for': address } }));
      const deadline = Date.now() + 10_000;
      while (hasher.line.inFlight + hasher.line.waiting === inQueue && Date.now() < deadline) await sleep(2);
    };
    for (const name of names.slice(0, 6)) await send('198.51.100.1', name);
    await send('198.51.100.2', 'b_1');
    await send('198.51.100.3', 'c_1');
    const answers = await Promise.all(sent);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    // a_1 was running when the others queued; then round robin: a_2, b_1, c_1, and a's rest in order.
    expect(started).toEqual(['a_1', 'a_2', 'b_1', 'c_1', 'a_3', 'a_4', 'a_5', 'a_6']);
    // Operators see the line and its drain rate.
    const metrics = (await t.api.get('/metrics')).text;
    expect(metrics).toMatch(/^password_hashing_waiting 0$/m);
    expect(metrics).toMatch(/^password_hashing_drain_per_second \d/m);
  });
});

describe('a login storm: only what cannot be served within the bound is refused, and its Retry-After paces', () => {
  let t: TestApp;
  const CLIENTS = 16;
  beforeAll(async () => {
    // One hash at a time, about 4 compares' worth of waiting allowed: most of the storm is refused at first.
    // The fastest of three: one hash timed while the other jest worker loads the cores would
    // set the bound so high that the whole storm fits in it and nothing is refused.
    const hashMs = Math.min(
      ...[0, 1, 2].map(() => {
        const started = performance.now();
        bcrypt.hashSync(PASSWORD, SLOW_COST);
        return performance.now() - started;
      }),
    );
    // BCRYPT_COST as stored: the queue's first drain-rate estimate is a hash at the configured cost.
    t = await startTestApp({
      BCRYPT_COST: SLOW_COST,
      BCRYPT_MAX_CONCURRENT: 1,
      BCRYPT_QUEUE_MAX_WAIT_MS: Math.round(4 * hashMs),
      TRUST_PROXY: 'true',
    });
    await insertUsers(
      t,
      Array.from({ length: CLIENTS }, (_, i) => `storm_${i}`),
      SLOW_COST,
    );
  });
  afterAll(() => t.close());

  it(`${CLIENTS} clients from ${CLIENTS} addresses, each honouring Retry-After: all served, at most one AUTH_BUSY each on average, refused ones told later times`, async () => {
    const firstRefusals: number[] = [];
    let busy = 0;
    const client = async (i: number) => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const answer = await loginFrom(t, `203.0.113.${i + 1}`, `storm_${i}`);
        if (answer.status !== 503) return answer.status;
        expect(answer.body.code).toBe('AUTH_BUSY');
        const retryAfter = Number(answer.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        if (attempt === 0) firstRefusals.push(retryAfter);
        busy++;
        await sleep(retryAfter * 1000);
      }
      return 503;
    };
    const statuses = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    expect(statuses).toEqual(Array(CLIENTS).fill(200));
    expect(firstRefusals.length).toBeGreaterThan(0);
    expect(busy).toBeLessThanOrEqual(CLIENTS);
    // A fixed Retry-After would send them all back in the same second; these are spread.
    expect(new Set(firstRefusals).size).toBeGreaterThan(1);
  });
});

describe('a client over its limit is refused by the process itself, without a Redis round trip', () => {
  let redisNode: RedisNode;
  let t: TestApp;
  let redis: Redis;
  /** Calls of the rate limiter's script on this test's own Redis (INFO commandstats). */
  const scriptCalls = async () => {
    const stats = await redis.info('commandstats');
    return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  beforeAll(async () => {
    redisNode = await RedisNode.start();
    redis = new Redis(redisNode.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await redisNode.kill();
  });

  it('past the registration limit, later registrations from that address are 429 with no script call, in every process after its first refusal', async () => {
    t = await startTestApp({
      REDIS_URLS: redisNode.url,
      REGISTRATION_RATE_LIMIT_PER_ADDRESS: 2,
      REGISTRATION_RATE_LIMIT_WINDOW_MS: 60_000,
    });
    const other = await startSiblingApp(t);
    try {
      expect([(await t.api.register('lim_1')).status, (await t.api.register('lim_2')).status]).toEqual([201, 201]);
      const first = await t.api.register('lim_3');
      expect(first.status).toBe(429);
      const callsAfterFirstRefusal = await scriptCalls();
      const later = await Promise.all(Array.from({ length: 20 }, (_, i) => t.api.register(`lim_more_${i}`)));
      for (const answer of later) {
        expect(answer.status).toBe(429);
        expect(answer.body).toEqual({ statusCode: 429, code: 'TOO_MANY_REQUESTS', message: expect.any(String) });
        // The window's rest (under 60 s), jittered by up to a fifth.
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
        expect(Number(answer.headers.get('retry-after'))).toBeLessThanOrEqual(72);
      }
      expect(await scriptCalls()).toBe(callsAfterFirstRefusal);
      expect(t.app.get(RateLimiter).refusedLocally).toBeGreaterThanOrEqual(20);
      // The other process has not been refused yet: it asks Redis (one call), which refuses.
      expect((await other.api.register('lim_elsewhere')).status).toBe(429);
      expect(await scriptCalls()).toBe(callsAfterFirstRefusal + 1);
      expect(await t.sql(`SELECT count(*)::int AS n FROM users WHERE username LIKE 'lim_%'`)).toEqual([{ n: 2 }]);
    } finally {
      await other.close();
      await t.close();
    }
  });

  it('once the window can have room again, the process asks Redis again and admits what Redis admits', async () => {
    const WINDOW_MS = 1_000;
    t = await startTestApp({
      REDIS_URLS: redisNode.url,
      REGISTRATION_RATE_LIMIT_PER_ADDRESS: 1,
      REGISTRATION_RATE_LIMIT_WINDOW_MS: WINDOW_MS,
    });
    try {
      expect((await t.api.register('win_1')).status).toBe(201);
      expect((await t.api.register('win_2')).status).toBe(429);
      const calls = await scriptCalls();
      expect((await t.api.register('win_3')).status).toBe(429);
      expect(await scriptCalls()).toBe(calls);
      await sleep(WINDOW_MS + 100);
      expect((await t.api.register('win_4')).status).toBe(201);
      expect(await scriptCalls()).toBe(calls + 1);
    } finally {
      await t.close();
    }
  });
});

describe('the sold-out memory keeps at most SOLD_OUT_MEMORY_MAX_COUPONS coupons', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SOLD_OUT_MEMORY_MAX_COUPONS: 2 });
  });
  afterAll(() => t.close());

  it('the least recently answered coupon is forgotten, and its claims are still answered right, through a batch', async () => {
    const admin = await t.adminToken();
    const [holder, other] = await makeUsers(t.api, 'lru_', 2);
    const claims = t.app.get(ClaimsService);
    for (const coupon of ['LRU_1', 'LRU_2']) {
      await t.api.createCoupon(admin, coupon, 1);
      expect((await t.api.claim(holder.token, coupon)).status).toBe(200);
      await untilSoldOutRemembered(t, coupon);
    }
    // LRU_1 answered from memory after LRU_2 was remembered: LRU_2 is now the least recently used.
    expect((await t.api.claim(other.token, 'LRU_1')).body.code).toBe('SOLD_OUT');
    await t.api.createCoupon(admin, 'LRU_3', 1);
    expect((await t.api.claim(holder.token, 'LRU_3')).status).toBe(200);
    await untilSoldOutRemembered(t, 'LRU_3');
    expect(['LRU_1', 'LRU_2', 'LRU_3'].map((coupon) => claims.knowsSoldOut(coupon))).toEqual([true, false, true]);
    // Forgotten, LRU_2's claims go through a batch and get the same true answers.
    expect((await t.api.claim(other.token, 'LRU_2')).body.code).toBe('SOLD_OUT');
    expect((await t.api.claim(holder.token, 'LRU_2')).body.code).toBe('ALREADY_CLAIMED');
    expect(await couponInvariants(t, 'LRU_2')).toEqual({ amount: 1, remaining_amount: 0, rows: 1, distinct_users: 1 });
  });
});
