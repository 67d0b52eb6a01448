import { EXCEPTION_FILTERS_METADATA, GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ApplicationConfig } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { CLAIM_FAST_PATH_ROUTE, ClaimFastPath, FAST_PATH_APPLIES } from '../src/claims/claim-fast-path';
import { ClaimsController } from '../src/claims/claims.controller';
import { ApiResponse } from './support/http-client';
import { TestApp, couponInvariants, startSiblingApp, startTestApp, untilSoldOutRemembered } from './support/test-app';

/**
 * Claims of a coupon known sold out are answered before Nest's pipeline (src/claims/claim-fast-path.ts).
 * These tests check that it is taken, that it answers exactly as the controller does, and that
 * everything it does not own still reaches the controller.
 */
/** Headers that differ between any two answers (request ids, dates); everything else must match. */
const PER_ANSWER_HEADERS = new Set(['x-request-id', 'date', 'connection', 'keep-alive']);
const answer = (res: ApiResponse) => ({
  status: res.status,
  body: res.body,
  headers: Object.fromEntries([...res.headers].filter(([name]) => !PER_ANSWER_HEADERS.has(name))),
});

describe('the sold-out fast path', () => {
  let fast: TestApp;
  let plain: TestApp;
  let admin: string;
  let holder: string;
  let late: string;
  let fastPath: ClaimFastPath;
  let plainPath: ClaimFastPath;

  beforeAll(async () => {
    fast = await startTestApp();
    // The same deployment with the hook switched off: every claim there runs Nest's pipeline.
    plain = await startSiblingApp(fast, { CLAIM_FAST_PATH: false });
    admin = await fast.adminToken();
    fastPath = fast.app.get(ClaimFastPath);
    plainPath = plain.app.get(ClaimFastPath);
    await fast.api.createCoupon(admin, 'FAST', 1);
    holder = await fast.api.newUser('fast_holder');
    late = await fast.api.newUser('fast_late');
    expect((await fast.api.claim(holder, 'FAST')).status).toBe(200);
    // Each process remembers a sell-out it settled itself: one refusal through each.
    expect((await fast.api.claim(late, 'FAST')).body.code).toBe('SOLD_OUT');
    expect((await plain.api.claim(late, 'FAST')).body.code).toBe('SOLD_OUT');
    await untilSoldOutRemembered(fast, 'FAST');
    await untilSoldOutRemembered(plain, 'FAST');
  });
  afterAll(async () => {
    await plain.close();
    await fast.close();
  });

  it('answers exactly as the controller does: one request down each path', async () => {
    for (const [token, code] of [
      [late, 'SOLD_OUT'],
      [holder, 'ALREADY_CLAIMED'],
    ]) {
      const fastBefore = fastPath.answered;
      const throughHook = await fast.api.claim(token, 'FAST');
      const throughNest = await plain.api.claim(token, 'FAST');
      // The two paths really ran: the hook answered the first, and is not even installed in `plain`.
      expect(fastPath.answered).toBe(fastBefore + 1);
      expect(plainPath.answered).toBe(0);
      expect(throughHook.status).toBe(409);
      expect(throughHook.body.code).toBe(code);
      expect(throughHook.headers.get('x-request-id')).toBeTruthy();
      expect(answer(throughHook)).toEqual(answer(throughNest));
    }
  });

  it('a body it has never seen goes through Nest first, the same body again through the hook', async () => {
    const body = { coupon_name: 'FAST', user_id: 'fast_late' };
    const before = fastPath.answered;
    const first = await fast.api.post('/api/coupons/claim', body, { token: late });
    expect(fastPath.answered).toBe(before);
    const second = await fast.api.post('/api/coupons/claim', body, { token: late });
    expect(fastPath.answered).toBe(before + 1);
    expect(answer(second)).toEqual(answer(first));
  });

  it('counts its answers in the claim metrics like the controller', async () => {
    const soldOutCount = async () => {
      const text = (await fast.api.get('/metrics')).text;
      return Number(/coupon_claims_total\{outcome="SOLD_OUT"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await soldOutCount();
    const fastBefore = fastPath.answered;
    await fast.api.claim(late, 'FAST');
    expect(fastPath.answered).toBe(fastBefore + 1);
    expect(await soldOutCount()).toBe(before + 1);
  });

  it('leaves to the controller what it does not own: tokens, bodies, mismatches, coupons not known sold out', async () => {
    const before = fastPath.answered;
    const post = (body: unknown, token?: string) => fast.api.post('/api/coupons/claim', body, { token });
    expect((await post({ coupon_name: 'FAST' })).body.code).toBe('UNAUTHORIZED');
    expect((await post({ coupon_name: 'FAST' }, 'not-a-jwt')).body.code).toBe('TOKEN_INVALID');
    expect((await post({ coupon_name: 'FAST', user_id: 'someone_else' }, late)).body.code).toBe('USER_MISMATCH');
    const extra = await post({ coupon_name: 'FAST', admin: true }, late);
    expect([extra.status, extra.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await post({ coupon_name: 'NOSUCH' }, late)).body.code).toBe('COUPON_NOT_FOUND');
    expect((await post({ coupon_name: 'NOSUCH' }, late)).body.code).toBe('COUPON_NOT_FOUND');
    expect(fastPath.answered).toBe(before);
  });

  it('a restock through the other process is seen at once: the claim is granted', async () => {
    expect((await plain.api.patch('/api/coupons/FAST', { amount: 2 }, { token: admin })).status).toBe(200);
    const granted = await fast.api.claim(late, 'FAST');
    expect(granted.status).toBe(200);
    expect(await couponInvariants(fast, 'FAST')).toEqual({ amount: 2, remaining_amount: 0, rows: 2, distinct_users: 2 });
  });
});

/**
 * The hook replaces the claim route's Nest pipeline: whatever that pipeline runs, the hook must
 * run too. If the controller (or the app) gains a guard, pipe, interceptor or filter, this fails
 * until FAST_PATH_APPLIES, and the hook itself, are brought along.
 */
describe('the fast path applies everything the claim route applies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const names = (items: unknown[] | undefined) =>
    (items ?? []).map((item) => (typeof item === 'function' ? item.name : (item as object).constructor.name));

  it('guards, pipes, interceptors and filters of POST /api/coupons/claim', () => {
    const handler = ClaimsController.prototype.claim;
    const onRoute = (key: string) => [
      ...names(Reflect.getMetadata(key, ClaimsController)),
      ...names(Reflect.getMetadata(key, handler)),
    ];
    // Nest keeps the app's global enhancers in its private ApplicationConfig.
    const config = (t.app as unknown as { config: ApplicationConfig }).config;
    const globals = (own: unknown[], requestScoped: { metatype?: unknown }[]) => [
      ...names(own),
      ...names(requestScoped.map((wrapper) => wrapper.metatype)),
    ];
    const paramPipes = Object.values(
      (Reflect.getMetadata(ROUTE_ARGS_METADATA, ClaimsController, 'claim') ?? {}) as Record<string, { pipes?: unknown[] }>,
    ).flatMap((arg) => names(arg.pipes));

    const applied = {
      guards: [...globals(config.getGlobalGuards(), config.getGlobalRequestGuards()), ...onRoute(GUARDS_METADATA)],
      pipes: [...globals(config.getGlobalPipes(), config.getGlobalRequestPipes()), ...onRoute(PIPES_METADATA), ...paramPipes],
      interceptors: [
        ...globals(config.getGlobalInterceptors(), config.getGlobalRequestInterceptors()),
        ...onRoute(INTERCEPTORS_METADATA),
      ],
      filters: [...globals(config.getGlobalFilters(), config.getGlobalRequestFilters()), ...onRoute(EXCEPTION_FILTERS_METADATA)],
    };
    expect(applied).toEqual({
      guards: [...FAST_PATH_APPLIES.guards],
      pipes: [...FAST_PATH_APPLIES.pipes],
      interceptors: [...FAST_PATH_APPLIES.interceptors],
      filters: [...FAST_PATH_APPLIES.filters],
    });
  });

  it('is tied to the claim route by route configuration, not by its URL', () => {
    expect(Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, ClaimsController.prototype.claim)).toEqual(CLAIM_FAST_PATH_ROUTE);
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
