import { TestApp, makeUsers, startTestApp } from './support/test-app';

describe('GET /api/coupons/:name/claims (cursor pages in claim order)', () => {
  let t: TestApp;
  let token: string;
  const holders: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'PAGED', 30);
    await t.api.createCoupon(admin, 'EMPTY', 3);
    const users = await makeUsers(t.api, 'page_u', 7);
    token = users[0].token;
    // One at a time, so claim order is the order of this list.
    for (const user of users) {
      expect((await t.api.claim(user.token, 'PAGED')).status).toBe(200);
      holders.push(user.username);
    }
  });
  afterAll(() => t.close());

  const page = (query: string) => t.api.get(`/api/coupons/PAGED/claims${query}`, { token });

  it('walks every holder exactly once, in claim order, and agrees with claimed_by', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await page(`?limit=3${cursor ? `&after=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.coupon_name).toBe('PAGED');
      expect(res.body.claims.length).toBeLessThanOrEqual(3);
      for (const claim of res.body.claims) {
        expect(claim).toEqual({ user_id: expect.any(String), claimed_at: expect.any(String) });
        seen.push(claim.user_id);
      }
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(holders);
    const whole = await t.api.get('/api/coupons/PAGED', { token });
    expect(whole.body.claimed_by).toEqual(seen);
  });

  it('defaults to 100 per page; an exact last page has no next cursor', async () => {
    const all = await page('');
    expect(all.body.claims).toHaveLength(7);
    expect(all.body.next_cursor).toBeNull();
    const exact = await page('?limit=7');
    expect(exact.body.claims).toHaveLength(7);
    expect(exact.body.next_cursor).toBeNull();
    const limit1000 = await page('?limit=1000');
    expect(limit1000.status).toBe(200);
  });

  it('claims made after a cursor was handed out appear on the next page', async () => {
    const first = await page('?limit=7');
    expect(first.body.next_cursor).toBeNull();
    const lastId = (await t.sql('SELECT max(id)::text AS id FROM user_claims'))[0].id;
    const [late] = await makeUsers(t.api, 'page_late', 1);
    await t.api.claim(late.token, 'PAGED');
    const next = await page(`?after=${Buffer.from(lastId).toString('base64url')}`);
    expect(next.body.claims.map((c: { user_id: string }) => c.user_id)).toEqual([late.username]);
  });

  it('an existing coupon without claims is an empty page; an unknown one is 404', async () => {
    const empty = await t.api.get('/api/coupons/EMPTY/claims', { token });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ coupon_name: 'EMPTY', claims: [], next_cursor: null });
    const missing = await t.api.get('/api/coupons/NOPE/claims', { token });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('COUPON_NOT_FOUND');
  });

  it.each([
    ['limit=0'],
    ['limit=1001'],
    ['limit=-1'],
    ['limit=01'],
    ['limit=1e2'],
    ['limit=2.5'],
    ['limit=abc'],
    ['limit='],
    ['limit=1&limit=2'],
    ['after=not%20base64'],
    ['after=' + Buffer.from('abc').toString('base64url')],
    ['after=' + Buffer.from('0').toString('base64url')],
    ['after=' + Buffer.from('99999999999999999999').toString('base64url')],
    ['after=' + 'A'.repeat(40)],
    ['page=2'],
  ])('?%s is 400 VALIDATION_FAILED', async (query) => {
    const res = await page(`?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('needs a token', async () => {
    const res = await t.api.get('/api/coupons/PAGED/claims');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('UNAUTHORIZED');
  });
});
