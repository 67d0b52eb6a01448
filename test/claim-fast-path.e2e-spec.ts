import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  PIPES_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { ApplicationConfig } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { CLAIM_FAST_PATH_ROUTE, ClaimFastPath, FAST_PATH_APPLIES } from '../src/claims/claim-fast-path';
import { ClaimsController } from '../src/claims/claims.controller';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import * as jwt from 'jsonwebtoken';
import { ApiResponse } from './support/http-client';
import { TestApp, couponInvariants, sleep, startSiblingApp, startTestApp, untilSoldOutRemembered } from './support/test-app';

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

/** A token signed over `payload` with `secret` (HS256), or unsigned (`alg: none`) when `secret` is null. */
function tokenOf(payload: object, secret: string | null, options: jwt.SignOptions = {}): string {
  if (secret !== null) return jwt.sign(payload, secret, { algorithm: 'HS256', ...options });
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...payload, iat: Math.floor(Date.now() / 1000) })}.`;
}

/** Generated requests per property run: each costs three HTTP requests (a warm-up, then one down each path). */
const PROPERTY_RUNS = 120;

describe('the sold-out fast path', () => {
  let fast: TestApp;
  let plain: TestApp;
  let admin: string;
  let holder: string;
  let late: string;
  let fastPath: ClaimFastPath;
  let plainPath: ClaimFastPath;
  /** Authorization headers, valid and not, by what they are. */
  const headers: Record<string, string | undefined> = {};

  beforeAll(async () => {
    // Revocations reach the other process within 200 ms instead of a second.
    fast = await startTestApp({ USER_REVOCATION_POLL_MS: 200 });
    // The same deployment with the hook switched off: every claim there runs Nest's pipeline.
    plain = await startSiblingApp(fast, { CLAIM_FAST_PATH: false, USER_REVOCATION_POLL_MS: 200 });
    admin = await fast.adminToken();
    fastPath = fast.app.get(ClaimFastPath);
    plainPath = plain.app.get(ClaimFastPath);
    holder = await fast.api.newUser('fast_holder');
    late = await fast.api.newUser('fast_late');
    const gone = await fast.api.newUser('fast_gone');

    // FAST: sold out. OVER: sold out, then closed (its memory answers the window). STOCKED: units
    // left, but both valid users hold it, so no generated request is ever granted.
    for (const [name, amount] of [
      ['FAST', 1],
      ['OVER', 1],
      ['STOCKED', 5],
    ] as const) {
      expect((await fast.api.createCoupon(admin, name, amount)).status).toBe(201);
      expect((await fast.api.claim(holder, name)).status).toBe(200);
    }
    expect((await fast.api.claim(late, 'STOCKED')).status).toBe(200);
    expect((await fast.api.post('/api/coupons/OVER/close', undefined, { token: admin })).status).toBe(200);
    // Each process remembers a sell-out it settled itself: one refusal through each.
    for (const [name, code] of [
      ['FAST', 'SOLD_OUT'],
      ['OVER', 'SALE_ENDED'],
    ]) {
      for (const app of [fast, plain]) {
        expect((await app.api.claim(late, name)).body.code).toBe(code);
        await untilSoldOutRemembered(app, name);
      }
    }

    const secret = fast.config.JWT_SECRET;
    const payloadOf = async (username: string) => {
      const [row] = await fast.sql('SELECT id::text AS id FROM users WHERE username = $1', [username]);
      return { sub: row.id, username, role: 'user' };
    };
    const latePayload = await payloadOf('fast_late');
    const [, , signature] = late.split('.');
    const [tokenHeader, holderClaims] = holder.split('.');
    headers.holder = `Bearer ${holder}`;
    headers.late = `Bearer ${late}`;
    headers['late, lower-case scheme'] = `bearer ${late}`;
    headers['late, signed with another secret'] = `Bearer ${tokenOf(latePayload, `${secret}-but-not-ours`)}`;
    headers['late, unsigned (alg none)'] = `Bearer ${tokenOf(latePayload, null)}`;
    headers['late, expired'] = `Bearer ${tokenOf({ ...latePayload, exp: Math.floor(Date.now() / 1000) - 60 }, secret)}`;
    headers["holder's claims under late's signature"] = `Bearer ${tokenHeader}.${holderClaims}.${signature}`;
    headers['a deleted user'] = `Bearer ${gone}`;
    headers['not a JWT'] = 'Bearer not-a-jwt';
    headers['another scheme'] = `Basic ${late}`;
    headers.none = undefined;

    expect((await fast.api.request('DELETE', '/api/users/fast_gone', { token: admin })).status).toBe(204);
    // Until each process has heard of the deletion (the guard's own check, not a database read),
    // the two would answer that token differently.
    for (const app of [fast, plain]) {
      const deadline = Date.now() + 5000; // the poll is 200 ms; 5 s is the hang guard
      const guarded = () => app.api.get('/api/coupons/FAST', { token: gone });
      let seen = await guarded();
      while (seen.status === 200 && Date.now() < deadline) {
        await sleep(20);
        seen = await guarded();
      }
      expect(seen.body.code).toBe('TOKEN_INVALID');
    }
  });
  afterAll(async () => {
    await plain.close();
    await fast.close();
  });

  const claimWith = (app: TestApp, header: string | undefined, body: object) =>
    app.api.post('/api/coupons/claim', body, { headers: header === undefined ? {} : { authorization: header } });

  it('answers every request exactly as the controller does (property: generated tokens, bodies and coupon states)', async () => {
    const fastBefore = fastPath.answered;
    // Weighted toward what the hook may answer (a valid body naming a coupon it remembers), so that
    // most runs compare an answer from memory; the rest check that it leaves everything else alone.
    const body = fc
      .record(
        {
          coupon_name: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom<unknown>('FAST', 'OVER') },
            { weight: 2, arbitrary: fc.constantFrom<unknown>('STOCKED', 'NOSUCH', 'fast') },
            { weight: 1, arbitrary: fc.constantFrom<unknown>('', 5) },
          ),
          // undefined: no user_id in the JSON sent.
          user_id: fc.oneof(
            { weight: 3, arbitrary: fc.constant<unknown>(undefined) },
            { weight: 4, arbitrary: fc.constantFrom<unknown>('fast_late', 'FAST_LATE', 'fast_holder', 'someone_else') },
            { weight: 1, arbitrary: fc.constantFrom<unknown>('', 7) },
          ),
          unknownField: fc.oneof({ weight: 7, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        },
        { requiredKeys: ['coupon_name', 'user_id', 'unknownField'] },
      )
      .map(({ unknownField, ...claim }) => (unknownField ? { ...claim, admin: true } : claim));
    // Valid tokens are drawn twice as often as all the bad ones together: most runs then reach the memory.
    const validNames = ['holder', 'late', 'late, lower-case scheme'];
    const valid = fc.constantFrom(...validNames);
    const invalid = fc.constantFrom(...Object.keys(headers).filter((name) => !validNames.includes(name)));
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: invalid }), body, async (token, claim) => {
        // The body as a client sent it before (so the fast path knows it is valid): through Nest,
        // with a valid token, which never grants here (both valid users hold or cannot get every coupon).
        await claimWith(plain, headers.late, claim);
        const throughHook = await claimWith(fast, headers[token], claim);
        const throughNest = await claimWith(plain, headers[token], claim);
        expect(throughHook.status).not.toBe(200);
        expect(throughHook.headers.get('x-request-id')).toBeTruthy();
        expect(answer(throughHook)).toEqual(answer(throughNest));
      }),
      { numRuns: PROPERTY_RUNS },
    );
    // The comparison was not vacuous: the hook answered many of them (measured with fc.sample over
    // 500 seeds: 23 of 120 on average, never fewer than 10), and is not even installed in `plain`.
    expect(fastPath.answered - fastBefore).toBeGreaterThanOrEqual(PROPERTY_RUNS / 20);
    expect(plainPath.answered).toBe(0);
    expect(await couponInvariants(fast, 'FAST')).toEqual({ amount: 1, remaining_amount: 0, rows: 1, distinct_users: 1 });
    expect(await couponInvariants(fast, 'STOCKED')).toEqual({ amount: 5, remaining_amount: 3, rows: 2, distinct_users: 2 });
  });

  it('a body it has never seen goes through Nest first, the same body again through the hook', async () => {
    // A spelling of the user's own name that the property above never sends.
    const body = { coupon_name: 'FAST', user_id: 'Fast_Late' };
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
    const post = (body: object, header?: string) => claimWith(fast, header, body);
    // Both bodies are sent once first, so the hook knows them as valid and would answer them if it could.
    const known = { coupon_name: 'FAST' };
    const mismatch = { coupon_name: 'FAST', user_id: 'someone_else' };
    for (const body of [known, mismatch]) await post(body, headers.late);
    const before = fastPath.answered;
    expect((await post(known)).body.code).toBe('UNAUTHORIZED');
    expect((await post(known, headers['not a JWT'])).body.code).toBe('TOKEN_INVALID');
    expect((await post(known, headers['late, signed with another secret'])).body.code).toBe('TOKEN_INVALID');
    expect((await post(known, headers["holder's claims under late's signature"])).body.code).toBe('TOKEN_INVALID');
    expect((await post(known, headers['late, expired'])).body.code).toBe('TOKEN_EXPIRED');
    expect((await post(known, headers['a deleted user'])).body.code).toBe('TOKEN_INVALID');
    expect((await post(mismatch, headers.late)).body.code).toBe('USER_MISMATCH');
    const extra = await post({ coupon_name: 'FAST', admin: true }, headers.late);
    expect([extra.status, extra.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await post({ coupon_name: 'NOSUCH' }, headers.late)).body.code).toBe('COUPON_NOT_FOUND');
    expect((await post({ coupon_name: 'NOSUCH' }, headers.late)).body.code).toBe('COUPON_NOT_FOUND');
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
    const onRoute = (key: string) => [...names(Reflect.getMetadata(key, ClaimsController)), ...names(Reflect.getMetadata(key, handler))];
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
      interceptors: [...globals(config.getGlobalInterceptors(), config.getGlobalRequestInterceptors()), ...onRoute(INTERCEPTORS_METADATA)],
      filters: [...globals(config.getGlobalFilters(), config.getGlobalRequestFilters()), ...onRoute(EXCEPTION_FILTERS_METADATA)],
    };
    expect(applied).toEqual({
      guards: [...FAST_PATH_APPLIES.guards],
      pipes: [...FAST_PATH_APPLIES.pipes],
      interceptors: [...FAST_PATH_APPLIES.interceptors],
      filters: [...FAST_PATH_APPLIES.filters],
    });
  });

  it("its hook and the hashing shedder's are hooks of their own routes only: every other route skips them", () => {
    const fastify = t.app.getHttpAdapter().getInstance() as FastifyInstance;
    // Fastify's own listing of each route's hooks: a route line, then a line per phase.
    const hooked: Record<string, string[]> = {};
    let route = '';
    for (const line of fastify.printRoutes({ includeHooks: true, commonPrefix: false }).split('\n')) {
      const phase = /• \((\w+)\) (\[.*\])/.exec(line);
      if (!phase) route = line.replace(/^[\s│├└─]+/, '');
      else
        for (const name of JSON.parse(phase[2]) as string[]) if (name !== 'anonymous()') (hooked[name] ??= []).push(`${route} ${phase[1]}`);
    }
    expect(hooked['answerSoldOutClaim()']).toEqual(['/claim (POST) preHandler']);
    expect(hooked['shedHashingLoad()']).toEqual(['/api/users/register (POST) onRequest', '/api/users/login (POST) onRequest']);
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

  it("a deeply nested body on a sold-out coupon still gets the controller's 400, never a 500", async () => {
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
