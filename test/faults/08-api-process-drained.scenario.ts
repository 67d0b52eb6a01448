import { databaseSnapshot } from '../../harness/database-checks';
import { faultScenario } from '../../harness/fault-sale';

/** The drain's bound, set here so the process and the check below agree: 60 claims in flight drain in well under it. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

export const SCENARIO_8 = faultScenario(8, 'One API process sent SIGTERM mid-sale (graceful drain)', {
  processes: 2,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'every-200-is-a-row',
  faultAt: 0.2,
  env: { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
  // A drain answers every request it accepted: no row may lack its 200.
  rowWithout200Allowed: () => false,
  fault: async (sale) => {
    const target = sale.group.processes[1];
    const started = Date.now();
    target.signal('SIGTERM');
    const code = await target.exited;
    const tookMs = Date.now() - started;
    sale.check(
      'the drained process exits 0 within SHUTDOWN_TIMEOUT_MS',
      code === 0 && tookMs < SHUTDOWN_TIMEOUT_MS,
      `exit ${code} after ${tookMs} ms`,
    );
    sale.note(`API process 2 of 2 got SIGTERM at 20%; exit ${code} after ${tookMs} ms; later requests to it are refused (NO_ANSWER)`);
  },
  after: async (sale) => {
    const db = await databaseSnapshot(sale.group.databaseUrl, sale.couponName);
    sale.check('the other process went on: the stock sold out', db?.remaining_amount === 0, `remaining ${db?.remaining_amount}`);
  },
});
