import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { LockService } from '../src/lock/lock.service';
import { logSink } from './support/log-sink';
import { TestApp, couponInvariants, sleep, startTestApp } from './support/test-app';

/**
 * Routes the COMMIT of every query runner made from now on through `commit(send)` (the claim
 * transaction sends its own COMMIT: claims.repository.ts settleCoupons); restore with spy.mockRestore().
 */
function onCommit(dataSource: DataSource, commit: (send: () => Promise<unknown>) => Promise<unknown>) {
  const createQueryRunner = dataSource.createQueryRunner.bind(dataSource);
  let commits = 0;
  const spy = jest.spyOn(dataSource, 'createQueryRunner').mockImplementation((...args) => {
    const runner = createQueryRunner(...args);
    const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<any>;
    runner.query = async (sql: string, ...rest: unknown[]) => {
      if (sql !== 'COMMIT') return query(sql, ...rest);
      commits++;
      return commit(() => query(sql, ...rest));
    };
    return runner;
  });
  return { spy, commits: () => commits };
}

/**
 * A process that stalls inside a claim transaction (frozen, paused, cut off) and what it may
 * answer afterwards; the multi-process versions are fault scenarios 9, 10 and 13.
 */
describe('a claim transaction whose process stalls', () => {
  let t: TestApp;
  let admin: string;
  const logs = logSink();
  beforeAll(async () => {
    t = await startTestApp(
      {
        DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 300,
        DATABASE_LOCK_TIMEOUT_MS: 600,
        DATABASE_STATEMENT_TIMEOUT_MS: 2000,
        LOCK_TTL_MS: 1000,
        LOG_LEVEL: 'warn',
      },
      { logDestination: logs.stream },
    );
    admin = await t.adminToken();
  });
  afterAll(() => t.close());

  it('its session ended by PostgreSQL before COMMIT: 503 DATABASE_UNAVAILABLE, no row, stock untouched', async () => {
    await t.api.createCoupon(admin, 'STALLED', 1);
    const token = await t.api.newUser('stalled');
    // The process stalls between its last statement and COMMIT, longer than the idle-in-
    // transaction timeout (as a SIGSTOP would make it): PostgreSQL ends the session, the
    // COMMIT then meets a dead connection and the repository looks for the claim.
    const stalled = onCommit(t.app.get(DataSource), async (send) => {
      await sleep(1000);
      return send();
    });
    const claim = await t.api.claim(token, 'STALLED');
    stalled.spy.mockRestore();
    expect(stalled.commits()).toBe(1);
    expect({ status: claim.status, code: claim.body.code }).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE' });
    expect(claim.headers.get('retry-after')).toBeTruthy();
    expect(await couponInvariants(t, 'STALLED')).toMatchObject({ remaining_amount: 1, rows: 0 });
    // Nothing changed, so the retry is an ordinary claim.
    expect((await t.api.claim(token, 'STALLED')).status).toBe(200);
  });

  it('its COMMIT unanswered while the server is still committing: the answer waits for that session to end, so a 503 is never followed by a late commit', async () => {
    await t.api.createCoupon(admin, 'SLOWCOMMIT', 1);
    const token = await t.api.newUser('slowcommit');
    const dataSource = t.app.get(DataSource);
    // The server takes 1 s to commit (a deferred trigger stands in for a slow disk or an absent
    // synchronous standby), and the client hears nothing: the link "drops" 100 ms after COMMIT.
    await dataSource.query(
      `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`,
    );
    await dataSource.query(
      'CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON user_claims DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()',
    );
    const unanswered = onCommit(dataSource, async (send) => {
      void send().catch(() => undefined);
      await sleep(100);
      throw new Error('Connection terminated unexpectedly');
    });
    let claim;
    try {
      claim = await t.api.claim(token, 'SLOWCOMMIT');
    } finally {
      unanswered.spy.mockRestore();
      await sleep(1500); // past the trigger's second: a commit still under way would have landed
      await dataSource.query('DROP TRIGGER slow_commit ON user_claims; DROP FUNCTION slow_commit()');
    }
    expect(unanswered.commits()).toBe(1);
    const rows = (await couponInvariants(t, 'SLOWCOMMIT')).rows;
    // Either answer may be true, but it must be the true one: 200 with the row, or 503 without.
    expect({ status: claim.status, rows }).toEqual(claim.status === 200 ? { status: 200, rows: 1 } : { status: 503, rows: 0 });
  });

  it('queued behind a row held past DATABASE_LOCK_TIMEOUT_MS: 503 LOCK_BUSY with Retry-After, nothing written', async () => {
    await t.api.createCoupon(admin, 'ROWHELD', 3);
    const token = await t.api.newUser('queued');
    // A session without the service's timeouts holds the coupon row, like an operator's psql.
    const holder = new Client({ connectionString: t.config.DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM coupons WHERE name = $1 FOR UPDATE', ['ROWHELD']);
      const started = Date.now();
      const claim = await t.api.claim(token, 'ROWHELD');
      const elapsed = Date.now() - started;
      expect({ status: claim.status, code: claim.body.code }).toEqual({ status: 503, code: 'LOCK_BUSY' });
      expect(claim.headers.get('retry-after')).toBeTruthy();
      expect(elapsed).toBeLessThan(2000); // the lock wait ended it, not the statement timeout
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    expect(await couponInvariants(t, 'ROWHELD')).toMatchObject({ remaining_amount: 3, rows: 0 });
    expect((await t.api.claim(token, 'ROWHELD')).status).toBe(200);
  });

  it('no lease is trusted past its real expiry when the wall clock jumps back', async () => {
    const lock = t.app.get(LockService);
    const realNow = Date.now;
    let jumped: jest.SpyInstance | undefined;
    try {
      await lock.withLock('clock-jump-test', async () => {
        // NTP steps the wall clock back 30 s (and it stays so) while the work runs past the 1 s lease.
        jumped = jest.spyOn(Date, 'now').mockImplementation(() => realNow() - 30_000);
        await sleep(1300);
      });
    } finally {
      jumped?.mockRestore();
    }
    // The lease is judged lost, so the process knows it worked unlocked (the database fence decided).
    await sleep(50); // the log stream writes once per event-loop turn
    expect(logs.lines.filter((line) => line.includes('lock on clock-jump-test was lost (lease expired)'))).toHaveLength(1);
  });
});
