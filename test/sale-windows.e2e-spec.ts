import { TestApp, couponInvariants, makeUsers, sleep, startAppWithUser } from './support/test-app';

/** An ISO instant `ms` from the database's clock (the clock claims are judged by). */
async function dbTimeIn(t: TestApp, ms: number): Promise<string> {
  const [row] = await t.sql<{ at: Date }>(`SELECT clock_timestamp() + make_interval(secs => $1::float8 / 1000) AS at`, [ms]);
  return row.at.toISOString();
}

describe('sale windows', () => {
  let t: TestApp, admin: string, user: string;
  beforeAll(async () => ({ t, admin, user } = await startAppWithUser('windowuser')));
  afterAll(() => t.close());

  const create = (body: Record<string, unknown>) => t.api.post('/api/coupons', body, { token: admin });

  it('creates a coupon with a window given with offsets; stored as timestamptz, answered in UTC', async () => {
    const res = await create({
      name: 'WIN1',
      amount: 5,
      starts_at: '2030-01-01T12:00:00+02:00',
      ends_at: '2030-01-01T11:30:00.250Z',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      name: 'WIN1',
      amount: 5,
      remaining_amount: 5,
      created_at: expect.any(String),
      starts_at: '2030-01-01T10:00:00.000Z',
      ends_at: '2030-01-01T11:30:00.250Z',
    });
    const [row] = await t.sql(`SELECT starts_at, ends_at, pg_typeof(starts_at)::text AS type FROM coupons WHERE name = 'WIN1'`);
    expect(row.type).toBe('timestamp with time zone');
    expect(row.starts_at.toISOString()).toBe('2030-01-01T10:00:00.000Z');
  });

  it('a coupon without a window keeps the seed create shape and is always open', async () => {
    const res = await t.api.createCoupon(admin, 'NOWIN', 1);
    expect(Object.keys(res.body).sort()).toEqual(['amount', 'created_at', 'name', 'remaining_amount']);
    expect((await t.api.claim(user, 'NOWIN')).status).toBe(200);
  });

  it('a past starts_at is allowed and the sale is open', async () => {
    const res = await create({ name: 'PASTSTART', amount: 2, starts_at: '2020-01-01T00:00:00Z' });
    expect(res.status).toBe(201);
    expect(res.body.ends_at).toBeNull();
    expect((await t.api.claim(user, 'PASTSTART')).status).toBe(200);
  });

  it.each([
    ['no offset', { starts_at: '2030-01-01T10:00:00' }],
    ['a date only', { starts_at: '2030-01-01' }],
    ['an impossible date', { starts_at: '2030-02-30T10:00:00Z' }],
    ['hour 24', { ends_at: '2030-01-01T24:00:00Z' }],
    ['a number', { starts_at: 1893492000000 }],
    ['microseconds', { starts_at: '2030-01-01T10:00:00.123456Z' }],
    ['free text', { ends_at: 'tomorrow' }],
    ['ends_at equal to starts_at', { starts_at: '2030-01-01T10:00:00Z', ends_at: '2030-01-01T12:00:00+02:00' }],
    ['ends_at before starts_at', { starts_at: '2030-01-01T10:00:00Z', ends_at: '2030-01-01T09:59:59Z' }],
  ])('400 VALIDATION_FAILED for %s, nothing written', async (label, window) => {
    const name = `BADWIN${label.replace(/[^A-Za-z]/g, '')}`;
    const res = await create({ name, amount: 1, ...window });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(await t.sql('SELECT 1 FROM coupons WHERE name = $1', [name])).toHaveLength(0);
  });

  it('before the start: 409 SALE_NOT_STARTED with Retry-After = seconds until the start, nothing written', async () => {
    await create({ name: 'SOON', amount: 5, starts_at: await dbTimeIn(t, 99_500) });
    const res = await t.api.claim(user, 'SOON');
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('SALE_NOT_STARTED');
    // ceil(99.5 s minus the few ms since) = 100, or 99 on a very slow machine
    expect([99, 100]).toContain(Number(res.headers.get('retry-after')));
    expect(await couponInvariants(t, 'SOON')).toEqual({ amount: 5, remaining_amount: 5, rows: 0, distinct_users: 0 });
  });

  it('after the end: 409 SALE_ENDED, no Retry-After, nothing written', async () => {
    await create({ name: 'OVER', amount: 5, starts_at: '2020-01-01T00:00:00Z', ends_at: '2020-01-02T00:00:00Z' });
    const res = await t.api.claim(user, 'OVER');
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('SALE_ENDED');
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await couponInvariants(t, 'OVER')).toEqual({ amount: 5, remaining_amount: 5, rows: 0, distinct_users: 0 });
  });

  it('the end is exclusive and judged by the database clock: open just before, ended just after', async () => {
    await create({ name: 'SHORT', amount: 5, ends_at: await dbTimeIn(t, 1500) });
    expect((await t.api.claim(user, 'SHORT')).status).toBe(200);
    const late = await t.api.newUser('lateuser');
    await sleep(1600);
    const res = await t.api.claim(late, 'SHORT');
    expect(res.body.code).toBe('SALE_ENDED');
  });

  it('order of checks: exists, already claimed, window, stock', async () => {
    expect((await t.api.claim(user, 'NOSUCH')).body.code).toBe('COUPON_NOT_FOUND');
    // A holder hears ALREADY_CLAIMED even after the sale ended.
    await create({ name: 'ORDER1', amount: 1, ends_at: await dbTimeIn(t, 1000) });
    expect((await t.api.claim(user, 'ORDER1')).status).toBe(200);
    await sleep(1100);
    expect((await t.api.claim(user, 'ORDER1')).body.code).toBe('ALREADY_CLAIMED');
    // Sold out and ended: the window speaks before the stock.
    const other = await t.api.newUser('orderother');
    expect((await t.api.claim(other, 'ORDER1')).body.code).toBe('SALE_ENDED');
    // Not started and no stock can be had: SALE_NOT_STARTED, not SOLD_OUT.
    await create({ name: 'ORDER2', amount: 1, starts_at: await dbTimeIn(t, 60_000) });
    await t.sql(`UPDATE coupons SET remaining_amount = 0 WHERE name = 'ORDER2'`);
    expect((await t.api.claim(other, 'ORDER2')).body.code).toBe('SALE_NOT_STARTED');
  });

  it('the seed-shaped GET keeps exactly its four keys for a windowed coupon', async () => {
    const res = await t.api.get('/api/coupons/WIN1', { token: user });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'WIN1', amount: 5, remaining_amount: 5, claimed_by: [] });
  });

  it('claims racing the opening second are granted after the start or refused, never granted early', async () => {
    const users = await makeUsers(t.api, 'racer_', 30);
    const startsAt = await dbTimeIn(t, 1200);
    await create({ name: 'OPENING', amount: 20, starts_at: startsAt });
    const outcomes: string[] = [];
    // Every racer keeps knocking every ~40 ms until it gets an answer other than "not yet".
    await Promise.all(
      users.map(async ({ token }, i) => {
        await sleep(i % 10);
        for (let attempt = 0; attempt < 200; attempt++) {
          const res = await t.api.claim(token, 'OPENING');
          const outcome = res.status === 200 ? 'granted' : res.body.code;
          outcomes.push(outcome);
          if (outcome !== 'SALE_NOT_STARTED') return;
          await sleep(40);
        }
      }),
    );
    expect(outcomes).toContain('SALE_NOT_STARTED');
    expect(outcomes.filter((o) => o === 'granted')).toHaveLength(20);
    expect(outcomes.filter((o) => o === 'SOLD_OUT')).toHaveLength(10);
    expect(new Set(outcomes)).toEqual(new Set(['SALE_NOT_STARTED', 'granted', 'SOLD_OUT']));
    const early = await t.sql(
      `SELECT count(*)::int AS n FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id
        WHERE c.name = 'OPENING' AND uc.claimed_at < c.starts_at`,
    );
    expect(early[0].n).toBe(0);
    expect(await couponInvariants(t, 'OPENING')).toEqual({ amount: 20, remaining_amount: 0, rows: 20, distinct_users: 20 });
  });
});
