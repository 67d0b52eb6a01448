import { Client } from 'pg';
import { FaultScenario, SaleContext, runFaultSale } from '../../harness/fault-sale';
import { checkKeyedClaims } from '../../harness/idempotency-checks';
import { localTcpPortsOf } from '../../harness/process-sockets';

const ID = 14;
const TITLE = 'Clients retrying with an Idempotency-Key through an API process SIGKILLed mid-batch';
/** How long to look for a moment when the doomed process is inside a claim transaction. */
const MID_BATCH_WITHIN_MS = 5000;

/** Whether one of `pid`'s PostgreSQL sessions is inside a claim transaction holding the coupon row. */
async function insideClaimTransaction(db: Client, pid: number): Promise<boolean> {
  const ports = [...localTcpPortsOf(pid)];
  const { rows } = await db.query(
    `SELECT 1 FROM pg_stat_activity a
      WHERE a.client_port = ANY($1::int[]) AND a.application_name = 'flash-sale-coupons'
        AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted
                       AND l.relation = 'coupons'::regclass AND l.mode = 'RowShareLock')`,
    [ports],
  );
  return rows.length > 0;
}

/** SIGKILLs API process 3 of 3 as soon as it is seen inside a claim transaction (else at the deadline). */
async function killMidBatch(sale: SaleContext): Promise<void> {
  const doomed = sale.group.processes[2];
  const db = new Client({ connectionString: sale.group.databaseUrl });
  await db.connect();
  let midBatch = false;
  try {
    const deadline = Date.now() + MID_BATCH_WITHIN_MS;
    while (!midBatch && Date.now() < deadline) midBatch = await insideClaimTransaction(db, doomed.pid);
  } finally {
    await db.end();
  }
  doomed.signal('SIGKILL');
  await doomed.exited;
  // As a load balancer would once its health checks fail: retries (and the checks after the
  // sale) go to the two that live. Requests sent meanwhile were refused and retried.
  sale.http.setInRotation(doomed.url, false);
  sale.check(
    'the kill landed mid-batch (a claim transaction of the process held the coupon row)',
    midBatch,
    midBatch ? 'seen in pg_stat_activity and pg_locks' : `not seen within ${MID_BATCH_WITHIN_MS} ms`,
  );
  sale.note(
    'API process 3 of 3 SIGKILLed inside a claim transaction at 10%, then taken out of the rotation; its clients retry with the same key through the others',
  );
}

/**
 * A crowd whose every claim carries an Idempotency-Key, retried with it (no answer, 503, key in
 * flight) until it gets a decision: through a process killed mid-batch, nobody may lose a grant
 * (a key holding a 200 whose client never got it) or get one twice.
 */
export const SCENARIO_14: FaultScenario = {
  id: ID,
  title: TITLE,
  requiredChecks: ['exactly one row per granted key', 'no grant unknown to its client', 'every request got an answer'],
  sellsOut: true,
  run: () =>
    runFaultSale({
      id: ID,
      title: TITLE,
      processes: 3,
      redisNodes: 3,
      users: 1000,
      stock: 300,
      expect: 'exact',
      // 10% of the users answered is ~100 of the 300 grants: the doomed process still has the
      // sale's other ~200 to be seen inside a batch (at 20%, ~100 were left, and a clean-clone
      // CI run saw the coupon sell out before it held the row once).
      faultAt: 0.1,
      idempotencyKeys: true,
      fault: killMidBatch,
      after: async (sale, run) => {
        for (const c of await checkKeyedClaims(sale.group.databaseUrl, run.records)) sale.check(c.name, c.passed, c.detail);
      },
    }),
};
