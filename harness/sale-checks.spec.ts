import { ClaimRecord } from './claim-runner';
import { CouponSale, checkSale, checkSales } from './sale-checks';

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString();
const record = (username: string, status: number, code: string | null, i = 0, doubleDip = false, coupon = 'C'): ClaimRecord => ({
  username,
  coupon,
  status,
  code,
  claimedAt: status === 200 ? at(i) : null,
  answeredAtMs: i,
  latencyMs: 1,
  retries: 0,
  doubleDip,
  key: null,
  replayed: false,
});

/** A sale that held: 3 of 5 users won, the dipper (u0) once plus 2 ALREADY_CLAIMED. */
function heldSale() {
  const records = [
    record('u0', 200, null, 1, true),
    record('u0', 409, 'ALREADY_CLAIMED', 2, true),
    record('u0', 409, 'ALREADY_CLAIMED', 3, true),
    record('u1', 200, null, 4),
    record('u2', 200, null, 5),
    record('u3', 409, 'SOLD_OUT', 6),
    record('u4', 409, 'SOLD_OUT', 7),
  ];
  return {
    records,
    stock: 3,
    userCount: 5,
    doubleDip: 3,
    dipper: 'u0',
    coupon: { amount: 3, remaining_amount: 0, claimed_by: ['u0', 'u1', 'u2'] },
    database: { amount: 3, remaining_amount: 0, rows: 3, distinct_users: 3 },
  };
}

const failedNames = (input: ReturnType<typeof heldSale>) =>
  checkSale(input)
    .filter((c) => !c.passed)
    .map((c) => c.name);

describe('checkSale', () => {
  it('passes a sale that held', () => {
    expect(failedNames(heldSale())).toEqual([]);
  });

  it('catches an oversell', () => {
    const sale = heldSale();
    sale.records[5] = record('u3', 200, null, 6);
    expect(failedNames(sale)).toContain('successes = min(stock, users)');
  });

  it('catches a user who won twice', () => {
    const sale = heldSale();
    sale.records[2] = record('u0', 200, null, 3, true);
    sale.records[3] = record('u1', 409, 'SOLD_OUT', 4);
    expect(failedNames(sale)).toEqual(
      expect.arrayContaining(['no user succeeded twice', 'double dip: exactly one 200, the rest ALREADY_CLAIMED']),
    );
  });

  it('catches an API that disagrees with the 200s', () => {
    const sale = heldSale();
    sale.coupon = { amount: 3, remaining_amount: 1, claimed_by: ['u0', 'u1', 'u4'] };
    expect(failedNames(sale)).toEqual(
      expect.arrayContaining(['remaining_amount = stock - successes', 'claimed_by = the successful users']),
    );
  });

  it('catches claimed_by out of claim order', () => {
    const sale = heldSale();
    sale.coupon = { amount: 3, remaining_amount: 0, claimed_by: ['u2', 'u0', 'u1'] };
    expect(failedNames(sale)).toEqual(['claimed_by order agrees with claimed_at']);
  });

  it('catches database rows that do not match, or a broken invariant', () => {
    const sale = heldSale();
    sale.database = { amount: 3, remaining_amount: 1, rows: 3, distinct_users: 3 };
    expect(failedNames(sale)).toEqual(['database invariants: remaining = amount - rows, rows <= amount, no user twice']);
    sale.database = { amount: 3, remaining_amount: 0, rows: 4, distinct_users: 3 };
    expect(failedNames(sale)).toEqual(expect.arrayContaining(['database rows = successes']));
  });

  it('catches an undocumented 5xx and an unanswered request, but counts a documented 503', () => {
    const sale = heldSale();
    sale.records.push(record('u5', 500, 'INTERNAL_ERROR'), record('u6', 0, 'timeout'));
    sale.userCount = 7;
    sale.stock = 3;
    expect(failedNames(sale)).toEqual(expect.arrayContaining(['no 5xx but the documented retryable 503s', 'every request got an answer']));
    const ok = heldSale();
    ok.records.push(record('u5', 503, 'LOCK_BUSY'));
    ok.userCount = 6;
    expect(failedNames(ok)).toEqual([]);
  });
});

/** Three coupons of 2 units, 4 claimants each; every user asks for one coupon. */
function manyCoupons() {
  const names = ['K0', 'K1', 'K2'];
  const records: ClaimRecord[] = [];
  const coupons: CouponSale[] = names.map((name, c) => {
    const users = [0, 1, 2, 3].map((i) => `u${c}_${i}`);
    users.forEach((u, i) => records.push(record(u, i < 2 ? 200 : 409, i < 2 ? null : 'SOLD_OUT', c * 10 + i, false, name)));
    return {
      name,
      stock: 2,
      claimants: 4,
      coupon: { amount: 2, remaining_amount: 0, claimed_by: users.slice(0, 2) },
      database: { amount: 2, remaining_amount: 0, rows: 2, distinct_users: 2 },
    };
  });
  return { records, coupons, doubleDip: 0, dipper: 'u0_0' };
}

describe('checkSales (many coupons)', () => {
  const failed = (input: ReturnType<typeof manyCoupons>) => checkSales(input).filter((c) => !c.passed);

  it('passes a sale of many coupons that held, each with its own stock', () => {
    expect(failed(manyCoupons())).toEqual([]);
    expect(checkSales(manyCoupons()).map((c) => c.name)).toContain('every coupon sold out');
  });

  it('is exactly checkSale for one coupon', () => {
    const sale = heldSale();
    const one = checkSales({
      records: sale.records,
      coupons: [{ name: 'C', stock: 3, claimants: 5, coupon: sale.coupon, database: sale.database }],
      doubleDip: 3,
      dipper: 'u0',
    });
    expect(one).toEqual(checkSale(sale));
  });

  it('catches one coupon of many oversold, and names it', () => {
    const sale = manyCoupons();
    sale.records[6] = record('u1_2', 200, null, 12, false, 'K1');
    const checks = failed(sale);
    expect(checks.map((c) => c.name)).toContain('successes = min(stock, users)');
    expect(checks.find((c) => c.name === 'successes = min(stock, users)')!.detail).toMatch(
      /failed on 1 of 3 coupons: K1: 3 successes, expected 2/,
    );
  });

  it('catches a user granted the same coupon twice, though winning two different coupons is fine', () => {
    const sale = manyCoupons();
    sale.records.push(record('u0_0', 200, null, 30, false, 'K1'));
    sale.coupons[1].claimants = 5;
    sale.records[5] = record('u1_1', 409, 'SOLD_OUT', 11, false, 'K1');
    sale.coupons[1].coupon!.claimed_by = ['u1_0', 'u0_0'];
    expect(failed(sale)).toEqual([]);
    sale.records.push(record('u0_0', 200, null, 31, false, 'K1'));
    expect(failed(sale).map((c) => c.name)).toContain('no user succeeded twice');
  });

  it('catches a starved coupon (stock left although enough users asked)', () => {
    const sale = manyCoupons();
    sale.records[9] = record('u2_1', 409, 'SOLD_OUT', 21, false, 'K2');
    sale.coupons[2].coupon = { amount: 2, remaining_amount: 1, claimed_by: ['u2_0'] };
    sale.coupons[2].database = { amount: 2, remaining_amount: 1, rows: 1, distinct_users: 1 };
    const checks = failed(sale);
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['successes = min(stock, users)', 'every coupon sold out']));
    expect(checks.find((c) => c.name === 'every coupon sold out')!.detail).toContain('K2');
  });
});
