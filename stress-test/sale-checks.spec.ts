import { ClaimRecord } from './claim-runner';
import { checkSale } from './sale-checks';

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString();
const record = (username: string, status: number, code: string | null, i = 0, doubleDip = false): ClaimRecord => ({
  username, status, code, claimedAt: status === 200 ? at(i) : null, answeredAtMs: i, latencyMs: 1, retries: 0, doubleDip,
});

/** A sale that held: 3 of 5 users won, the dipper (u0) once plus 2 ALREADY_CLAIMED. */
function heldSale() {
  const records = [
    record('u0', 200, null, 1, true), record('u0', 409, 'ALREADY_CLAIMED', 2, true), record('u0', 409, 'ALREADY_CLAIMED', 3, true),
    record('u1', 200, null, 4), record('u2', 200, null, 5), record('u3', 409, 'SOLD_OUT', 6), record('u4', 409, 'SOLD_OUT', 7),
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

const failedNames = (input: ReturnType<typeof heldSale>) => checkSale(input).filter((c) => !c.passed).map((c) => c.name);

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
    expect(failedNames(sale)).toEqual(expect.arrayContaining(['no user succeeded twice', 'double dip: exactly one 200, the rest ALREADY_CLAIMED']));
  });

  it('catches an API that disagrees with the 200s', () => {
    const sale = heldSale();
    sale.coupon = { amount: 3, remaining_amount: 1, claimed_by: ['u0', 'u1', 'u4'] };
    expect(failedNames(sale)).toEqual(expect.arrayContaining(['remaining_amount = stock - successes', 'claimed_by = the successful users']));
  });

  it('catches claimed_by out of claim order', () => {
    const sale = heldSale();
    sale.coupon = { amount: 3, remaining_amount: 0, claimed_by: ['u2', 'u0', 'u1'] };
    expect(failedNames(sale)).toEqual(['claimed_by order agrees with claimed_at']);
  });

  it('catches database rows that do not match, or a broken invariant', () => {
    const sale = heldSale();
    sale.database = { amount: 3, remaining_amount: 1, rows: 3, distinct_users: 3 };
    expect(failedNames(sale)).toEqual(['database invariant remaining = amount - rows']);
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
