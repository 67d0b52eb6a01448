import { withDatabase } from '../../harness/database-checks';
import { LOCK_LOST, lockRowUntilQueuedBehind, sleep } from '../../harness/fault-probes';
import { faultScenario } from '../../harness/fault-sale';

/** The lease under test: far below a transaction that waits on the test's row lock. */
const LEASE_MS = 100;
/** How long the test waits for a service batch to queue behind its row lock (a batch runs every few milliseconds in a live sale). */
const QUEUED_BEHIND_WITHIN_MS = 3000;
/** How long the row stays held once a batch waits behind it: 4 leases, so the waiting batch's lease surely expires. */
const HOLD_PAST_LEASE_MS = 400;
/** Between holds: batches get through, so the sale goes on between the expiries. */
const BETWEEN_HOLDS_MS = 100;

export const SCENARIO_5 = faultScenario(5, 'Lock TTL far below the transaction time (leases expire mid-transaction)', {
  // The row must be held while claims still reach a batch, but the fault starts only at a
  // progress tick (every 200 ms). 1,000 users / 300 stock could sell out before that (1 run in
  // 6 saw no lease expire); 3,000 / 3,000 keeps the sale going for well over a second.
  processes: 2,
  redisNodes: 3,
  users: 3000,
  stock: 3000,
  expect: 'exact',
  faultAt: 0.05,
  env: { LOCK_TTL_MS: String(LEASE_MS) },
  fault: async (sale) => {
    // The test's own transaction holds the coupon row, so the service's settle waits
    // past the 100 ms lease and a second process takes the expired lock meanwhile.
    // Each hold lasts until a service batch is seen queued behind it (not a lucky sleep: a hold
    // that fell between batches once left no lease to expire), then 400 ms more.
    let caught = 0;
    await withDatabase(sale.group.databaseUrl, async (db) => {
      for (let i = 0; i < 4; i++) {
        await db.query('BEGIN');
        if (await lockRowUntilQueuedBehind(db, sale.couponName, QUEUED_BEHIND_WITHIN_MS)) caught++;
        await sleep(HOLD_PAST_LEASE_MS);
        await db.query('COMMIT');
        await sleep(BETWEEN_HOLDS_MS);
      }
    });
    sale.note(
      `LOCK_TTL_MS=100; the coupon row held FOR UPDATE by the test 4 times, ${caught} of them with a batch seen waiting, then 400 ms more`,
    );
  },
  after: async (sale) => {
    const lost = sale.group.processes.reduce((sum, p) => sum + p.count(LOCK_LOST), 0);
    sale.check('the log says the lock was lost', lost > 0, `${lost} "lock ... was lost (lease expired)" warnings`);
    sale.note(`${lost} lock-lost warnings in the logs`);
  },
});
