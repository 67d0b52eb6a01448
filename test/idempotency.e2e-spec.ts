import { Client } from 'pg';
import { ClaimFastPath } from '../src/claims/claim-fast-path';
import { IdempotencyPurge } from '../src/idempotency/idempotency-purge';
import { MARKER_TTL_MS } from '../src/idempotency/in-flight-keys';
import { ApiClient, ApiResponse } from './support/http-client';
import { TestApp, couponInvariants, sleep, startSiblingApp, startTestApp, untilSoldOutRemembered } from './support/test-app';

/** Sends of one key at once in the concurrency test: enough that some overlap the first one in flight. */
const SENDS_OF_ONE_KEY = 10;
/**
 * A claim waits on a coupon row held by the test longer than an in-flight marker lives unrenewed;
 * the row lock wait is raised above it (the order idle-in-transaction < lock < statement holds).
 */
const ROW_HOLD_MS = MARKER_TTL_MS + 500;
const TIMEOUTS = { DATABASE_LOCK_TIMEOUT_MS: ROW_HOLD_MS + 1000, DATABASE_STATEMENT_TIMEOUT_MS: ROW_HOLD_MS + 2000 };

const claimWithKey = (api: ApiClient, token: string, couponName: string, key: string, extra: Record<string, unknown> = {}) =>
  api.post('/api/coupons/claim', { coupon_name: couponName, ...extra }, { token, headers: { 'idempotency-key': key } });

const replayed = (res: ApiResponse) => res.headers.get('idempotent-replayed');

/**
 * Idempotency-Key on claims and coupon creation, with two API processes of one deployment
 * (one database, one Redis key prefix): replays, conflicts, the sold-out fast path, the purge.
 */
describe('Idempotency-Key', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: string;

  beforeAll(async () => {
    a = await startTestApp(TIMEOUTS);
    b = await startSiblingApp(a, TIMEOUTS);
    admin = await a.adminToken();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const keyRows = async (key: string) =>
    (await a.sql('SELECT user_id, status_code, response_body FROM idempotency_keys WHERE key = $1', [key])).length;

  it('a retried grant gets the first 200 again on the other process, replayed, and nothing new is written', async () => {
    await a.api.createCoupon(admin, 'REPLAY', 5);
    const token = await a.api.newUser('replayer');
    const first = await claimWithKey(a.api, token, 'REPLAY', 'grant-1');
    expect(first.status).toBe(200);
    expect(replayed(first)).toBeNull();
    const retry = await claimWithKey(b.api, token, 'REPLAY', 'grant-1');
    expect({ status: retry.status, text: retry.text, replayed: replayed(retry) }).toEqual({
      status: 200,
      text: first.text,
      replayed: 'true',
    });
    expect(await couponInvariants(a, 'REPLAY')).toMatchObject({ remaining_amount: 4, rows: 1 });
    // Without a key the contract is unchanged; with a new key it is a new request.
    expect((await b.api.claim(token, 'REPLAY')).body.code).toBe('ALREADY_CLAIMED');
    const fresh = await claimWithKey(b.api, token, 'REPLAY', 'grant-2');
    expect({ code: fresh.body.code, replayed: replayed(fresh) }).toEqual({ code: 'ALREADY_CLAIMED', replayed: null });
    // A decided refusal is kept too: the same key gets it again, replayed.
    const again = await claimWithKey(a.api, token, 'REPLAY', 'grant-2');
    expect({ status: again.status, body: again.body, replayed: replayed(again) }).toEqual({
      status: 409,
      body: fresh.body,
      replayed: 'true',
    });
  });

  it('through the sold-out fast path: the granted key replays its 200 (never ALREADY_CLAIMED), a refused key its SOLD_OUT', async () => {
    await a.api.createCoupon(admin, 'FASTKEY', 1);
    const winner = await a.api.newUser('fastkey_winner');
    const loser = await a.api.newUser('fastkey_loser');
    const granted = await claimWithKey(a.api, winner, 'FASTKEY', 'win');
    expect(granted.status).toBe(200);
    const refused = await claimWithKey(a.api, loser, 'FASTKEY', 'lose');
    expect(refused.body.code).toBe('SOLD_OUT');
    // The other process learns the sell-out from a claim of its own.
    expect((await b.api.claim(loser, 'FASTKEY')).body.code).toBe('SOLD_OUT');
    await untilSoldOutRemembered(a, 'FASTKEY');
    await untilSoldOutRemembered(b, 'FASTKEY');
    for (const t of [a, b]) {
      const fastPath = t.app.get(ClaimFastPath);
      const before = fastPath.answered;
      const win = await claimWithKey(t.api, winner, 'FASTKEY', 'win');
      expect({ status: win.status, body: win.body, replayed: replayed(win) }).toEqual({
        status: 200,
        body: granted.body,
        replayed: 'true',
      });
      const lose = await claimWithKey(t.api, loser, 'FASTKEY', 'lose');
      expect({ status: lose.status, body: lose.body, replayed: replayed(lose) }).toEqual({
        status: 409,
        body: refused.body,
        replayed: 'true',
      });
      expect(fastPath.answered - before).toBe(2); // both answered before Nest's pipeline
    }
    // A fresh key on the fast path: the refusal is kept, so its retry is a replay.
    const fresh = await claimWithKey(b.api, loser, 'FASTKEY', 'lose-2');
    expect({ code: fresh.body.code, replayed: replayed(fresh) }).toEqual({ code: 'SOLD_OUT', replayed: null });
    expect(replayed(await claimWithKey(a.api, loser, 'FASTKEY', 'lose-2'))).toBe('true');
    expect(await couponInvariants(a, 'FASTKEY')).toMatchObject({ remaining_amount: 0, rows: 1 });
  });

  it('the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, on both paths, and nothing is written', async () => {
    await a.api.createCoupon(admin, 'REUSE_A', 3);
    await a.api.createCoupon(admin, 'REUSE_B', 3);
    const token = await a.api.newUser('reuser');
    expect((await claimWithKey(a.api, token, 'REUSE_A', 'k')).status).toBe(200);
    const other = await claimWithKey(b.api, token, 'REUSE_B', 'k');
    expect({ status: other.status, code: other.body.code }).toEqual({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    const withUserId = await claimWithKey(a.api, token, 'REUSE_A', 'k', { user_id: 'reuser' });
    expect(withUserId.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await couponInvariants(a, 'REUSE_B')).toMatchObject({ remaining_amount: 3, rows: 0 });
  });

  it("a key belongs to its user: another user's equal key is another key", async () => {
    await a.api.createCoupon(admin, 'TWOUSERS', 3);
    const first = await claimWithKey(a.api, await a.api.newUser('keyowner_1'), 'TWOUSERS', 'same-key');
    const second = await claimWithKey(b.api, await a.api.newUser('keyowner_2'), 'TWOUSERS', 'same-key');
    expect([first.status, second.status, replayed(second)]).toEqual([200, 200, null]);
    expect(second.body.user_id).toBe('keyowner_2');
    expect(await couponInvariants(a, 'TWOUSERS')).toMatchObject({ rows: 2 });
  });

  it('ten sends of one key across two processes: one row; every answer the one 200 or 409 IDEMPOTENCY_KEY_IN_USE', async () => {
    await a.api.createCoupon(admin, 'TENSENDS', 5);
    const token = await a.api.newUser('tensends');
    const answers = await Promise.all(
      Array.from({ length: SENDS_OF_ONE_KEY }, (_, i) => claimWithKey(i % 2 ? b.api : a.api, token, 'TENSENDS', 'ten')),
    );
    const granted = answers.filter((r) => r.status === 200);
    const busy = answers.filter((r) => r.status === 409);
    expect(granted.length + busy.length).toBe(SENDS_OF_ONE_KEY);
    expect(granted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(granted.map((r) => r.text)).size).toBe(1); // byte for byte
    for (const r of busy) {
      expect(r.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
      expect(r.headers.get('retry-after')).toBeTruthy();
    }
    expect(await couponInvariants(a, 'TENSENDS')).toMatchObject({ remaining_amount: 4, rows: 1 });
    expect(await keyRows('ten')).toBe(1);
  });

  it('while the first request is in flight the same key gets 409 IDEMPOTENCY_KEY_IN_USE with Retry-After, then the first answer', async () => {
    await a.api.createCoupon(admin, 'INFLIGHT', 3);
    const token = await a.api.newUser('inflight');
    // A session outside the service holds the coupon row, so the first claim waits in its batch.
    const holder = new Client({ connectionString: a.config.DATABASE_URL });
    await holder.connect();
    let first: Promise<ApiResponse>;
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT id FROM coupons WHERE name = 'INFLIGHT' FOR UPDATE");
      first = claimWithKey(a.api, token, 'INFLIGHT', 'slow');
      await sleep(300); // the first request is marked in flight and waits on the row
      const second = await claimWithKey(b.api, token, 'INFLIGHT', 'slow');
      expect({ status: second.status, code: second.body.code }).toEqual({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' });
      expect(['1', '2']).toContain(second.headers.get('retry-after'));
      // Past a marker's unrenewed lifetime: the process renews the marker of a request still running.
      await sleep(ROW_HOLD_MS - 300);
      expect((await claimWithKey(b.api, token, 'INFLIGHT', 'slow')).body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    const answer = await first!;
    expect(answer.status).toBe(200);
    const retry = await claimWithKey(b.api, token, 'INFLIGHT', 'slow');
    expect({ body: retry.body, replayed: replayed(retry) }).toEqual({ body: answer.body, replayed: 'true' });
  });

  it('answers that decided nothing are not kept: after 404 the same key runs afresh; a malformed key is 400', async () => {
    const token = await a.api.newUser('notkept');
    const missing = await claimWithKey(a.api, token, 'LATER', 'early');
    expect(missing.body.code).toBe('COUPON_NOT_FOUND');
    expect(await keyRows('early')).toBe(0);
    await a.api.createCoupon(admin, 'LATER', 1);
    const later = await claimWithKey(b.api, token, 'LATER', 'early');
    expect({ status: later.status, replayed: replayed(later) }).toEqual({ status: 200, replayed: null });
    for (const bad of ['x'.repeat(256), 'caf\u00e9', '']) {
      const res = await a.api.post('/api/coupons/claim', { coupon_name: 'LATER' }, { token, headers: { 'idempotency-key': bad } });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    }
  });

  it('coupon creation: the retry gets the first 201, replayed; another body 422; no key is the old contract', async () => {
    const create = (api: ApiClient, body: object, key?: string) =>
      api.post('/api/coupons', body, { token: admin, headers: key ? { 'idempotency-key': key } : {} });
    const first = await create(a.api, { name: 'MADEONCE', amount: 10 }, 'create-1');
    expect(first.status).toBe(201);
    const retry = await create(b.api, { name: 'MADEONCE', amount: 10 }, 'create-1');
    expect({ status: retry.status, text: retry.text, replayed: replayed(retry) }).toEqual({
      status: 201,
      text: first.text,
      replayed: 'true',
    });
    expect((await create(a.api, { name: 'MADEONCE', amount: 10 })).body.code).toBe('COUPON_EXISTS');
    expect((await create(a.api, { name: 'MADEONCE', amount: 11 }, 'create-1')).body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // A refusal is kept: the same key keeps answering COUPON_EXISTS, replayed.
    const exists = await create(a.api, { name: 'MADEONCE', amount: 10 }, 'create-2');
    expect(exists.body.code).toBe('COUPON_EXISTS');
    expect(replayed(await create(b.api, { name: 'MADEONCE', amount: 10 }, 'create-2'))).toBe('true');
  });

  it('keys older than IDEMPOTENCY_KEY_TTL_SECONDS are purged; the same key then runs afresh', async () => {
    await a.api.createCoupon(admin, 'PURGED', 3);
    const token = await a.api.newUser('purged');
    expect((await claimWithKey(a.api, token, 'PURGED', 'old')).status).toBe(200);
    expect((await claimWithKey(a.api, await a.api.newUser('purge_young'), 'PURGED', 'young')).status).toBe(200);
    await a.sql(`UPDATE idempotency_keys SET created_at = now() - make_interval(secs => $1 + 1) WHERE key = 'old'`, [
      a.config.IDEMPOTENCY_KEY_TTL_SECONDS,
    ]);
    expect(await a.app.get(IdempotencyPurge).purge()).toBeGreaterThanOrEqual(1);
    expect(await keyRows('old')).toBe(0);
    const afresh = await claimWithKey(b.api, token, 'PURGED', 'old');
    expect({ code: afresh.body.code, replayed: replayed(afresh) }).toEqual({ code: 'ALREADY_CLAIMED', replayed: null });
    // Keys younger than the TTL stay.
    expect(await keyRows('young')).toBe(1);
  });
});
