import Redis from 'ioredis';
import type { Claimant } from '../src/claims/claim-outcome';
import { ClaimsRepository } from '../src/claims/claims.repository';
import { TestApp, couponInvariants, makeClaimants, makeUsers, startTestApp } from './support/test-app';

/** Batches that settle several coupons in one transaction (claims.repository.ts settleCoupons). */
describe('claims of several coupons in one batch', () => {
  let t: TestApp;
  let admin: string;
  let repository: ClaimsRepository;
  let users: Claimant[];
  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    repository = t.app.get(ClaimsRepository);
    users = await makeClaimants(t, 'multi_', 40);
  });
  afterAll(async () => {
    await t.close();
  });

  const coupon = async (name: string, amount: number) => expect((await t.api.createCoupon(admin, name, amount)).status).toBe(201);
  const kinds = (settlement: { outcomes: { kind: string }[] }) => settlement.outcomes.map((o) => o.kind);

  it('judges each coupon on its own stock, in arrival order: a scarce coupon beside a plentiful one is not oversold', async () => {
    await coupon('SCARCE', 2);
    await coupon('PLENTY', 10);
    const five = users.slice(0, 5);
    const [scarce, plenty] = await repository.settleCoupons([
      { couponName: 'SCARCE', claimants: five },
      { couponName: 'PLENTY', claimants: five },
    ]);
    expect(kinds(scarce)).toEqual(['granted', 'granted', 'sold_out', 'sold_out', 'sold_out']);
    expect(kinds(plenty)).toEqual(['granted', 'granted', 'granted', 'granted', 'granted']);
    expect(scarce.remainingAmount).toBe(0);
    expect(plenty.remainingAmount).toBe(5);
    expect(await couponInvariants(t, 'SCARCE')).toEqual({ amount: 2, remaining_amount: 0, rows: 2, distinct_users: 2 });
    expect(await couponInvariants(t, 'PLENTY')).toEqual({ amount: 10, remaining_amount: 5, rows: 5, distinct_users: 5 });
    const scarceHolders = await t.sql(
      "SELECT uc.user_id::text AS id FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id WHERE c.name = 'SCARCE' ORDER BY 1",
    );
    expect(scarceHolders.map((r) => r.id).sort()).toEqual(
      five
        .slice(0, 2)
        .map((u) => u.userId)
        .sort(),
    );
  });

  it('a sold-out coupon and one that sells, in one batch: refusals for the first, grants for the second', async () => {
    await coupon('GONE', 1);
    await coupon('STILL', 3);
    expect(kinds(await repository.settle('GONE', [users[10]]))).toEqual(['granted']);
    const [gone, still] = await repository.settleCoupons([
      { couponName: 'GONE', claimants: [users[11], users[12]] },
      { couponName: 'STILL', claimants: [users[11], users[12]] },
    ]);
    expect(kinds(gone)).toEqual(['sold_out', 'sold_out']);
    expect(kinds(still)).toEqual(['granted', 'granted']);
    expect(await couponInvariants(t, 'GONE')).toEqual({ amount: 1, remaining_amount: 0, rows: 1, distinct_users: 1 });
    expect(await couponInvariants(t, 'STILL')).toEqual({ amount: 3, remaining_amount: 1, rows: 2, distinct_users: 2 });
  });

  it('one of each coupon per user: twice in one group is ALREADY_CLAIMED, a holder of one coupon may still get another', async () => {
    await coupon('ONCE_A', 10);
    await coupon('ONCE_B', 10);
    const [u1, u2, u3] = users.slice(20, 23);
    expect(kinds(await repository.settle('ONCE_B', [u3]))).toEqual(['granted']);
    const [a, b] = await repository.settleCoupons([
      { couponName: 'ONCE_A', claimants: [u1, u2, u1, u3] },
      { couponName: 'ONCE_B', claimants: [u1, u3, u1] },
    ]);
    expect(kinds(a)).toEqual(['granted', 'granted', 'already_claimed', 'granted']);
    expect(kinds(b)).toEqual(['granted', 'already_claimed', 'already_claimed']);
    expect(await couponInvariants(t, 'ONCE_A')).toEqual({ amount: 10, remaining_amount: 7, rows: 3, distinct_users: 3 });
    expect(await couponInvariants(t, 'ONCE_B')).toEqual({ amount: 10, remaining_amount: 8, rows: 2, distinct_users: 2 });
  });

  it('a coupon that does not exist and one whose sale ended do not stop the others', async () => {
    await coupon('ENDED', 5);
    await coupon('OPEN', 5);
    await t.sql("UPDATE coupons SET ends_at = now() - interval '1 minute', starts_at = now() - interval '1 hour' WHERE name = 'ENDED'");
    const [missing, ended, open] = await repository.settleCoupons([
      { couponName: 'NO_SUCH_COUPON', claimants: [users[30]] },
      { couponName: 'ENDED', claimants: [users[30]] },
      { couponName: 'OPEN', claimants: [users[30], users[31]] },
    ]);
    expect(kinds(missing)).toEqual(['not_found']);
    expect(kinds(ended)).toEqual(['ended']);
    expect(kinds(open)).toEqual(['granted', 'granted']);
    expect(await couponInvariants(t, 'ENDED')).toMatchObject({ remaining_amount: 5, rows: 0 });
  });

  it('overlapping batches in any order, all at once and with no Redlock: no deadlock, no oversell, nobody twice', async () => {
    const names = ['FENCE_X', 'FENCE_Y', 'FENCE_Z'];
    for (const name of names) await coupon(name, 7);
    // 12 batches of the three coupons in rotating order; each user appears in 3 batches.
    const batches = Array.from({ length: 12 }, (_, i) => {
      const order = [...names.slice(i % 3), ...names.slice(0, i % 3)];
      const claimants = [users[i % 10], users[(i + 1) % 10], users[(i + 2) % 10]];
      return order.map((couponName) => ({ couponName, claimants }));
    });
    const settled = await Promise.allSettled(batches.map((batch) => repository.settleCoupons(batch)));
    // Every batch settles: they queue on the coupon rows (locked in name order, so no deadlock) and
    // each judges the holders the ones before it committed. 10 users ask for each coupon's 7 units.
    expect(settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []))).toEqual([]);
    for (const name of names) {
      const granted = settled
        .flatMap((s, b) => (s.status === 'fulfilled' ? s.value.filter((_, i) => batches[b][i].couponName === name) : []))
        .flatMap((settlement) => settlement.outcomes)
        .filter((outcome) => outcome.kind === 'granted').length;
      expect({ granted, ...(await couponInvariants(t, name)) }).toEqual({
        granted: 7,
        amount: 7,
        remaining_amount: 0,
        rows: 7,
        distinct_users: 7,
      });
    }
  });

  it('through HTTP: claims of many coupons at once share transactions, and every answer is true', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `HTTP_${i}`);
    for (const name of names) await coupon(name, 4);
    const claimers = await makeUsers(t.api, 'multi_http_', 10);
    // Each user claims every coupon once: 60 claims for 24 units.
    const answers = await Promise.all(
      claimers.flatMap((u) => names.map(async (name) => ({ name, res: await t.api.claim(u.token, name) }))),
    );
    for (const name of names) {
      const granted = answers.filter((a) => a.name === name && a.res.status === 200).length;
      const refused = answers.filter((a) => a.name === name && a.res.status === 409 && a.res.body.code === 'SOLD_OUT').length;
      expect({ granted, refused }).toEqual({ granted: 4, refused: 6 });
      expect(await couponInvariants(t, name)).toEqual({ amount: 4, remaining_amount: 0, rows: 4, distinct_users: 4 });
    }
    // Rows written by one transaction share its id (xmin).
    const [{ shared }] = await t.sql(
      `SELECT count(*)::int AS shared FROM (
         SELECT uc.xmin::text FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id
          WHERE c.name LIKE 'HTTP\\_%' GROUP BY uc.xmin::text HAVING count(DISTINCT uc.coupon_id) > 1) s`,
    );
    expect(shared).toBeGreaterThan(0);
  });

  it('a coupon whose lock someone else holds does not hold up the other coupons of its batch', async () => {
    for (const name of ['HELD_1', 'HELD_2', 'HELD_3', 'FREE_1', 'FREE_2']) await coupon(name, 5);
    const [a, b, c, d] = await makeUsers(t.api, 'multi_held_', 4);
    const redis = new Redis(t.config.REDIS_URLS.split(',')[0]);
    const held = ['HELD_1', 'HELD_2', 'HELD_3'].map((name) => `${t.config.REDIS_KEY_PREFIX}claim:coupon:${name}`);
    for (const key of held) await redis.set(key, 'someone-else', 'PX', 30_000);
    try {
      const started = Date.now();
      const answeredAt = (p: Promise<Awaited<ReturnType<typeof t.api.claim>>>) => p.then((res) => ({ res, ms: Date.now() - started }));
      // HELD_1 and HELD_2 keep both batch slots busy (~1.5 s of retries each), so the next three
      // claims queue up and leave in one batch: HELD_3 with the two free coupons.
      const first = [answeredAt(t.api.claim(a.token, 'HELD_1')), answeredAt(t.api.claim(b.token, 'HELD_2'))];
      await new Promise((resolve) => setTimeout(resolve, 200));
      const [held3, free1, free2] = await Promise.all([
        answeredAt(t.api.claim(c.token, 'HELD_3')),
        answeredAt(t.api.claim(c.token, 'FREE_1')),
        answeredAt(t.api.claim(d.token, 'FREE_2')),
      ]);
      for (const { res } of [...(await Promise.all(first)), held3]) expect(res.body.code).toBe('LOCK_BUSY');
      expect([free1.res.status, free2.res.status]).toEqual([200, 200]);
      // The free coupons were answered when the slots freed up, not after HELD_3's own retries.
      expect(held3.ms - Math.max(free1.ms, free2.ms)).toBeGreaterThan(1000);
      expect(await couponInvariants(t, 'HELD_3')).toMatchObject({ remaining_amount: 5, rows: 0 });
      expect(await couponInvariants(t, 'FREE_1')).toMatchObject({ remaining_amount: 4, rows: 1 });
    } finally {
      await redis.del(...held);
      redis.disconnect();
    }
  });
});
