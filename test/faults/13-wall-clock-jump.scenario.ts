import { writeFileSync } from 'node:fs';
import { withDatabase } from '../../harness/database-checks';
import { LOCK_LOST, sleep } from '../../harness/fault-probes';
import { faultScenario } from '../../harness/fault-sale';
import { login } from '../../harness/user-seeder';

/** The jump. */
const JUMP_SECONDS = 30;
/** How long the test waits to see the jump: libfaketime re-reads its file every second (FAKETIME_CACHE_DURATION=1). */
const JUMP_SEEN_WITHIN_MS = 5000;
/** Between looks at the jumped process's Date header. */
const POLL_MS = 250;
/** The jump counts as seen at 25 s ahead: the Date header has whole seconds and the look itself takes time. */
const JUMP_SEEN_AT_MS = 25_000;

export const SCENARIO_13 = faultScenario(13, "One API process's wall clock jumped 30 s forward mid-sale (libfaketime)", {
  processes: 2,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'exact',
  faultAt: 0.2,
  fakeClockOf: 1,
  fault: async (sale) => {
    const jumped = sale.group.processes[1];
    // A second coupon whose sale opens 20 s from now by the database's clock: 10 s ago by the jumped one's.
    const admin = await login(sale.http, sale.group.adminUser, sale.group.adminPassword);
    const later = `${sale.couponName}_LATER`;
    const opensAt = await withDatabase(
      sale.group.databaseUrl,
      async (db) => (await db.query(`SELECT now() + interval '20 seconds' AS at`)).rows[0].at as Date,
    );
    const created = await sale.http.request('POST', '/api/coupons', { name: later, amount: 10, starts_at: opensAt.toISOString() }, admin);
    if (created.status !== 201) throw new Error(`creating ${later}: ${created.status} ${JSON.stringify(created.body)}`);

    writeFileSync(sale.clockFile!, `+${JUMP_SECONDS}s\n`);
    let aheadMs = 0;
    for (let waited = 0; waited < JUMP_SEEN_WITHIN_MS && aheadMs < JUMP_SEEN_AT_MS; waited += POLL_MS) {
      await sleep(POLL_MS);
      const answer = await fetch(`${jumped.url}/api/healthcheck`);
      aheadMs = Date.parse(answer.headers.get('date') ?? '') - Date.now();
    }
    sale.check(
      "the jumped process's clock is 30 s ahead (its HTTP Date header)",
      aheadMs >= JUMP_SEEN_AT_MS,
      `${Math.round(aheadMs / 1000)} s ahead`,
    );

    const probe = await fetch(`${jumped.url}/api/coupons/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sale.probe.token}` },
      body: JSON.stringify({ coupon_name: later }),
    });
    const body = (await probe.json()) as { code?: string };
    const retryAfter = Number(probe.headers.get('retry-after'));
    sale.check(
      'the sale window is judged by the database clock: through the jumped process, a sale opening in 20 s answers 409 SALE_NOT_STARTED',
      probe.status === 409 && body.code === 'SALE_NOT_STARTED' && retryAfter >= 1 && retryAfter <= 20,
      `${probe.status} ${body.code}, Retry-After ${retryAfter}`,
    );
    sale.note(
      `API process 2 of 2 runs under libfaketime; its wall clock jumped +30 s at 20% (monotonic clock untouched); probe on a sale opening in 20 s: ${probe.status} ${body.code}, Retry-After ${retryAfter} s`,
    );
  },
  after: async (sale) => {
    // Leases are timed on the monotonic clock: the jump neither ends one early (a false
    // "lost" warning) nor, backwards, keeps one trusted past its real expiry.
    const lost = sale.group.processes[1].count(LOCK_LOST);
    sale.check(
      'no lease judged by the jumped wall clock: no "lock lost" warning on the jumped process',
      lost === 0,
      `${lost} lock-lost warnings`,
    );
  },
});
