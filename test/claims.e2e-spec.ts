import { TestApp, couponInvariants, makeUsers, startTestApp } from './support/test-app';

/**
 * How long a claim may wait in the queue before it is answered LOCK_BUSY unsettled: far above the
 * 50 one-claim batches of the flash sale below on a loaded machine, so that a LOCK_BUSY in these
 * races can only come from the lock itself.
 */
const QUEUE_TIMEOUT_MS = 20_000;

/** Runs the claim races at several batch sizes: 1 is the plain one-claim-per-lock path. */
describe.each([1, 200])('claims at CLAIM_BATCH_SIZE=%i', (batchSize) => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ CLAIM_BATCH_SIZE: batchSize, CLAIM_QUEUE_TIMEOUT_MS: QUEUE_TIMEOUT_MS });
    admin = await t.adminToken();
  });
  afterAll(() => t.close());

  it('a claim answers 200 with the contract shape and writes one row', async () => {
    await t.api.createCoupon(admin, 'SHAPE', 2);
    const token = await t.api.newUser('shape_user');
    const res = await t.api.claim(token, 'SHAPE');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ coupon_name: 'SHAPE', user_id: 'shape_user', claimed_at: expect.any(String) });
    const coupon = await t.api.get('/api/coupons/SHAPE', { token });
    expect(coupon.body).toEqual({ name: 'SHAPE', amount: 2, remaining_amount: 1, claimed_by: ['shape_user'] });
  });

  it('user_id may be given but must be the token user (403 USER_MISMATCH, nothing written)', async () => {
    await t.api.createCoupon(admin, 'MISMATCH', 5);
    await t.api.newUser('victim');
    const token = await t.api.newUser('attacker');
    const res = await t.api.claim(token, 'MISMATCH', { user_id: 'victim' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('USER_MISMATCH');
    expect((await couponInvariants(t, 'MISMATCH')).rows).toBe(0);
    const own = await t.api.claim(token, 'MISMATCH', { user_id: 'attacker' });
    expect(own.status).toBe(200);
  });

  it('checks in order: unknown coupon 404, already claimed 409 (also after sell-out), sold out 409', async () => {
    const [first, second] = await makeUsers(t.api, 'order_', 2);
    const unknown = await t.api.claim(first.token, 'NO_SUCH_COUPON');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('COUPON_NOT_FOUND');

    await t.api.createCoupon(admin, 'SOLO', 1);
    expect((await t.api.claim(first.token, 'SOLO')).status).toBe(200);
    const again = await t.api.claim(first.token, 'SOLO');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ALREADY_CLAIMED');
    const late = await t.api.claim(second.token, 'SOLO');
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('SOLD_OUT');
    // Once known sold out the answers come from memory: the holder must still hear ALREADY_CLAIMED.
    for (let i = 0; i < 3; i++) {
      expect((await t.api.claim(first.token, 'SOLO')).body.code).toBe('ALREADY_CLAIMED');
      expect((await t.api.claim(second.token, 'SOLO')).body.code).toBe('SOLD_OUT');
    }
    expect(await couponInvariants(t, 'SOLO')).toEqual({ amount: 1, remaining_amount: 0, rows: 1, distinct_users: 1 });
  });

  it('validates the claim body', async () => {
    const token = await t.api.newUser('validator');
    for (const body of [{}, { coupon_name: 5 }, { coupon_name: '' }, { coupon_name: 'A', extra: 1 }, { coupon_name: 'A', user_id: 7 }]) {
      const res = await t.api.post('/api/coupons/claim', body, { token });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await t.api.post('/api/coupons/claim', { coupon_name: 'A' })).status).toBe(401);
  });

  // One process never contends with itself for a coupon's lock (one batch at a time per coupon), so
  // LOCK_BUSY here could only mean a lock that was never released: these races accept none.
  it('flash sale: 50 users race for 5 units: exactly 5 win, the rest SOLD_OUT', async () => {
    await t.api.createCoupon(admin, 'FLASH5', 5);
    const users = await makeUsers(t.api, 'racer_', 50);
    const results = await Promise.all(users.map((u) => t.api.claim(u.token, 'FLASH5')));
    const winners = results.filter((r) => r.status === 200);
    const codes = results.filter((r) => r.status !== 200).map((r) => r.body.code);
    expect(winners).toHaveLength(5);
    expect(codes).toEqual(Array(45).fill('SOLD_OUT'));
    expect(new Set(winners.map((w) => w.body.user_id)).size).toBe(5);

    const invariants = await couponInvariants(t, 'FLASH5');
    expect(invariants).toEqual({ amount: 5, remaining_amount: 0, rows: 5, distinct_users: 5 });
    const coupon = await t.api.get('/api/coupons/FLASH5', { token: users[0].token });
    // claimed_by is in claim order, which agrees with claimed_at.
    const byUser = new Map(winners.map((w) => [w.body.user_id, Date.parse(w.body.claimed_at)]));
    expect(new Set(coupon.body.claimed_by)).toEqual(new Set(byUser.keys()));
    const times = coupon.body.claimed_by.map((u: string) => byUser.get(u)!);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('double dip: one user fires 10 concurrent claims, exactly one succeeds', async () => {
    await t.api.createCoupon(admin, 'DIP', 10);
    const token = await t.api.newUser('dipper');
    const results = await Promise.all(Array.from({ length: 10 }, () => t.api.claim(token, 'DIP')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.body.code === 'ALREADY_CLAIMED').length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 200 || r.body.code === 'ALREADY_CLAIMED')).toBe(true);
    expect(await couponInvariants(t, 'DIP')).toEqual({ amount: 10, remaining_amount: 9, rows: 1, distinct_users: 1 });
  });

  it('a batch larger than the stock, with duplicates, settles exactly', async () => {
    await t.api.createCoupon(admin, 'MIXED', 3);
    const users = await makeUsers(t.api, 'mixed_', 6);
    // Every user asks twice at once: duplicates inside one batch.
    const requests = users.flatMap((u) => [u, u]);
    const results = await Promise.all(requests.map((u) => t.api.claim(u.token, 'MIXED')));
    const granted = results.filter((r) => r.status === 200);
    expect(granted).toHaveLength(3);
    expect(new Set(granted.map((r) => r.body.user_id)).size).toBe(3);
    for (const r of results) {
      if (r.status !== 200) expect(['ALREADY_CLAIMED', 'SOLD_OUT']).toContain(r.body.code);
    }
    expect(await couponInvariants(t, 'MIXED')).toEqual({ amount: 3, remaining_amount: 0, rows: 3, distinct_users: 3 });
  });
});
