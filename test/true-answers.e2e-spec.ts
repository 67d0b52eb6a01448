import { ClaimFastPath } from '../src/claims/claim-fast-path';
import { TestApp, couponInvariants, makeUsers, startSiblingApp, startTestApp, untilSoldOutRemembered } from './support/test-app';

const ROUNDS = 25;

/**
 * A claim sent after a PATCH or close of its coupon has answered 200, through any process, is
 * judged on the state that change left: B's sold-out memory never answers for a stock or a
 * window older than the claim. Each round sells a fresh coupon out in B, has B refuse once from
 * memory (so a stock read of the old state is fresh in B), changes the coupon, and claims at once.
 * With a reuse window the same holds because the change waits that window out before its 200.
 */
describe.each([0, 100])(
  'every answer true (SOLD_OUT_READ_REUSE_MS=%i): a change that answered 200 is seen by the very next claim',
  (reuseMs) => {
    let a: TestApp;
    let b: TestApp;
    let admin: string;
    let holder: { token: string };
    let buyer: { token: string };
    let fastPathB: ClaimFastPath;

    beforeAll(async () => {
      a = await startTestApp({ SOLD_OUT_READ_REUSE_MS: reuseMs });
      b = await startSiblingApp(a, { SOLD_OUT_READ_REUSE_MS: reuseMs });
      admin = await a.adminToken();
      [holder, buyer] = await makeUsers(a.api, 'true_', 2);
      fastPathB = b.app.get(ClaimFastPath);
    });
    afterAll(async () => {
      await b.close();
      await a.close();
    });

    /** A coupon of one unit, sold to `holder` through B and refused to `buyer` from B's memory. */
    async function soldOutInB(name: string): Promise<void> {
      expect((await a.api.createCoupon(admin, name, 1)).status).toBe(201);
      expect((await b.api.claim(holder.token, name)).status).toBe(200);
      await untilSoldOutRemembered(b, name);
      const answeredBefore = fastPathB.answered;
      expect((await b.api.claim(buyer.token, name)).body.code).toBe('SOLD_OUT');
      // That refusal came from B's memory, not from a batch: the memory is what is under test.
      expect(fastPathB.answered).toBe(answeredBefore + 1);
    }

    it.each([
      ['A', () => a],
      ['B itself', () => b],
    ])(`a raise through %s, then a claim through B at once: 200, ${ROUNDS} rounds out of ${ROUNDS}`, async (via, changer) => {
      const answers: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = `RAISE_${via === 'A' ? 'A' : 'B'}_${round}`;
        await soldOutInB(name);
        const raised = await changer().api.patch(`/api/coupons/${name}`, { amount: 2 }, { token: admin });
        expect(raised.body).toMatchObject({ amount: 2, remaining_amount: 1 });
        answers.push((await b.api.claim(buyer.token, name)).status);
        expect(await couponInvariants(a, name)).toMatchObject({ amount: 2, rows: answers.at(-1) === 200 ? 2 : 1 });
      }
      expect(answers.filter((status) => status !== 200)).toEqual([]);
    });

    it(`a close through A, then a claim through B at once: SALE_ENDED, ${ROUNDS} rounds out of ${ROUNDS}`, async () => {
      const answers: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = `CLOSE_${round}`;
        await soldOutInB(name);
        expect((await a.api.post(`/api/coupons/${name}/close`, undefined, { token: admin })).status).toBe(200);
        answers.push((await b.api.claim(buyer.token, name)).body.code);
      }
      expect(answers.filter((code) => code !== 'SALE_ENDED')).toEqual([]);
      // The holder's answer never depended on the change: still ALREADY_CLAIMED.
      expect((await b.api.claim(holder.token, 'CLOSE_0')).body.code).toBe('ALREADY_CLAIMED');
    });
  },
);
