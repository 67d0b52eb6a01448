import { Client } from 'pg';
import { CheckResult } from './check-result';

/** What the database holds for one coupon: the numbers the three promises are judged on. */
export interface DatabaseSnapshot {
  amount: number;
  remaining_amount: number;
  rows: number;
  distinct_users: number;
}

/** A coupon's amount, stock, claim rows and distinct holders, by coupon name ($1). */
export const DATABASE_SNAPSHOT_SQL = `SELECT c.amount, c.remaining_amount,
       (SELECT count(*)::int FROM user_claims uc WHERE uc.coupon_id = c.id) AS rows,
       (SELECT count(DISTINCT user_id)::int FROM user_claims uc WHERE uc.coupon_id = c.id) AS distinct_users
  FROM coupons c WHERE c.name = $1`;

/** Runs `work` on its own connection to `url`, closed afterwards whatever happens. */
export async function withDatabase<T>(url: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** The coupon's snapshot, or null when no coupon has that name. */
export async function databaseSnapshot(url: string, couponName: string): Promise<DatabaseSnapshot | null> {
  return withDatabase(url, async (db) => (await db.query(DATABASE_SNAPSHOT_SQL, [couponName])).rows[0] ?? null);
}

/** Usernames holding a claim row of the coupon. */
export async function holdersOf(url: string, couponName: string): Promise<string[]> {
  return withDatabase(url, async (db) => {
    const { rows } = await db.query(
      `SELECT u.username FROM user_claims uc JOIN users u ON u.id = uc.user_id JOIN coupons c ON c.id = uc.coupon_id WHERE c.name = $1`,
      [couponName],
    );
    return rows.map((r: { username: string }) => r.username);
  });
}

/** remaining = amount - rows, rows <= amount, no user twice: what must hold after any sale, fault or not. */
export function invariantCheck(d: DatabaseSnapshot): CheckResult {
  return {
    name: 'database invariants: remaining = amount - rows, rows <= amount, no user twice',
    passed: d.remaining_amount === d.amount - d.rows && d.rows <= d.amount && d.distinct_users === d.rows,
    detail: `amount ${d.amount}, remaining ${d.remaining_amount}, rows ${d.rows}, distinct users ${d.distinct_users}`,
  };
}

/** Drops the database `url` names, through the `postgres` maintenance database of the same server. */
export async function dropDatabase(url: string): Promise<void> {
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  await withDatabase(maintenance.toString(), async (db) => {
    await db.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
  });
}
