import Redis from 'ioredis';
import { Client } from 'pg';
import { ClaimsRepository } from '../src/claims/claims.repository';
import { LockUnavailableError } from '../src/lock/lock.errors';
import { LockService } from '../src/lock/lock.service';
import { RedisConnections } from '../src/redis/redis.module';
import { RedisNode } from '../harness/redis-node';
import { TestApp, couponInvariants, makeUsers, sleep, startTestApp } from './support/test-app';

/** How long the test looks for the claim's lock key: below DATABASE_LOCK_TIMEOUT_MS (3500 ms), when the claim stops waiting for the row. */
const LOOK_FOR_KEY_MS = 2000;

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

  it('the lock key is exactly claim:coupon:<name>, case and all: taken for the settlement, released before the answer', async () => {
    await t.api.createCoupon(admin, 'CaseKey', 5);
    const token = await t.api.newUser('casekey');
    const redis = new Redis(node.url);
    const key = `${t.config.REDIS_KEY_PREFIX}claim:coupon:CaseKey`;
    // The key of a coupon named like this one but for case, held by someone else: it must not block.
    await redis.set(`${t.config.REDIS_KEY_PREFIX}claim:coupon:casekey`, 'other-case', 'PX', 30000);
    // A session holding the coupon's row keeps the claim inside its lock while the test looks at Redis.
    const rowHolder = new Client({ connectionString: t.config.DATABASE_URL });
    await rowHolder.connect();
    try {
      await rowHolder.query('BEGIN');
      await rowHolder.query("SELECT id FROM coupons WHERE name = 'CaseKey' FOR UPDATE");
      const claim = t.api.claim(token, 'CaseKey');
      let held = false;
      for (let waited = 0; !held && waited < LOOK_FOR_KEY_MS; waited += 10) {
        held = (await redis.exists(key)) === 1;
        if (!held) await sleep(10);
      }
      await rowHolder.query('COMMIT');
      expect(held).toBe(true);
      expect((await claim).status).toBe(200);
      expect(await redis.exists(key)).toBe(0);
    } finally {
      await rowHolder.end();
      await redis.del(`${t.config.REDIS_KEY_PREFIX}claim:coupon:casekey`);
      redis.disconnect();
    }
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

  it('the database fence: with the lock bypassed, concurrent settlements still sell exactly the stock, once per user', async () => {
    await t.api.createCoupon(admin, 'FENCE', 7);
    await makeUsers(t.api, 'fence_', 30);
    const rows = await t.sql("SELECT id::text AS id, username FROM users WHERE username LIKE 'fence_%'");
    const repository = t.app.get(ClaimsRepository);
    // 30 users, each claiming 3 times, in 90 transactions at once and no Redlock at all.
    const claimants = rows.flatMap((r) => [r, r, r]).map((r) => ({ userId: r.id, username: r.username }));
    const settlements = await Promise.all(claimants.map((c) => repository.settle('FENCE', [c])));
    const outcomes = settlements.map((s, i) => ({ kind: s.outcomes[0].kind, username: claimants[i].username }));
    const winners = outcomes.filter((o) => o.kind === 'granted').map((o) => o.username);
    // Every settlement answers (no constraint error escapes); 7 distinct winners, everyone else refused.
    expect(winners).toHaveLength(7);
    expect(new Set(winners).size).toBe(7);
    expect(outcomes.filter((o) => o.kind !== 'granted' && o.kind !== 'sold_out' && o.kind !== 'already_claimed')).toEqual([]);
    expect(await couponInvariants(t, 'FENCE')).toEqual({ amount: 7, remaining_amount: 0, rows: 7, distinct_users: 7 });
  });

  it('the constraints themselves refuse an oversell and a double claim written by hand', async () => {
    await t.api.createCoupon(admin, 'RAW', 1);
    await t.api.newUser('rawhand');
    await expect(t.sql("UPDATE coupons SET remaining_amount = -1 WHERE name = 'RAW'")).rejects.toThrow(/check/);
    await expect(t.sql("UPDATE coupons SET remaining_amount = 2 WHERE name = 'RAW'")).rejects.toThrow(/check/);
    const [{ id: userId }] = await t.sql("SELECT id FROM users WHERE username = 'rawhand'");
    const [{ id: couponId }] = await t.sql("SELECT id FROM coupons WHERE name = 'RAW'");
    await t.sql('INSERT INTO user_claims (user_id, coupon_id) VALUES ($1, $2)', [userId, couponId]);
    await expect(t.sql('INSERT INTO user_claims (user_id, coupon_id) VALUES ($1, $2)', [userId, couponId])).rejects.toThrow(/unique/);
  });
});

describe('the lock over three Redis nodes, one of them down (quorum 2 of the 2 left): a split vote', () => {
  let nodes: RedisNode[];
  let t: TestApp;
  let admin: string;
  let first: Redis;
  let second: Redis;
  beforeAll(async () => {
    nodes = [await RedisNode.start(), await RedisNode.start(), await RedisNode.start()];
    t = await startTestApp({ REDIS_URLS: nodes.map((n) => n.url).join(','), REDIS_COMMAND_TIMEOUT_MS: 300 });
    admin = await t.adminToken();
    await nodes[2].kill();
    [first, second] = nodes.slice(0, 2).map((n) => new Redis(n.url));
  });
  afterAll(async () => {
    first.disconnect();
    second.disconnect();
    await t.close();
    for (const node of nodes) await node.kill();
  });

  const lockKey = (coupon: string) => `${t.config.REDIS_KEY_PREFIX}claim:coupon:${coupon}`;

  it('a failed attempt gives back the node it did get at once, not after the whole retry window', async () => {
    await t.api.createCoupon(admin, 'SPLIT', 5);
    const token = await t.api.newUser('splitter');
    // Another process holds the key on the second node for the whole window: every attempt
    // wins the first node and loses the second (and the third is down).
    await second.set(lockKey('SPLIT'), 'another-process', 'PX', 30_000);
    try {
      let samples = 0;
      let heldByUs = 0;
      let done = false;
      const claim = t.api.claim(token, 'SPLIT').finally(() => (done = true));
      while (!done) {
        samples++;
        if ((await first.get(lockKey('SPLIT'))) !== null) heldByUs++;
        await new Promise((r) => setTimeout(r, 10));
      }
      const res = await claim;
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('LOCK_BUSY');
      expect(samples).toBeGreaterThan(50);
      // Kept between attempts (redlock's own retries), the first node's key is seen in nearly
      // every sample, and it blocks every other claimant of the coupon for the whole window.
      expect(heldByUs / samples).toBeLessThan(0.1);
      expect(await first.get(lockKey('SPLIT'))).toBeNull();
      expect(await couponInvariants(t, 'SPLIT')).toMatchObject({ remaining_amount: 5, rows: 0 });
    } finally {
      await second.del(lockKey('SPLIT'));
    }
  });

  it('a claim whose first attempts split the vote gets the lock once the other hold lapses', async () => {
    await t.api.createCoupon(admin, 'LAPSE', 5);
    const token = await t.api.newUser('lapse');
    // Held on one node for 700 ms: the attempts at 0 and ~500 ms split; the one at ~1 s finds
    // both nodes free, unless the first attempt's own key were still sitting on the first node.
    await second.set(lockKey('LAPSE'), 'another-process', 'PX', 700);
    const res = await t.api.claim(token, 'LAPSE');
    expect(res.status).toBe(200);
    expect(await couponInvariants(t, 'LAPSE')).toMatchObject({ remaining_amount: 4, rows: 1 });
  });

  it('an attempt whose vote never settles is abandoned after 3 x REDIS_COMMAND_TIMEOUT_MS', async () => {
    // Two clients (the service refuses an even REDIS_URLS): a 1-1 tie, which redlock itself
    // would wait on forever. The bound turns it into LOCK_UNAVAILABLE.
    const clients = nodes.slice(0, 2).map((n) => new Redis(n.url));
    const config = { ...t.config, LOCK_RETRY_COUNT: 0, REDIS_COMMAND_TIMEOUT_MS: 300 };
    const lock = new LockService(config, clients);
    const connections = new RedisConnections(config, clients);
    await connections.onModuleInit();
    await second.set(lock.key('claim:coupon:TIE'), 'another-process', 'PX', 30_000);
    try {
      let worked = false;
      const started = Date.now();
      await expect(lock.withLock('claim:coupon:TIE', async () => (worked = true))).rejects.toBeInstanceOf(LockUnavailableError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(850);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(worked).toBe(false);
    } finally {
      await second.del(lock.key('claim:coupon:TIE'));
      await connections.onApplicationShutdown();
    }
  });
});
