import { ClaimFastPath } from '../src/claims/claim-fast-path';
import { ApiResponse } from './support/http-client';
import { TestApp, couponInvariants, sleep, startTestApp } from './support/test-app';

/**
 * Claims of a coupon known sold out are answered before Nest's pipeline (src/claims/claim-fast-path.ts).
 * These tests check that it is taken, that it answers exactly as the controller does, and that
 * everything it does not own still reaches the controller.
 */
describe('the sold-out fast path', () => {
  let t: TestApp;
  let admin: string;
  let holder: string;
  let late: string;
  let fastPath: ClaimFastPath;

  const answered = () => fastPath.answered;
  const answer = (res: ApiResponse) => ({
    status: res.status,
    body: res.body,
    type: res.headers.get('content-type'),
    nosniff: res.headers.get('x-content-type-options'),
  });

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    fastPath = t.app.get(ClaimFastPath);
    await t.api.createCoupon(admin, 'FAST', 1);
    holder = await t.api.newUser('fast_holder');
    late = await t.api.newUser('fast_late');
    expect((await t.api.claim(holder, 'FAST')).status).toBe(200);
    // The holders of a sold-out coupon are loaded in the background after the last grant.
    await sleep(200);
  });
  afterAll(() => t.close());

  it('is taken once the body has been validated, and answers exactly as the controller did', async () => {
    const before = answered();
    const throughNest = await t.api.claim(late, 'FAST');
    const fast = await t.api.claim(late, 'FAST');
    expect(answered()).toBeGreaterThan(before);
    expect(answer(fast)).toEqual(answer(throughNest));
    expect(fast.status).toBe(409);
    expect(fast.body.code).toBe('SOLD_OUT');
    expect(fast.headers.get('x-request-id')).toBeTruthy();

    const holderAgain = await t.api.claim(holder, 'FAST');
    expect(holderAgain.status).toBe(409);
    expect(holderAgain.body.code).toBe('ALREADY_CLAIMED');
  });

  it('counts its answers in the claim metrics like the controller', async () => {
    const soldOutCount = async () => {
      const text = (await t.api.get('/metrics')).text;
      return Number(/coupon_claims_total\{outcome="SOLD_OUT"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await soldOutCount();
    const fastBefore = answered();
    await t.api.claim(late, 'FAST');
    expect(answered()).toBe(fastBefore + 1);
    expect(await soldOutCount()).toBe(before + 1);
  });

  it('leaves to the controller what it does not own: tokens, bodies, mismatches, coupons not known sold out', async () => {
    const before = answered();
    const post = (body: unknown, token?: string) => t.api.post('/api/coupons/claim', body, { token });
    expect((await post({ coupon_name: 'FAST' })).body.code).toBe('UNAUTHORIZED');
    expect((await post({ coupon_name: 'FAST' }, 'not-a-jwt')).body.code).toBe('TOKEN_INVALID');
    expect((await post({ coupon_name: 'FAST', user_id: 'someone_else' }, late)).body.code).toBe('USER_MISMATCH');
    const extra = await post({ coupon_name: 'FAST', admin: true }, late);
    expect([extra.status, extra.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await post({ coupon_name: 'NOSUCH' }, late)).body.code).toBe('COUPON_NOT_FOUND');
    expect((await post({ coupon_name: 'NOSUCH' }, late)).body.code).toBe('COUPON_NOT_FOUND');
    expect(answered()).toBe(before);
  });

  it('a restock through the API reaches the controller again, and the claim is granted', async () => {
    expect((await t.api.patch('/api/coupons/FAST', { amount: 2 }, { token: admin })).status).toBe(200);
    // Another process could have restocked: the memory is trusted for at most SOLD_OUT_RECHECK_MS.
    await sleep(t.config.SOLD_OUT_RECHECK_MS + 50);
    const before = answered();
    const granted = await t.api.claim(late, 'FAST');
    expect(granted.status).toBe(200);
    expect(answered()).toBe(before);
    expect(await couponInvariants(t, 'FAST')).toEqual({ amount: 2, remaining_amount: 0, rows: 2, distinct_users: 2 });
  });
});

describe('the sold-out fast path and hostile bodies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'GONE', 1);
    expect((await t.api.claim(await t.api.newUser('gone_holder'), 'GONE')).status).toBe(200);
  });
  afterAll(() => t.close());

  it('a deeply nested body on a sold-out coupon still gets the controller\'s 400, never a 500', async () => {
    const token = await t.api.newUser('gone_deep');
    const deep = '['.repeat(6000) + ']'.repeat(6000);
    const res = await fetch(`${t.url}/api/coupons/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: `{"coupon_name":"GONE","x":${deep}}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
  });
});
