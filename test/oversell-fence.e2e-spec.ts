import type { Claimant } from '../src/claims/claim-outcome';
import { ClaimsRepository } from '../src/claims/claims.repository';
import { TestApp, couponInvariants, makeClaimants, startTestApp } from './support/test-app';

/**
 * The database fences the stock by itself, below the claim rule: if a settlement ever judged more
 * grants than the stock left (a bug in the rule or in its caller), the conditional decrement
 * refuses the batch, and the CHECK on remaining_amount refuses it too. Each fence is shown alone.
 */
describe('the oversell fences of the claim transaction', () => {
  let t: TestApp;
  let admin: string;
  let repository: ClaimsRepository;
  let users: Claimant[];
  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    repository = t.app.get(ClaimsRepository);
    users = await makeClaimants(t, 'fence_', 4);
  });
  afterAll(() => t.close());

  it('the CHECK alone refuses stock below zero or above the amount, whoever writes it', async () => {
    expect((await t.api.createCoupon(admin, 'CHECKED', 2)).status).toBe(201);
    for (const remaining of [-1, 3]) {
      await expect(t.sql("UPDATE coupons SET remaining_amount = $1 WHERE name = 'CHECKED'", [remaining])).rejects.toMatchObject({
        code: '23514',
      });
    }
    expect(await couponInvariants(t, 'CHECKED')).toEqual({ amount: 2, remaining_amount: 2, rows: 0, distinct_users: 0 });
  });

  // Last: after a failed fence the CHECK cannot be restored over the oversold row.
  it('the conditional decrement alone refuses a batch judged to grant more than the stock', async () => {
    expect((await t.api.createCoupon(admin, 'FENCED', 3)).status).toBe(201);
    // Only the decrement's condition is left: the CHECK is dropped in this suite's own database.
    await t.sql('ALTER TABLE coupons DROP CONSTRAINT coupons_remaining_amount_check');
    let outcome: string;
    try {
      // The same coupon twice in one batch (the batcher never does this): each group is judged
      // on the same 3 units, so the rule grants 4.
      outcome = await repository
        .settleCoupons([
          { couponName: 'FENCED', claimants: users.slice(0, 2) },
          { couponName: 'FENCED', claimants: users.slice(2, 4) },
        ])
        .then(
          () => 'committed',
          (error: Error) => error.message,
        );
    } finally {
      // Over an oversold row (a failed fence) the CHECK cannot come back; the suite's database is dropped anyway.
      await t
        .sql(
          'ALTER TABLE coupons ADD CONSTRAINT coupons_remaining_amount_check CHECK (remaining_amount >= 0 AND remaining_amount <= amount)',
        )
        .catch(() => undefined);
    }
    expect(outcome).toMatch(/inserted 0\/4 rows/);
    expect(await couponInvariants(t, 'FENCED')).toEqual({ amount: 3, remaining_amount: 3, rows: 0, distinct_users: 0 });
  });
});
