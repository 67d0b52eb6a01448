import { databaseSnapshot, withDatabase } from '../../harness/database-checks';
import { lockRowUntilQueuedBehind, sleep } from '../../harness/fault-probes';
import { faultScenario } from '../../harness/fault-sale';

/** How long the test waits for a service transaction to queue behind its row lock before it cuts anyway. */
const QUEUED_BEHIND_WITHIN_MS = 2000;
/** Between rounds: the service reconnects and claims flow again, so the next round cuts live transactions, not a stalled pool. */
const BETWEEN_ROUNDS_MS = 200;

export const SCENARIO_6 = faultScenario(6, "PostgreSQL connections cut mid-sale (pg_terminate_backend of the service's sessions)", {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'every-200-is-a-row',
  faultAt: 0.05,
  // No row without a 200: a session cut while its COMMIT was under way is looked up
  // (ClaimsRepository.confirmCommit), so a claim that committed is answered 200, never 503.
  fault: async (sale) => {
    // The test holds the coupon row first, so the service's settles are waiting inside their
    // transactions when their sessions are cut: a cut that only hit idle pooled connections
    // would test nothing a client can see.
    let terminated = 0;
    await withDatabase(sale.group.databaseUrl, async (db) => {
      for (let i = 0; i < 3; i++) {
        await db.query('BEGIN');
        // Cut only once a service transaction is queued behind our row lock (at most QUEUED_BEHIND_WITHIN_MS):
        // a fixed pause could let a fast sale slip past, and then the cut tests nothing.
        await lockRowUntilQueuedBehind(db, sale.couponName, QUEUED_BEHIND_WITHIN_MS);
        const { rows } = await db.query(
          `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'flash-sale-coupons' AND pid <> pg_backend_pid()`,
        );
        await db.query('COMMIT');
        terminated += rows.filter((r: { done: boolean }) => r.done).length;
        await sleep(BETWEEN_ROUNDS_MS);
      }
    });
    sale.check('service sessions were terminated', terminated > 0, `${terminated} sessions terminated`);
    sale.note(
      `3 rounds: the test holds the coupon row until a service transaction waits on it, then terminates every service session (${terminated} in all)`,
    );
  },
  after: async (sale, run) => {
    const db = await databaseSnapshot(sale.group.databaseUrl, sale.couponName);
    sale.check('recovered by itself: the stock sold out', db?.remaining_amount === 0, `remaining ${db?.remaining_amount}`);
    const unavailable = (run.retryableSeen.DATABASE_UNAVAILABLE ?? 0) + run.records.filter((r) => r.code === 'DATABASE_UNAVAILABLE').length;
    sale.check('clients were told 503 DATABASE_UNAVAILABLE', unavailable > 0, `${unavailable} answers were 503 DATABASE_UNAVAILABLE`);
  },
});
