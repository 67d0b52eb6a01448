import { Client } from 'pg';
import { dropDatabase, withDatabase } from '../harness/database-checks';
import { couponLockError } from '../src/lock/coupon-lock';
import { databaseUrl, isolatedNames } from './support/test-app';

/**
 * Row-lock conflicts that PostgreSQL itself ends (it rolls the transaction back, so nothing was
 * written) are a busy coupon, retryable, never a 500: a real deadlock and a real lock_timeout,
 * raised by two sessions of a throwaway database.
 */
describe('row-lock conflicts from PostgreSQL', () => {
  const { database } = isolatedNames();
  const url = databaseUrl(database);
  const sessions: Client[] = [];

  beforeAll(async () => {
    await withDatabase(databaseUrl('postgres'), (db) => db.query(`CREATE DATABASE "${database}"`));
    await withDatabase(url, (db) => db.query(`CREATE TABLE rows_ (id int PRIMARY KEY); INSERT INTO rows_ VALUES (1), (2)`));
    for (let i = 0; i < 2; i++) {
      const session = new Client({ connectionString: url });
      await session.connect();
      sessions.push(session);
    }
  });

  afterAll(async () => {
    for (const session of sessions) await session.end().catch(() => undefined);
    await dropDatabase(url);
  });

  afterEach(async () => {
    for (const session of sessions) await session.query('ROLLBACK').catch(() => undefined);
  });

  /** Runs `sql` on `session`, resolving with the error it raised (or null). */
  const errorOf = (session: Client, sql: string) =>
    session.query(sql).then(
      () => null,
      (error: unknown) => error,
    );

  it('a deadlock is LOCK_BUSY', async () => {
    const [a, b] = sessions;
    await a.query('BEGIN; SET LOCAL deadlock_timeout = 50; SELECT 1 FROM rows_ WHERE id = 1 FOR UPDATE');
    await b.query('BEGIN; SET LOCAL deadlock_timeout = 50; SELECT 1 FROM rows_ WHERE id = 2 FOR UPDATE');
    const errors = await Promise.all([
      errorOf(a, 'SELECT 1 FROM rows_ WHERE id = 2 FOR UPDATE'),
      errorOf(b, 'SELECT 1 FROM rows_ WHERE id = 1 FOR UPDATE'),
    ]);
    const deadlock = errors.find((error) => error !== null);
    expect((deadlock as { code?: string }).code).toBe('40P01');
    expect(couponLockError(deadlock, 'FLASH50')?.code).toBe('LOCK_BUSY');
  });

  it('a lock_timeout is LOCK_BUSY, another database error is not a lock conflict', async () => {
    const [a, b] = sessions;
    await a.query('BEGIN; SELECT 1 FROM rows_ WHERE id = 1 FOR UPDATE');
    await b.query('BEGIN; SET LOCAL lock_timeout = 50');
    const timeout = await errorOf(b, 'SELECT 1 FROM rows_ WHERE id = 1 FOR UPDATE');
    expect((timeout as { code?: string }).code).toBe('55P03');
    expect(couponLockError(timeout, 'FLASH50')?.code).toBe('LOCK_BUSY');
    const duplicate = await errorOf(a, 'INSERT INTO rows_ VALUES (2)');
    expect((duplicate as { code?: string }).code).toBe('23505');
    expect(couponLockError(duplicate, 'FLASH50')).toBeNull();
  });
});
