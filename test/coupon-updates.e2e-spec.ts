import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { LockBusyError } from '../src/lock/lock.errors';
import { LockService } from '../src/lock/lock.service';
import {
  TestApp,
  couponInvariants,
  makeUsers,
  sleep,
  startAppWithUser,
  startSiblingApp,
  startTestApp,
  untilSoldOutRemembered,
} from './support/test-app';

const FULL_COUPON_KEYS = ['amount', 'created_at', 'ends_at', 'name', 'remaining_amount', 'starts_at', 'updated_at'];

describe('coupon updates: PATCH and close', () => {
  let t: TestApp, admin: string, user: string;
  beforeAll(async () => ({ t, admin, user } = await startAppWithUser('updateuser')));
  afterAll(() => t.close());

  const patch = (name: string, body: unknown, token = admin) => t.api.patch(`/api/coupons/${name}`, body, { token });
  const close = (name: string, token = admin) => t.api.post(`/api/coupons/${name}/close`, undefined, { token });

  it('raises and lowers the amount; remaining follows as amount - claimed; answers the full coupon', async () => {
    await t.api.createCoupon(admin, 'GROW', 5);
    const holders = await makeUsers(t.api, 'grow_', 2);
    for (const h of holders) expect((await t.api.claim(h.token, 'GROW')).status).toBe(200);
    const up = await patch('GROW', { amount: 8 });
    expect(up.status).toBe(200);
    expect(Object.keys(up.body).sort()).toEqual(FULL_COUPON_KEYS);
    expect(up.body).toMatchObject({ name: 'GROW', amount: 8, remaining_amount: 6, starts_at: null, ends_at: null });
    expect(Date.parse(up.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(up.body.created_at));
    const down = await patch('GROW', { amount: 2 });
    expect(down.body).toMatchObject({ amount: 2, remaining_amount: 0 });
    expect(await couponInvariants(t, 'GROW')).toEqual({ amount: 2, remaining_amount: 0, rows: 2, distinct_users: 2 });
    expect((await t.api.claim(user, 'GROW')).body.code).toBe('SOLD_OUT');
  });

  it('409 AMOUNT_BELOW_CLAIMED, and nothing changes', async () => {
    await t.api.createCoupon(admin, 'FLOOR', 5);
    const holders = await makeUsers(t.api, 'floor_', 3);
    for (const h of holders) await t.api.claim(h.token, 'FLOOR');
    const res = await patch('FLOOR', { amount: 2, ends_at: '2031-01-01T00:00:00Z' });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('AMOUNT_BELOW_CLAIMED');
    const [row] = await t.sql(`SELECT amount, remaining_amount, ends_at, stock_version FROM coupons WHERE name = 'FLOOR'`);
    expect(row).toEqual({ amount: 5, remaining_amount: 2, ends_at: null, stock_version: 0 });
  });

  it('sets, moves and clears the window; null removes a bound, an absent field keeps it', async () => {
    await t.api.createCoupon(admin, 'MOVE', 3);
    const set = await patch('MOVE', { starts_at: '2031-01-01T00:00:00+01:00', ends_at: '2031-01-02T00:00:00Z' });
    expect(set.body).toMatchObject({ amount: 3, starts_at: '2030-12-31T23:00:00.000Z', ends_at: '2031-01-02T00:00:00.000Z' });
    expect((await t.api.claim(user, 'MOVE')).body.code).toBe('SALE_NOT_STARTED');
    const amountOnly = await patch('MOVE', { amount: 4 });
    expect(amountOnly.body).toMatchObject({ amount: 4, starts_at: '2030-12-31T23:00:00.000Z' });
    const cleared = await patch('MOVE', { starts_at: null });
    expect(cleared.body).toMatchObject({ starts_at: null, ends_at: '2031-01-02T00:00:00.000Z' });
    expect((await t.api.claim(user, 'MOVE')).status).toBe(200);
  });

  it.each([
    ['an empty body', {}],
    ['amount as a string', { amount: '5' }],
    ['amount null', { amount: null }],
    ['amount 0', { amount: 0 }],
    ['an unknown field', { remaining_amount: 3 }],
    ['a time without offset', { starts_at: '2031-01-01T00:00:00' }],
    ['ends_at before the stored starts_at', { ends_at: '2029-01-01T00:00:00Z' }],
  ])('400 VALIDATION_FAILED for %s, nothing changes', async (_label, body) => {
    await t.api.post('/api/coupons', { name: 'STRICT', amount: 3, starts_at: '2030-01-01T00:00:00Z' }, { token: admin });
    const before = await t.sql(`SELECT * FROM coupons WHERE name = 'STRICT'`);
    const res = await patch('STRICT', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(await t.sql(`SELECT * FROM coupons WHERE name = 'STRICT'`)).toEqual(before);
  });

  it('404 COUPON_NOT_FOUND, 400 for a bad name, 401 without a token, 403 FORBIDDEN for a non-admin', async () => {
    expect((await patch('GHOST', { amount: 1 })).body.code).toBe('COUPON_NOT_FOUND');
    expect((await close('GHOST')).body.code).toBe('COUPON_NOT_FOUND');
    expect((await patch('bad.name', { amount: 1 })).body.code).toBe('VALIDATION_FAILED');
    expect((await close('bad.name')).body.code).toBe('VALIDATION_FAILED');
    await t.api.createCoupon(admin, 'MINE', 2);
    const anonymous = await t.api.patch('/api/coupons/MINE', { amount: 1 });
    expect(anonymous.status).toBe(401);
    expect((await t.api.post('/api/coupons/MINE/close')).status).toBe(401);
    const patched = await patch('MINE', { amount: 1 }, user);
    expect(patched.status).toBe(403);
    expect(patched.body.code).toBe('FORBIDDEN');
    expect((await close('MINE', user)).body.code).toBe('FORBIDDEN');
    expect(await couponInvariants(t, 'MINE')).toMatchObject({ amount: 2, remaining_amount: 2 });
  });

  it('close ends an open sale now (database clock); a second close keeps the first end', async () => {
    await t.api.createCoupon(admin, 'SHUT', 5);
    expect((await t.api.claim(user, 'SHUT')).status).toBe(200);
    const [{ before }] = await t.sql('SELECT clock_timestamp() AS before');
    const res = await close('SHUT');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(FULL_COUPON_KEYS);
    expect(Date.parse(res.body.ends_at)).toBeGreaterThanOrEqual(before.getTime());
    const other = await t.api.newUser('shutother');
    expect((await t.api.claim(other, 'SHUT')).body.code).toBe('SALE_ENDED');
    expect((await t.api.claim(user, 'SHUT')).body.code).toBe('ALREADY_CLAIMED');
    const again = await close('SHUT');
    expect(again.body.ends_at).toBe(res.body.ends_at);
    expect(await couponInvariants(t, 'SHUT')).toEqual({ amount: 5, remaining_amount: 4, rows: 1, distinct_users: 1 });
  });

  it('closing a sale that has not started leaves an empty window: it never opens', async () => {
    await t.api.post('/api/coupons', { name: 'CANCEL', amount: 5, starts_at: '2031-01-01T00:00:00Z' }, { token: admin });
    const res = await close('CANCEL');
    expect(res.status).toBe(200);
    expect(res.body.starts_at).toBe(res.body.ends_at);
    expect((await t.api.claim(user, 'CANCEL')).body.code).toBe('SALE_ENDED');
    // The amount can still be fixed afterwards.
    expect((await patch('CANCEL', { amount: 6 })).body).toMatchObject({ amount: 6, remaining_amount: 6 });
  });

  it("updates take the claims' lock: while it is held elsewhere, PATCH and close are 503 LOCK_BUSY and change nothing", async () => {
    await t.api.createCoupon(admin, 'LOCKED', 5);
    const key = `${t.config.REDIS_KEY_PREFIX}claim:coupon:LOCKED`;
    const redis = new Redis(t.config.REDIS_URLS);
    try {
      await redis.set(key, 'a-claim-batch-elsewhere', 'PX', 30000);
      const [patched, closed, claimed] = await Promise.all([patch('LOCKED', { amount: 9 }), close('LOCKED'), t.api.claim(user, 'LOCKED')]);
      for (const res of [patched, closed, claimed]) {
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('LOCK_BUSY');
        // A lock busy for a moment: at least 1 s, jittered by up to 1 s (api.md).
        expect([1, 2]).toContain(Number(res.headers.get('retry-after')));
      }
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
    const [row] = await t.sql(`SELECT amount, ends_at, stock_version FROM coupons WHERE name = 'LOCKED'`);
    expect(row).toEqual({ amount: 5, ends_at: null, stock_version: 0 });
    expect((await patch('LOCKED', { amount: 9 })).status).toBe(200);
  });

  it('100 claims racing a PATCH that lowers the amount: the final state is exact, never below claimed', async () => {
    await t.api.createCoupon(admin, 'SQUEEZE', 100);
    const users = await makeUsers(t.api, 'squeeze_', 100);
    const claims = users.map((u) => t.api.claim(u.token, 'SQUEEZE'));
    await sleep(5);
    const update = await patch('SQUEEZE', { amount: 60 });
    const results = await Promise.all(claims);
    const granted = results.filter((r) => r.status === 200).length;
    const final = await couponInvariants(t, 'SQUEEZE');
    expect(results.every((r) => r.status === 200 || r.body.code === 'SOLD_OUT')).toBe(true);
    expect(final.rows).toBe(granted);
    expect(final.distinct_users).toBe(granted);
    expect(final.remaining_amount).toBe(final.amount - final.rows);
    if (update.status === 200) {
      // The update landed between batches: the claims it had seen stay, and stock never went below them.
      const claimedThen = update.body.amount - update.body.remaining_amount;
      expect(update.body.amount).toBe(60);
      expect(claimedThen).toBeLessThanOrEqual(60);
      expect(final).toMatchObject({ amount: 60, rows: granted });
      expect(granted).toBe(60);
    } else {
      expect(update.body.code).toBe('AMOUNT_BELOW_CLAIMED');
      expect(final.amount).toBe(100);
    }
    // Either way every claim got an answer, and exactly the stock was handed out when it ran out.
    expect(results.filter((r) => r.body?.code === 'SOLD_OUT')).toHaveLength(100 - granted);
  });

  it('the same with the amount lowered to exactly what is claimed at that moment, repeatedly', async () => {
    for (let round = 0; round < 3; round++) {
      const name = `TIGHT${round}`;
      await t.api.createCoupon(admin, name, 50);
      const users = await makeUsers(t.api, `tight${round}_`, 50);
      const claims = users.map((u) => t.api.claim(u.token, name));
      await sleep(3);
      // Lower to what is claimed right now: either it lands first (then everyone later is sold
      // out) or claims win the lock first and the update finds more claims than it asked for.
      const [{ claimed }] = await t.sql(`SELECT (amount - remaining_amount)::int AS claimed FROM coupons WHERE name = $1`, [name]);
      const update = await patch(name, { amount: Math.max(claimed, 1) });
      const results = await Promise.all(claims);
      const final = await couponInvariants(t, name);
      const granted = results.filter((r) => r.status === 200).length;
      expect(final.rows).toBe(granted);
      expect(final.remaining_amount).toBe(final.amount - final.rows);
      expect(final.rows).toBeLessThanOrEqual(final.amount);
      if (update.status === 200) expect(final.amount).toBe(Math.max(claimed, 1));
      else expect(update.body.code).toBe('AMOUNT_BELOW_CLAIMED');
    }
  });
});

describe('cross-process: an update that adds stock invalidates "sold out" in every API process', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  beforeAll(async () => {
    a = await startTestApp();
    b = await startSiblingApp(a);
    admin = await a.adminToken();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it("the second process shares the first one's database and lock keys, as the running services see them", async () => {
    const databaseOf = async (app: TestApp) => (await app.app.get(DataSource).query('SELECT current_database() AS name'))[0].name;
    expect(await databaseOf(b)).toBe(await databaseOf(a));
    // A lock B holds is one A cannot take: same Redis, same key prefix.
    await b.app.get(LockService).withLock('shared-by-both', async () => {
      await expect(a.app.get(LockService).withLock('shared-by-both', async () => undefined, { retries: 0 })).rejects.toBeInstanceOf(
        LockBusyError,
      );
    });
    expect(b.url).not.toBe(a.url);
  });

  it('sold out in B, PATCH through A raises the amount, the next claim through B is granted', async () => {
    await a.api.createCoupon(admin, 'RESTOCK', 1);
    const [first, second, third] = await makeUsers(a.api, 'restock_', 3);
    expect((await b.api.claim(first.token, 'RESTOCK')).status).toBe(200);
    expect((await b.api.claim(second.token, 'RESTOCK')).body.code).toBe('SOLD_OUT');
    await untilSoldOutRemembered(b, 'RESTOCK');
    // From memory now: still sold out while nothing changed.
    expect((await b.api.claim(second.token, 'RESTOCK')).body.code).toBe('SOLD_OUT');

    const raised = await a.api.patch('/api/coupons/RESTOCK', { amount: 2 }, { token: admin });
    expect(raised.body).toMatchObject({ amount: 2, remaining_amount: 1 });
    // At once: B judges a refusal on a stock read made after the claim arrived.
    const again = await b.api.claim(second.token, 'RESTOCK');
    expect(again.status).toBe(200);
    expect(again.body.user_id).toBe('restock_1');
    // Sold out again at the new version: B refuses the third user, and remembers its holders.
    expect((await b.api.claim(third.token, 'RESTOCK')).body.code).toBe('SOLD_OUT');
    await untilSoldOutRemembered(b, 'RESTOCK');
    expect((await b.api.claim(first.token, 'RESTOCK')).body.code).toBe('ALREADY_CLAIMED');
    expect((await b.api.claim(second.token, 'RESTOCK')).body.code).toBe('ALREADY_CLAIMED');
    expect((await b.api.claim(third.token, 'RESTOCK')).body.code).toBe('SOLD_OUT');
    expect(await couponInvariants(a, 'RESTOCK')).toEqual({ amount: 2, remaining_amount: 0, rows: 2, distinct_users: 2 });
  });

  it('the sold-out memory still respects the window: SALE_ENDED once the end passes, holders first', async () => {
    const [{ ends }] = await a.sql(`SELECT clock_timestamp() + interval '1500 ms' AS ends`);
    await a.api.post('/api/coupons', { name: 'LASTCALL', amount: 1, ends_at: ends.toISOString() }, { token: admin });
    const [holder, late] = await makeUsers(a.api, 'lastcall_', 2);
    expect((await b.api.claim(holder.token, 'LASTCALL')).status).toBe(200);
    expect((await b.api.claim(late.token, 'LASTCALL')).body.code).toBe('SOLD_OUT');
    await untilSoldOutRemembered(b, 'LASTCALL');
    await sleep(1600);
    expect((await b.api.claim(late.token, 'LASTCALL')).body.code).toBe('SALE_ENDED');
    expect((await b.api.claim(holder.token, 'LASTCALL')).body.code).toBe('ALREADY_CLAIMED');
  });

  it('a close through A is seen by the very next claim through B, even where B remembered "sold out"', async () => {
    await a.api.createCoupon(admin, 'CLOSEX', 1);
    const [holder, other] = await makeUsers(a.api, 'closex_', 2);
    await b.api.claim(holder.token, 'CLOSEX');
    await b.api.claim(other.token, 'CLOSEX');
    await untilSoldOutRemembered(b, 'CLOSEX');
    await a.api.patch('/api/coupons/CLOSEX', { amount: 2 }, { token: admin });
    expect((await a.api.post('/api/coupons/CLOSEX/close', undefined, { token: admin })).status).toBe(200);
    expect((await b.api.claim(other.token, 'CLOSEX')).body.code).toBe('SALE_ENDED');
    expect(await couponInvariants(a, 'CLOSEX')).toEqual({ amount: 2, remaining_amount: 1, rows: 1, distinct_users: 1 });
  });
});
