import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { RedisNode } from '../harness/redis-node';
import { SHARED_REDIS_URL, TestApp, makeUsers, startTestApp } from './support/test-app';

type Samples = Map<string, number>;

/** Parses the Prometheus text format into `name{labels}` -> value (labels as Prometheus prints them). */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}

describe('Prometheus /metrics', () => {
  let t: TestApp;
  let redis: Redis;
  const scrape = async () => {
    const res = await t.api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parse(res.text);
  };
  const delta = (before: Samples, after: Samples, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

  beforeAll(async () => {
    // The deleted-users reload (a query every USER_REVOCATION_POLL_MS) would hold a pool
    // connection at random moments; at its slowest it leaves the pool gauges exact.
    t = await startTestApp({ LOCK_RETRY_COUNT: 1, LOCK_RETRY_DELAY_MS: 50, DATABASE_POOL_SIZE: 7, USER_REVOCATION_POLL_MS: 60_000 });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('is served outside /api in the text format, with every metric the runbook names', async () => {
    expect((await t.api.get('/api/metrics')).status).toBe(404);
    const res = await t.api.get('/metrics');
    for (const name of [
      'http_request_duration_seconds',
      'coupon_claims_total',
      'claim_lock_wait_seconds',
      'claim_lock_failures_total',
      'claim_batch_size',
      'db_pool_connections_in_use',
      'db_pool_waiting_requests',
      'coupons_sold_out',
      'coupons_remaining_amount',
      'process_cpu_seconds_total',
    ]) {
      expect(res.text).toContain(`# TYPE ${name} `);
    }
  });

  it('db_pool_connections_in_use and db_pool_waiting_requests are 0 while nothing runs, though the pool holds idle connections', async () => {
    const pool = (t.app.get(DataSource).driver as unknown as { master: { totalCount: number; idleCount: number } }).master;
    expect(pool.idleCount).toBeGreaterThan(0);
    const samples = await scrape();
    expect(samples.get('db_pool_connections_in_use')).toBe(0);
    expect(samples.get('db_pool_waiting_requests')).toBe(0);
  });

  it('db_pool_connections_in_use counts connections checked out of the pool', async () => {
    const runners = Array.from({ length: 3 }, () => t.app.get(DataSource).createQueryRunner());
    await Promise.all(runners.map((runner) => runner.connect()));
    try {
      expect((await scrape()).get('db_pool_connections_in_use')).toBe(3);
    } finally {
      await Promise.all(runners.map((runner) => runner.release()));
    }
    expect((await scrape()).get('db_pool_connections_in_use')).toBe(0);
  });

  it('claims move the outcome counters, sold-out gauge and HTTP histogram by exactly what happened', async () => {
    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'PAIR', 2);
    const [alice, bob, carol] = await makeUsers(t.api, 'metrics_u', 3);
    const before = await scrape();

    expect((await t.api.claim(alice.token, 'PAIR')).status).toBe(200);
    expect((await t.api.claim(alice.token, 'PAIR')).body.code).toBe('ALREADY_CLAIMED');
    expect((await t.api.claim(bob.token, 'PAIR')).status).toBe(200);
    expect((await t.api.claim(carol.token, 'PAIR')).body.code).toBe('SOLD_OUT');
    expect((await t.api.claim(carol.token, 'MISSING')).body.code).toBe('COUPON_NOT_FOUND');

    const after = await scrape();
    expect(delta(before, after, 'coupon_claims_total{outcome="GRANTED"}')).toBe(2);
    expect(delta(before, after, 'coupon_claims_total{outcome="ALREADY_CLAIMED"}')).toBe(1);
    expect(delta(before, after, 'coupon_claims_total{outcome="SOLD_OUT"}')).toBe(1);
    expect(delta(before, after, 'coupon_claims_total{outcome="COUPON_NOT_FOUND"}')).toBe(1);
    expect(delta(before, after, 'coupons_sold_out')).toBe(1);
    expect(delta(before, after, 'coupons_remaining_amount')).toBe(-2);
    const claimSeries = (status: number) =>
      `http_request_duration_seconds_count{method="POST",route="/api/coupons/claim",status_code="${status}"}`;
    expect(delta(before, after, claimSeries(200))).toBe(2);
    expect(delta(before, after, claimSeries(409))).toBe(2);
    expect(delta(before, after, claimSeries(404))).toBe(1);
  });

  it('coupons_remaining_amount counts the units of coupons on sale now, not of sales to come or gone', async () => {
    const admin = await t.adminToken();
    const before = await scrape();
    const create = (name: string, amount: number, window: Record<string, string>) =>
      t.api.post('/api/coupons', { name, amount, ...window }, { token: admin });
    expect((await create('LATER', 7, { starts_at: '2099-01-01T00:00:00Z' })).status).toBe(201);
    expect((await create('GONE', 11, { starts_at: '2001-01-01T00:00:00Z', ends_at: '2001-01-02T00:00:00Z' })).status).toBe(201);
    expect((await create('NOW', 13, { starts_at: '2001-01-01T00:00:00Z', ends_at: '2099-01-01T00:00:00Z' })).status).toBe(201);
    expect(delta(before, await scrape(), 'coupons_remaining_amount')).toBe(13);
  });

  it('batch sizes add up to the claims settled, one lock wait per batch', async () => {
    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'CROWD', 100);
    const users = await makeUsers(t.api, 'metrics_crowd', 12);
    const before = await scrape();
    const answers = await Promise.all(users.map((u) => t.api.claim(u.token, 'CROWD')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const after = await scrape();
    expect(delta(before, after, 'claim_batch_size_sum')).toBe(12);
    const batches = delta(before, after, 'claim_batch_size_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(12);
    expect(delta(before, after, 'claim_lock_wait_seconds_count')).toBe(batches);
    expect(delta(before, after, 'claim_batch_size_bucket{le="+Inf"}')).toBe(batches);
  });

  it('a lock held by someone else counts a busy failure and a LOCK_BUSY outcome', async () => {
    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'HELD', 5);
    const [dave] = await makeUsers(t.api, 'metrics_held', 1);
    await redis.set(`${t.config.REDIS_KEY_PREFIX}claim:coupon:HELD`, 'someone-else', 'PX', 30000);
    const before = await scrape();
    const res = await t.api.claim(dave.token, 'HELD');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('LOCK_BUSY');
    const after = await scrape();
    expect(delta(before, after, 'claim_lock_failures_total{reason="busy"}')).toBe(1);
    expect(delta(before, after, 'claim_lock_failures_total{reason="unavailable"}')).toBe(0);
    expect(delta(before, after, 'coupon_claims_total{outcome="LOCK_BUSY"}')).toBe(1);
    expect(delta(before, after, 'claim_lock_wait_seconds_count')).toBe(0);
  });

  it('a lost Redis quorum counts an unavailable failure and a LOCK_UNAVAILABLE outcome', async () => {
    const node = await RedisNode.start();
    const lonely = await startTestApp({
      REDIS_URLS: node.url,
      REDIS_COMMAND_TIMEOUT_MS: 300,
      LOCK_RETRY_COUNT: 1,
      LOCK_RETRY_DELAY_MS: 50,
    });
    try {
      await lonely.api.createCoupon(await lonely.adminToken(), 'NOQUORUM', 5);
      const token = await lonely.api.newUser('metrics_lonely');
      const read = async () => parse((await lonely.api.get('/metrics')).text);
      const before = await read();
      await node.kill();
      const res = await lonely.api.claim(token, 'NOQUORUM');
      expect(res.body.code).toBe('LOCK_UNAVAILABLE');
      const after = await read();
      expect(delta(before, after, 'claim_lock_failures_total{reason="unavailable"}')).toBe(1);
      expect(delta(before, after, 'claim_lock_failures_total{reason="busy"}')).toBe(0);
      expect(delta(before, after, 'coupon_claims_total{outcome="LOCK_UNAVAILABLE"}')).toBe(1);
    } finally {
      await lonely.close();
      await node.kill();
    }
  });

  it('several apps in one process keep separate registries', async () => {
    const other = await startTestApp();
    try {
      const mine = parse((await t.api.get('/metrics')).text);
      const theirs = parse((await other.api.get('/metrics')).text);
      expect(mine.get('coupon_claims_total{outcome="GRANTED"}')).toBeGreaterThan(0);
      expect(theirs.get('coupon_claims_total{outcome="GRANTED"}') ?? 0).toBe(0);
    } finally {
      await other.close();
    }
  });
});
