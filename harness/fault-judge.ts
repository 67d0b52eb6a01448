import { SaleRun } from './claim-runner';
import { DatabaseSnapshot, invariantCheck } from './database-checks';
import { FaultSale } from './fault-sale-types';
import { CouponSnapshot, checkSale } from './sale-checks';

/** Judges a fault sale from its answers and the database, by `spec.expect`. */
export function judge(
  spec: FaultSale,
  run: SaleRun,
  coupon: CouponSnapshot | null,
  database: DatabaseSnapshot | null,
  holders: string[],
  dipper: string,
  check: (name: string, passed: boolean, detail: string) => void,
): void {
  // 'exact' applies every stress check, the database invariants among them; otherwise the invariants alone.
  if (spec.expect === 'exact') {
    const stress = checkSale({
      records: run.records,
      stock: spec.stock,
      userCount: spec.users,
      doubleDip: spec.doubleDip ?? 0,
      dipper,
      coupon,
      database,
    });
    for (const c of stress) check(c.name, c.passed, c.detail);
  }
  if (!database) {
    check('database readable after the sale', false, 'coupon row not found');
    return;
  }
  if (spec.expect !== 'exact') {
    const invariants = invariantCheck(database);
    check(invariants.name, invariants.passed, invariants.detail);
  }
  const holderSet = new Set(holders);
  const grantedUsers = run.records.filter((r) => r.status === 200).map((r) => r.username);
  const missing = grantedUsers.filter((u) => !holderSet.has(u));
  check('every 200 is a row in the database', missing.length === 0, `${missing.length} of ${grantedUsers.length} 200s without a row`);
  const finalAnswer = new Map(run.records.map((r) => [r.username, r]));
  const grantedSet = new Set(grantedUsers);
  const unexplained = holders.filter((u) => !grantedSet.has(u) && !(spec.rowWithout200Allowed?.(finalAnswer.get(u)) ?? false));
  check(
    'no row the clients were not told about, but where the scenario allows it',
    unexplained.length === 0,
    `${unexplained.length} unexplained rows`,
  );
}
