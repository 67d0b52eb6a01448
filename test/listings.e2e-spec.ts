import { HealthService } from '../src/health/health.service';
import { TestApp, startAppWithUser, startTestApp } from './support/test-app';

describe('listings: coupons (admin), my profile, my claims', () => {
  let t: TestApp, admin: string, user: string;
  beforeAll(async () => {
    ({ t, admin, user } = await startAppWithUser('lister'));
    // Created one after another so "newest first" is well defined: L24 is the newest.
    for (let i = 0; i < 25; i++) {
      const res = await t.api.post(
        '/api/coupons',
        { name: `L${i}`, amount: 10 + i, ...(i === 3 ? { ends_at: '2031-01-01T00:00:00Z' } : {}) },
        { token: admin },
      );
      if (res.status !== 201) throw new Error(res.text);
    }
  });
  afterAll(() => t.close());

  /** Follows next_cursor to the end; returns every page. */
  async function allPages(path: string, token: string, limit: number) {
    const pages: any[] = [];
    let after: string | null = null;
    do {
      const res: { status: number; body: any } = await t.api.get(`${path}?limit=${limit}${after ? `&after=${after}` : ''}`, { token });
      expect(res.status).toBe(200);
      pages.push(res.body);
      after = res.body.next_cursor;
    } while (after && pages.length < 100);
    return pages;
  }

  it('GET /api/coupons: full coupon objects, newest first, 20 by default', async () => {
    const res = await t.api.get('/api/coupons', { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(20);
    expect(res.body.items[0]).toEqual({
      name: 'L24',
      amount: 34,
      remaining_amount: 34,
      starts_at: null,
      ends_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(res.body.items.map((c: { name: string }) => c.name)).toEqual(Array.from({ length: 20 }, (_, i) => `L${24 - i}`));
    expect(typeof res.body.next_cursor).toBe('string');
  });

  it('cursor pagination walks every coupon exactly once and ends with next_cursor null', async () => {
    const pages = await allPages('/api/coupons', admin, 7);
    expect(pages.map((p) => p.items.length)).toEqual([7, 7, 7, 4]);
    expect(pages[pages.length - 1].next_cursor).toBeNull();
    const names = pages.flatMap((p) => p.items.map((c: { name: string }) => c.name));
    expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `L${24 - i}`));
    const windowed = pages.flatMap((p) => p.items).find((c: { name: string }) => c.name === 'L3');
    expect(windowed.ends_at).toBe('2031-01-01T00:00:00.000Z');
  });

  it('limit bounds 1 and 100 are accepted', async () => {
    const one = await t.api.get('/api/coupons?limit=1', { token: admin });
    expect(one.body.items).toHaveLength(1);
    const hundred = await t.api.get('/api/coupons?limit=100', { token: admin });
    expect(hundred.body.items).toHaveLength(25);
    expect(hundred.body.next_cursor).toBeNull();
  });

  it.each([
    ['limit=0'],
    ['limit=101'],
    ['limit=abc'],
    ['limit=1e1'],
    ['limit=05'],
    ['limit=-1'],
    ['limit=2.5'],
    ['limit='],
    ['limit=%205'],
    ['limit=1&limit=2'],
    ['after=not*a*cursor'],
    ['after=YWJj'],
    ['after=MDE'],
    ['after='],
    ['page=2'],
  ])('GET /api/coupons?%s is 400 VALIDATION_FAILED', async (query) => {
    const res = await t.api.get(`/api/coupons?${query}`, { token: admin });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('GET /api/coupons needs an admin: 401 without a token, 403 FORBIDDEN for a user', async () => {
    expect((await t.api.get('/api/coupons')).body.code).toBe('UNAUTHORIZED');
    const res = await t.api.get('/api/coupons', { token: user });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
  });

  it("GET /api/users/me: the caller's profile; 401 without a token", async () => {
    const res = await t.api.get('/api/users/me', { token: user });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: expect.any(Number), username: 'lister', role: 'user', created_at: expect.any(String) });
    expect((await t.api.get('/api/users/me', { token: admin })).body).toMatchObject({ username: 'admin', role: 'admin' });
    expect((await t.api.get('/api/users/me')).status).toBe(401);
  });

  it('GET /api/users/me for a user deleted after login: 401 TOKEN_INVALID', async () => {
    const token = await t.api.newUser('vanishing');
    await t.sql(`DELETE FROM users WHERE username = 'vanishing'`);
    const res = await t.api.get('/api/users/me', { token });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('TOKEN_INVALID');
  });

  it("GET /api/users/me/claims: my coupons with claimed_at, newest claim first, paginated, nobody else's", async () => {
    const other = await t.api.newUser('otherlister');
    const claimed = ['L5', 'L1', 'L9', 'L2', 'L7'];
    const answers: Record<string, string> = {};
    for (const name of claimed) {
      const res = await t.api.claim(user, name);
      expect(res.status).toBe(200);
      answers[name] = res.body.claimed_at;
    }
    await t.api.claim(other, 'L0');
    const pages = await allPages('/api/users/me/claims', user, 2);
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    const items = pages.flatMap((p) => p.items);
    expect(items).toEqual([...claimed].reverse().map((name) => ({ coupon_name: name, claimed_at: answers[name] })));
    const mine = await t.api.get('/api/users/me/claims', { token: other });
    expect(mine.body).toEqual({ items: [{ coupon_name: 'L0', claimed_at: expect.any(String) }], next_cursor: null });
  });

  it('GET /api/users/me/claims: empty for a new user; 400 for bad paging; 401 without a token', async () => {
    const fresh = await t.api.newUser('freshlister');
    expect((await t.api.get('/api/users/me/claims', { token: fresh })).body).toEqual({ items: [], next_cursor: null });
    for (const query of ['limit=0', 'limit=x', 'after=!!', 'after=LTE', 'extra=1']) {
      const res = await t.api.get(`/api/users/me/claims?${query}`, { token: fresh });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await t.api.get('/api/users/me/claims')).body.code).toBe('UNAUTHORIZED');
  });
});

describe('probe paths', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t.close());

  it('GET /healthcheck (without the API prefix) answers exactly like GET /api/healthcheck', async () => {
    const [unprefixed, api] = await Promise.all([t.api.get('/healthcheck'), t.api.get('/api/healthcheck')]);
    expect(api.status).toBe(200);
    expect(unprefixed.status).toBe(api.status);
    expect(unprefixed.body).toEqual(api.body);
    expect(unprefixed.body).toMatchObject({ status: 'ok', checks: { database: 'up', redis: 'up' } });
  });

  it('GET /api/healthcheck/live is 200 and checks nothing', async () => {
    const res = await t.api.get('/api/healthcheck/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('only GET is routed; other /healthcheck paths stay 404', async () => {
    expect((await t.api.post('/healthcheck')).body.code).toBe('NOT_FOUND');
    expect((await t.api.get('/healthcheck/live')).body.code).toBe('NOT_FOUND');
    expect((await t.api.get('/api/api/healthcheck')).body.code).toBe('NOT_FOUND');
  });

  it('while not ready (draining), readiness is 503 on both paths and liveness stays 200', async () => {
    t.app.get(HealthService).startDraining();
    const [unprefixed, api, live] = await Promise.all([
      t.api.get('/healthcheck'),
      t.api.get('/api/healthcheck'),
      t.api.get('/api/healthcheck/live'),
    ]);
    expect(api.status).toBe(503);
    expect(api.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(unprefixed.status).toBe(503);
    expect(unprefixed.body).toEqual(api.body);
    expect(live.status).toBe(200);
  });
});
