import { ClaimRecord, RETRYABLE_503_CODES } from './claim-runner';
import { CheckResult } from './check-result';
import { DatabaseSnapshot, invariantCheck } from './database-checks';

/** What GET /api/coupons/:name says after the sale. */
export interface CouponSnapshot {
  amount: number;
  remaining_amount: number;
  claimed_by: string[];
}

type Check = (name: string, passed: boolean, detail: string) => void;

/**
 * The checks that decide whether the sale held. Pure: they judge what the run saw, what the
 * API reports afterwards and, when reachable, what the database holds.
 */
export function checkSale(input: {
  records: ClaimRecord[];
  stock: number;
  userCount: number;
  doubleDip: number;
  dipper: string;
  coupon: CouponSnapshot | null;
  database: DatabaseSnapshot | null;
}): CheckResult[] {
  const { records, stock } = input;
  const granted = records.filter((r) => r.status === 200);
  const checks: CheckResult[] = [];
  const check: Check = (name, passed, detail) => checks.push({ name, passed, detail });

  const distinctGranted = new Set(granted.map((r) => r.username));
  const expected = Math.min(stock, input.userCount);
  check('successes = min(stock, users)', granted.length === expected, `${granted.length} successes, expected ${expected}`);
  check('no user succeeded twice', distinctGranted.size === granted.length, `${granted.length - distinctGranted.size} duplicate successes`);
  if (input.coupon) checkApiView(input.coupon, stock, granted, check);
  else check('coupon readable after the run', false, 'GET /api/coupons/:name did not answer 200');
  if (input.database) {
    const d = input.database;
    check(
      'database rows = successes',
      d.rows === granted.length,
      `${d.rows} rows (${d.distinct_users} distinct users) for ${granted.length} successes`,
    );
    checks.push(invariantCheck(d));
  }
  if (input.doubleDip > 0) checkDoubleDip(records, input.doubleDip, input.dipper, check);
  checkAnswers(records, check);
  return checks;
}

/** The API's view of the coupon agrees with the 200s: stock, holders, and holders in claim order. */
function checkApiView(c: CouponSnapshot, stock: number, granted: ClaimRecord[], check: Check): void {
  const distinctGranted = new Set(granted.map((r) => r.username));
  check(
    'remaining_amount = stock - successes',
    c.remaining_amount === stock - granted.length && c.amount === stock,
    `API says amount ${c.amount}, remaining ${c.remaining_amount}; run saw ${granted.length} successes of ${stock}`,
  );
  const listed = new Set(c.claimed_by);
  const missing = [...distinctGranted].filter((u) => !listed.has(u));
  const extra = c.claimed_by.filter((u) => !distinctGranted.has(u));
  check(
    'claimed_by = the successful users',
    missing.length === 0 && extra.length === 0 && listed.size === c.claimed_by.length,
    `${missing.length} successful users missing, ${extra.length} listed without a 200, ${c.claimed_by.length - listed.size} listed twice`,
  );
  const claimedAt = new Map(granted.map((r) => [r.username, Date.parse(r.claimedAt ?? '')]));
  let outOfOrder = 0;
  let previous = -Infinity;
  for (const username of c.claimed_by) {
    const at = claimedAt.get(username);
    if (at === undefined || Number.isNaN(at)) continue;
    if (at < previous) outOfOrder++;
    previous = Math.max(previous, at);
  }
  check('claimed_by order agrees with claimed_at', outOfOrder === 0, `${outOfOrder} holders listed before an earlier claim`);
}

/** The one user who claimed `doubleDip` times at once won exactly once. */
function checkDoubleDip(records: ClaimRecord[], doubleDip: number, dipper: string, check: Check): void {
  const dips = records.filter((r) => r.doubleDip);
  const dipWins = dips.filter((r) => r.status === 200).length;
  const dipAlready = dips.filter((r) => r.code === 'ALREADY_CLAIMED').length;
  check(
    'double dip: exactly one 200, the rest ALREADY_CLAIMED',
    dips.length === doubleDip && dipWins === 1 && dipAlready === doubleDip - 1,
    `${dipper}: ${dipWins} x 200, ${dipAlready} x ALREADY_CLAIMED of ${dips.length} claims`,
  );
}

/** Every final answer is one the contract documents for a claim: 200, a refusal, or a retryable 503. */
function checkAnswers(records: ClaimRecord[], check: Check): void {
  // CLAIM_OUTCOME_UNKNOWN is documented too: the database checks judge whether its claim landed.
  const documented503 = (r: ClaimRecord) =>
    r.status === 503 && (RETRYABLE_503_CODES.has(r.code ?? '') || r.code === 'CLAIM_OUTCOME_UNKNOWN');
  const bad5xx = records.filter((r) => r.status >= 500 && !documented503(r));
  check(
    'no 5xx but the documented retryable 503s',
    bad5xx.length === 0,
    `${bad5xx.length} undocumented 5xx; ${records.filter(documented503).length} documented 503s left after retries`,
  );
  const unexpected = records.filter(
    (r) => r.status !== 0 && r.status < 500 && r.status !== 200 && !['SOLD_OUT', 'ALREADY_CLAIMED'].includes(r.code ?? ''),
  );
  check('no unexpected 4xx', unexpected.length === 0, `${unexpected.length} answers other than 200, SOLD_OUT, ALREADY_CLAIMED`);
  const unanswered = records.filter((r) => r.status === 0);
  check(
    'every request got an answer',
    unanswered.length === 0,
    unanswered.length === 0
      ? 'all answered'
      : `${unanswered.length} without an answer (${[...new Set(unanswered.map((r) => r.code))].join(', ')})`,
  );
}

/** One coupon of a sale: its stock, how many distinct users asked for it, and what the API and database say after. */
export interface CouponSale {
  name: string;
  stock: number;
  claimants: number;
  coupon: CouponSnapshot | null;
  database: DatabaseSnapshot | null;
}

/**
 * checkSale for a sale of one or many coupons: every check runs on each coupon's own claims
 * (one per user is per coupon), and a check passes only if it held on every coupon; a failure
 * names the coupons it failed on. One coupon gives exactly checkSale's result. The double dip
 * is on the first coupon.
 */
export function checkSales(input: { records: ClaimRecord[]; coupons: CouponSale[]; doubleDip: number; dipper: string }): CheckResult[] {
  const perCoupon = input.coupons.map((sale, i) => ({
    sale,
    checks: checkSale({
      records: input.coupons.length === 1 ? input.records : input.records.filter((r) => r.coupon === sale.name),
      stock: sale.stock,
      userCount: sale.claimants,
      doubleDip: i === 0 ? input.doubleDip : 0,
      dipper: input.dipper,
      coupon: sale.coupon,
      database: sale.database,
    }),
  }));
  if (perCoupon.length === 1) return perCoupon[0].checks;
  const names = [...new Set(perCoupon.flatMap((c) => c.checks.map((check) => check.name)))];
  const merged = names.map((name) => {
    const results = perCoupon.flatMap(({ sale, checks }) => checks.filter((c) => c.name === name).map((c) => ({ sale, check: c })));
    const failed = results.filter((r) => !r.check.passed);
    const shown = failed.slice(0, 3).map((r) => `${r.sale.name}: ${r.check.detail}`);
    if (failed.length > shown.length) shown.push(`and ${failed.length - shown.length} more coupons`);
    return {
      name,
      passed: failed.length === 0,
      detail:
        failed.length === 0
          ? `held on all ${results.length} coupons`
          : `failed on ${failed.length} of ${results.length} coupons: ${shown.join('; ')}`,
    };
  });
  // No coupon starved: every coupon with at least as many claimants as units must end at 0.
  const starved = input.coupons.filter((c) => {
    const granted = input.records.filter((r) => r.coupon === c.name && r.status === 200).length;
    return c.claimants >= c.stock && (granted < c.stock || (c.database ?? c.coupon)?.remaining_amount !== 0);
  });
  merged.push({
    name: 'every coupon sold out',
    passed: starved.length === 0,
    detail:
      starved.length === 0
        ? `${input.coupons.length} coupons, each sold to the last unit`
        : `${starved.length} coupons with stock left: ${starved
            .slice(0, 5)
            .map((c) => c.name)
            .join(', ')}`,
  });
  return merged;
}
