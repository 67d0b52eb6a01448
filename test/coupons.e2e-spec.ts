import { TestApp, startAppWithUser } from './support/test-app';

describe('coupons: create and read', () => {
  let t: TestApp, admin: string, user: string;
  beforeAll(async () => ({ t, admin, user } = await startAppWithUser('plainuser')));
  afterAll(() => t.close());

  it('admin creates a coupon: 201 with the contract shape', async () => {
    const res = await t.api.createCoupon(admin, 'FLASH50', 50);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ name: 'FLASH50', amount: 50, remaining_amount: 50, created_at: expect.any(String) });
  });

  it('names are case-sensitive and stored exactly as given', async () => {
    expect((await t.api.createCoupon(admin, 'flash50', 5)).status).toBe(201);
    const lower = await t.api.get('/api/coupons/flash50', { token: user });
    const upper = await t.api.get('/api/coupons/FLASH50', { token: user });
    expect(lower.body.amount).toBe(5);
    expect(upper.body.amount).toBe(50);
  });

  it('409 COUPON_EXISTS for a taken name', async () => {
    await t.api.createCoupon(admin, 'DUP', 1);
    const res = await t.api.createCoupon(admin, 'DUP', 2);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('COUPON_EXISTS');
    const [row] = await t.sql("SELECT amount FROM coupons WHERE name = 'DUP'");
    expect(row.amount).toBe(1);
  });

  it.each([
    ['"5"', '5'],
    ['0', 0],
    ['-1', -1],
    ['2.5', 2.5],
    ['1e9', 1e9],
    ['1000001', 1_000_001],
    ['null', null],
    ['true', true],
  ])('amount %s is 400 VALIDATION_FAILED', async (label, amount) => {
    const name = `BAD${label.replace(/[^A-Za-z0-9]/g, '')}`;
    const res = await t.api.post('/api/coupons', { name, amount }, { token: admin });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(await t.sql('SELECT 1 FROM coupons WHERE name = $1', [name])).toHaveLength(0);
  });

  it('accepts the amount bounds 1 and 1,000,000', async () => {
    expect((await t.api.createCoupon(admin, 'ONE', 1)).status).toBe(201);
    expect((await t.api.createCoupon(admin, 'MILLION', 1_000_000)).status).toBe(201);
  });

  it.each([[''], ['has space'], ['dot.name'], ['x'.repeat(65)], ['ünïcode']])('name %j is 400', async (name) => {
    const res = await t.api.post('/api/coupons', { name, amount: 1 }, { token: admin });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('401 UNAUTHORIZED without a token, 401 with a bad one, 403 FORBIDDEN for a non-admin', async () => {
    const none = await t.api.post('/api/coupons', { name: 'NOPE', amount: 1 });
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('UNAUTHORIZED');
    const bad = await t.api.post('/api/coupons', { name: 'NOPE', amount: 1 }, { token: 'not.a.token' });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('TOKEN_INVALID');
    const notAdmin = await t.api.post('/api/coupons', { name: 'NOPE', amount: 1 }, { token: user });
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.code).toBe('FORBIDDEN');
    expect(await t.sql("SELECT 1 FROM coupons WHERE name = 'NOPE'")).toHaveLength(0);
  });

  it('GET returns the bare seed shape; 404 COUPON_NOT_FOUND for an unknown name; needs a token', async () => {
    await t.api.createCoupon(admin, 'READ', 3);
    const res = await t.api.get('/api/coupons/READ', { token: user });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'READ', amount: 3, remaining_amount: 3, claimed_by: [] });
    const missing = await t.api.get('/api/coupons/NOSUCH', { token: user });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('COUPON_NOT_FOUND');
    expect((await t.api.get('/api/coupons/READ')).status).toBe(401);
  });
});
