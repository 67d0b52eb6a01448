import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ClaimsRepository } from '../src/claims/claims.repository';
import { RedisNode } from './support/redis-node';
import { TestApp, couponInvariants, makeUsers, startTestApp } from './support/test-app';

describe('claims when the lock misbehaves', () => {
  let node: RedisNode;
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    node = await RedisNode.start();
    t = await startTestApp({ REDIS_URLS: node.url, REDIS_COMMAND_TIMEOUT_MS: 300 });
    admin = await t.adminToken();
  });
  afterAll(async () => {
    await t.close();
    await node.kill();
  });

  it('lock held by someone else: 503 LOCK_BUSY with Retry-After after ~1.5 s, nothing written', async () => {
    await t.api.createCoupon(admin, 'HELD', 5);
    const token = await t.api.newUser('patient');
    const redis = new Redis(node.url);
    await redis.set(`${t.config.REDIS_KEY_PREFIX}claim:coupon:HELD`, 'someone-else', 'PX', 30000);
    const started = Date.now();
    const res = await t.api.claim(token, 'HELD');
    const elapsed = Date.now() - started;
    await redis.del(`${t.config.REDIS_KEY_PREFIX}claim:coupon:HELD`);
    redis.disconnect();
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('LOCK_BUSY');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(elapsed).toBeGreaterThan(1300); // 3 retries, 500 ms apart (minus jitter)
    expect(await couponInvariants(t, 'HELD')).toMatchObject({ remaining_amount: 5, rows: 0 });
    // Once the holder lets go, the same claim goes through.
    expect((await t.api.claim(token, 'HELD')).status).toBe(200);
  });

  it('the lock key is exactly claim:coupon:<name>, case and all', async () => {
    await t.api.createCoupon(admin, 'CaseKey', 5);
    const token = await t.api.newUser('casekey');
    const redis = new Redis(node.url);
    await redis.set(`${t.config.REDIS_KEY_PREFIX}claim:coupon:casekey`, 'other-case', 'PX', 30000);
    const res = await t.api.claim(token, 'CaseKey');
    await redis.del(`${t.config.REDIS_KEY_PREFIX}claim:coupon:casekey`);
    redis.disconnect();
    expect(res.status).toBe(200);
  });

  it('Redis stopped: 503 LOCK_UNAVAILABLE, nothing written; claims work again after restart', async () => {
    await t.api.createCoupon(admin, 'NOREDIS', 5);
    const token = await t.api.newUser('unlucky');
    await node.kill();
    try {
      const started = Date.now();
      const res = await t.api.claim(token, 'NOREDIS');
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('LOCK_UNAVAILABLE');
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await couponInvariants(t, 'NOREDIS')).toMatchObject({ remaining_amount: 5, rows: 0 });
      const health = await t.api.get('/api/healthcheck');
      expect(health.status).toBe(503);
      expect(health.body.message).toContain('redis');
    } finally {
      await node.restart();
    }
    // ioredis reconnects by itself.
    let res = await t.api.claim(token, 'NOREDIS');
    for (let i = 0; i < 20 && res.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await t.api.claim(token, 'NOREDIS');
    }
    expect(res.status).toBe(200);
  });

  it('a Redis node that never answers (SIGSTOP) does not hang claims or the health check', async () => {
    await t.api.createCoupon(admin, 'FROZEN', 5);
    const token = await t.api.newUser('frozen');
    node.pause();
    try {
      const started = Date.now();
      const [claim, health] = await Promise.all([t.api.claim(token, 'FROZEN'), t.api.get('/api/healthcheck')]);
      expect(claim.status).toBe(503);
      expect(claim.body.code).toBe('LOCK_UNAVAILABLE');
      expect(health.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      node.resume();
    }
    expect(await couponInvariants(t, 'FROZEN')).toMatchObject({ remaining_amount: 5, rows: 0 });
  });

  it('the database fence: with the lock bypassed, concurrent settlements still cannot oversell or double-claim', async () => {
    await t.api.createCoupon(admin, 'FENCE', 7);
    const users = await makeUsers(t.api, 'fence_', 30);
    const [{ max }] = await t.sql("SELECT max(id)::text AS max FROM users WHERE username LIKE 'fence_%'");
    const rows = await t.sql("SELECT id::text AS id, username FROM users WHERE username LIKE 'fence_%'");
    expect(max).toBeTruthy();
    const repository = new ClaimsRepository(t.app.get(DataSource));
    // 30 users, each claiming 3 times, in 90 transactions at once and no Redlock at all.
    const claimants = rows.flatMap((r) => [r, r, r]).map((r) => ({ userId: r.id, username: r.username }));
    const settled = await Promise.allSettled(claimants.map((c) => repository.settle('FENCE', [c])));
    const granted = settled.filter((s) => s.status === 'fulfilled' && s.value.outcomes[0].kind === 'granted');
    expect(granted.length).toBeLessThanOrEqual(7);
    expect(await couponInvariants(t, 'FENCE')).toEqual({
      amount: 7,
      remaining_amount: 7 - granted.length,
      rows: granted.length,
      distinct_users: granted.length,
    });
    expect(users).toHaveLength(30);
  });

  it('the constraints themselves refuse an oversell and a double claim written by hand', async () => {
    await t.api.createCoupon(admin, 'RAW', 1);
    await expect(t.sql("UPDATE coupons SET remaining_amount = -1 WHERE name = 'RAW'")).rejects.toThrow(/check/);
    await expect(t.sql("UPDATE coupons SET remaining_amount = 2 WHERE name = 'RAW'")).rejects.toThrow(/check/);
    const [{ id: userId }] = await t.sql("SELECT id FROM users WHERE username = 'fence_0'");
    const [{ id: couponId }] = await t.sql("SELECT id FROM coupons WHERE name = 'RAW'");
    await t.sql('INSERT INTO user_claims (user_id, coupon_id) VALUES ($1, $2)', [userId, couponId]);
    await expect(t.sql('INSERT INTO user_claims (user_id, coupon_id) VALUES ($1, $2)', [userId, couponId])).rejects.toThrow(/unique/);
  });
});
