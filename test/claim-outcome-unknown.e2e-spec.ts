import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { TcpProxy } from '../harness/tcp-proxy';
import { ApiResponse } from './support/http-client';
import { TestApp, couponInvariants, databaseUrl, isolatedNames, sleep, startSiblingApp, startTestApp } from './support/test-app';

const replayed = (res: ApiResponse) => res.headers.get('idempotent-replayed');

/** The committed claimed_at as the API writes it (milliseconds, ISO 8601). */
async function committedClaimedAt(t: TestApp, couponName: string): Promise<string[]> {
  const rows = await t.sql<{ claimed_at: Date }>(
    'SELECT uc.claimed_at FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id WHERE c.name = $1',
    [couponName],
  );
  return rows.map((row) => row.claimed_at.toISOString());
}

/**
 * A COMMIT that reaches PostgreSQL and commits while its answer is lost, and the service cannot
 * learn the outcome: 503 CLAIM_OUTCOME_UNKNOWN, and a retry with the same key tells the truth.
 */
describe('a claim whose commit outcome cannot be learned', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    proxy = await TcpProxy.start('127.0.0.1', 5432);
    const { database } = isolatedNames();
    t = await startTestApp({
      DATABASE_URL: databaseUrl(database, `postgres://postgres@127.0.0.1:${proxy.port}/postgres`),
      DATABASE_CONNECT_TIMEOUT_MS: 500,
      HEALTH_TIMEOUT_MS: 500,
    });
    admin = await t.adminToken();
  });
  afterAll(async () => {
    proxy.set('forward');
    await t.close();
    await proxy.close();
  });

  it('COMMIT delivered and committed, its answer dropped, connections refused: CLAIM_OUTCOME_UNKNOWN; the retry with the same key is the committed 200', async () => {
    await t.api.createCoupon(admin, 'LATECOMMIT', 2);
    const token = await t.api.newUser('latecommit');
    // The claim transaction's COMMIT reaches PostgreSQL; then every link is cut and new ones are
    // refused until this test lets them through, past the service's confirmation window.
    // The query text ends with a NUL: BEGIN ISOLATION LEVEL READ COMMITTED\0 does not match.
    proxy.cutAfterClientSends('COMMIT\u0000');
    let first: ApiResponse;
    try {
      first = await t.api.post('/api/coupons/claim', { coupon_name: 'LATECOMMIT' }, { token, headers: { 'idempotency-key': 'late-1' } });
    } finally {
      proxy.set('forward');
    }
    expect({ status: first.status, code: first.body.code }).toEqual({ status: 503, code: 'CLAIM_OUTCOME_UNKNOWN' });
    expect(first.headers.get('retry-after')).toBeTruthy();
    // It did commit, exactly once.
    const committed = await committedClaimedAt(t, 'LATECOMMIT');
    expect(committed).toHaveLength(1);
    const retry = await t.api.post(
      '/api/coupons/claim',
      { coupon_name: 'LATECOMMIT' },
      { token, headers: { 'idempotency-key': 'late-1' } },
    );
    expect({ status: retry.status, claimed_at: retry.body.claimed_at, replayed: replayed(retry) }).toEqual({
      status: 200,
      claimed_at: committed[0],
      replayed: 'true',
    });
    expect(await couponInvariants(t, 'LATECOMMIT')).toEqual({ amount: 2, remaining_amount: 1, rows: 1, distinct_users: 1 });
  });

  it('COMMIT delivered and committed, its answer dropped, the database reachable: the grant and the refusal are answered as committed, their keys counted', async () => {
    await t.api.createCoupon(admin, 'LANDED', 5);
    const token = await t.api.newUser('landed');
    const headers = (key: string) => ({ 'idempotency-key': key });
    // Only the link that sent the COMMIT goes: the service reconnects, finds its rows and keys.
    proxy.cutAfterClientSends('COMMIT\u0000', false);
    const granted = await t.api.post('/api/coupons/claim', { coupon_name: 'LANDED' }, { token, headers: headers('landed-1') });
    expect(granted.status).toBe(200);
    expect(granted.body.claimed_at).toBe((await committedClaimedAt(t, 'LANDED'))[0]);
    // A batch of one refusal, its key the only row it wrote.
    proxy.cutAfterClientSends('COMMIT\u0000', false);
    const refused = await t.api.post('/api/coupons/claim', { coupon_name: 'LANDED' }, { token, headers: headers('landed-2') });
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 409, code: 'ALREADY_CLAIMED' });
    const kept = await t.sql<{ key: string; status_code: number }>(
      "SELECT key, status_code FROM idempotency_keys WHERE key LIKE 'landed-%' ORDER BY key",
    );
    expect(kept).toEqual([
      { key: 'landed-1', status_code: 200 },
      { key: 'landed-2', status_code: 409 },
    ]);
  });

  it('a batch of refusals alone whose COMMIT never landed: 503 DATABASE_UNAVAILABLE, not a refusal its key does not hold', async () => {
    await t.api.createCoupon(admin, 'LOSTREFUSAL', 5);
    const token = await t.api.newUser('lostrefusal');
    expect((await t.api.post('/api/coupons/claim', { coupon_name: 'LOSTREFUSAL' }, { token })).status).toBe(200);
    // The second claim is refused in its batch (ALREADY_CLAIMED: the coupon still sells, so no
    // memory answers it); the transaction writes only its key, and its COMMIT is never delivered.
    proxy.cutBeforeClientSends('COMMIT\u0000');
    const headers = { 'idempotency-key': 'lost-refusal-1' };
    const first = await t.api.post('/api/coupons/claim', { coupon_name: 'LOSTREFUSAL' }, { token, headers });
    expect({ status: first.status, code: first.body.code }).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE' });
    expect(await t.sql('SELECT 1 FROM idempotency_keys WHERE key = $1', ['lost-refusal-1'])).toHaveLength(0);
    // Nothing changed, so the retry runs afresh and its answer is kept.
    const retry = await t.api.post('/api/coupons/claim', { coupon_name: 'LOSTREFUSAL' }, { token, headers });
    expect({ status: retry.status, code: retry.body.code, replayed: replayed(retry) }).toEqual({
      status: 409,
      code: 'ALREADY_CLAIMED',
      replayed: null,
    });
    expect(await t.sql('SELECT status_code FROM idempotency_keys WHERE key = $1', ['lost-refusal-1'])).toEqual([{ status_code: 409 }]);
  });
});

describe('a claim whose session may not be ended (pg_terminate_backend refused)', () => {
  let t: TestApp;
  let limited: TestApp;
  let admin: string;
  const role = `idem_limited_${process.pid}_${Date.now().toString(36)}`;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    // A role that owns no superuser right and may not call pg_terminate_backend in this database
    // (as with a managed PostgreSQL, or PgBouncer in front); a second process connects as it.
    await t.sql(`CREATE ROLE ${role} LOGIN`);
    await t.sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await t.sql(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    await t.sql('REVOKE EXECUTE ON FUNCTION pg_terminate_backend(integer, bigint) FROM PUBLIC');
    const url = new URL(t.config.DATABASE_URL);
    url.username = role;
    limited = await startSiblingApp(t, { DATABASE_URL: url.toString(), MIGRATIONS_RUN: false, DATABASE_CREATE_IF_MISSING: false });
  });
  afterAll(async () => {
    await limited.close();
    await t.close();
    const admin = new Client({ connectionString: databaseUrl('postgres') });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  });

  it('its COMMIT unanswered while the server still commits: 503 CLAIM_OUTCOME_UNKNOWN (not 500); the retry with the same key is the committed 200', async () => {
    await t.api.createCoupon(admin, 'NOTERMINATE', 1);
    const token = await t.api.newUser('noterminate');
    // The server takes a second to commit (a deferred trigger stands in for a slow disk), and the
    // client stops listening 100 ms after sending COMMIT: the session is still there to be ended.
    await t.sql(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`);
    await t.sql(
      'CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON user_claims DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()',
    );
    const dataSource = limited.app.get(DataSource);
    const createQueryRunner = dataSource.createQueryRunner.bind(dataSource);
    const spy = jest.spyOn(dataSource, 'createQueryRunner').mockImplementation((...args) => {
      const runner = createQueryRunner(...args);
      const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<any>;
      runner.query = async (sql: string, ...rest: unknown[]) => {
        if (sql !== 'COMMIT') return query(sql, ...rest);
        void query(sql, ...rest).catch(() => undefined);
        await sleep(100);
        throw new Error('Connection terminated unexpectedly');
      };
      return runner;
    });
    let first: ApiResponse;
    try {
      first = await limited.api.post(
        '/api/coupons/claim',
        { coupon_name: 'NOTERMINATE' },
        { token, headers: { 'idempotency-key': 'nt-1' } },
      );
    } finally {
      spy.mockRestore();
      await sleep(1500); // past the trigger's second: the commit under way has landed
      await t.sql('DROP TRIGGER slow_commit ON user_claims; DROP FUNCTION slow_commit()');
    }
    expect({ status: first.status, code: first.body.code }).toEqual({ status: 503, code: 'CLAIM_OUTCOME_UNKNOWN' });
    const committed = await committedClaimedAt(t, 'NOTERMINATE');
    expect(committed).toHaveLength(1);
    const retry = await limited.api.post(
      '/api/coupons/claim',
      { coupon_name: 'NOTERMINATE' },
      { token, headers: { 'idempotency-key': 'nt-1' } },
    );
    expect({ status: retry.status, claimed_at: retry.body.claimed_at, replayed: replayed(retry) }).toEqual({
      status: 200,
      claimed_at: committed[0],
      replayed: 'true',
    });
  });
});
