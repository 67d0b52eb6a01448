import { TestApp, makeUsers, startAppWithUser } from './support/test-app';

/** Nothing listens on port 1: the relay never connects, so the rows stay in the outbox to be read. */
const NO_BROKER = 'amqp://guest:guest@127.0.0.1:1';

const outbox = (t: TestApp, coupon: string) =>
  t.sql(`SELECT event_type, payload, occurred_at, event_id FROM outbox_events WHERE coupon_name = $1 ORDER BY id`, [coupon]);

describe('event outbox: each change writes its events in its own transaction', () => {
  describe('with EVENTS_URL set', () => {
    let t: TestApp, admin: string, user: string;
    beforeAll(async () => ({ t, admin, user } = await startAppWithUser('outboxuser', { EVENTS_URL: NO_BROKER })));
    afterAll(() => t.close());

    it('create, claims, sold out (once), update, close: one row each, in commit order', async () => {
      await t.api.createCoupon(admin, 'OUTBOX', 2);
      const buyers = await makeUsers(t.api, 'outbox_', 3);
      expect((await t.api.claim(buyers[0].token, 'OUTBOX')).status).toBe(200);
      // A refusal changes nothing, so it writes nothing.
      expect((await t.api.claim(buyers[0].token, 'OUTBOX')).body.code).toBe('ALREADY_CLAIMED');
      expect((await t.api.claim(buyers[1].token, 'OUTBOX')).status).toBe(200);
      expect((await t.api.claim(buyers[2].token, 'OUTBOX')).body.code).toBe('SOLD_OUT');
      expect((await t.api.patch('/api/coupons/OUTBOX', { amount: 3 }, { token: admin })).status).toBe(200);
      expect((await t.api.claim(user, 'OUTBOX')).status).toBe(200);
      expect((await t.api.post('/api/coupons/OUTBOX/close', undefined, { token: admin })).status).toBe(200);

      const rows = await outbox(t, 'OUTBOX');
      expect(rows.map((r) => r.event_type)).toEqual([
        'coupon.created',
        'claim.granted',
        'claim.granted',
        'coupon.sold_out',
        'coupon.updated',
        'claim.granted',
        'coupon.sold_out',
        'coupon.closed',
      ]);
      expect(rows.filter((r) => r.event_type === 'claim.granted').map((r) => r.payload.user_id)).toEqual([
        'outbox_0',
        'outbox_1',
        'outboxuser',
      ]);
      const claims = await t.sql(
        `SELECT u.username, uc.claimed_at FROM user_claims uc JOIN users u ON u.id = uc.user_id JOIN coupons c ON c.id = uc.coupon_id
          WHERE c.name = 'OUTBOX' ORDER BY uc.id`,
      );
      const granted = rows.filter((r) => r.event_type === 'claim.granted');
      expect(granted.map((r) => Date.parse(r.payload.claimed_at))).toEqual(claims.map((c) => c.claimed_at.getTime()));
      expect(rows[0].payload).toEqual({ amount: 2, remaining_amount: 2, starts_at: null, ends_at: null });
      expect(rows[4].payload).toMatchObject({ amount: 3, remaining_amount: 1 });
      expect(rows[7].payload.ends_at).not.toBeNull();
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(rows.length);
    });

    it('a batch of concurrent claims writes one claim.granted per row it inserts, and sold_out once', async () => {
      await t.api.createCoupon(admin, 'OUTBOX_RUSH', 10);
      const crowd = await makeUsers(t.api, 'rush_', 30);
      const answers = await Promise.all(crowd.map((c) => t.api.claim(c.token, 'OUTBOX_RUSH')));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
      const rows = await outbox(t, 'OUTBOX_RUSH');
      const holders = await t.sql(
        `SELECT u.username FROM user_claims uc JOIN users u ON u.id = uc.user_id JOIN coupons c ON c.id = uc.coupon_id WHERE c.name = 'OUTBOX_RUSH' ORDER BY uc.id`,
      );
      expect(rows.filter((r) => r.event_type === 'claim.granted').map((r) => r.payload.user_id)).toEqual(holders.map((h) => h.username));
      expect(rows.filter((r) => r.event_type === 'coupon.sold_out')).toHaveLength(1);
      expect(rows.at(-1)!.event_type).toBe('coupon.sold_out');
    });

    it('the gauges count what waits and how old it is', async () => {
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
      const [{ n }] = await t.sql(`SELECT count(*)::int AS n FROM outbox_events`);
      expect(value('events_outbox_pending')).toBe(n);
      expect(value('events_outbox_oldest_pending_age_seconds')).toBeGreaterThan(0);
      expect(value('events_outbox_dead_letters')).toBe(0);
    });
  });

  describe('without EVENTS_URL', () => {
    let t: TestApp, admin: string, user: string;
    beforeAll(async () => ({ t, admin, user } = await startAppWithUser('nooutbox', { EVENTS_URL: '' })));
    afterAll(() => t.close());

    it('writes no event: nothing would ever relay it', async () => {
      await t.api.createCoupon(admin, 'QUIET', 1);
      expect((await t.api.claim(user, 'QUIET')).status).toBe(200);
      expect((await t.api.post('/api/coupons/QUIET/close', undefined, { token: admin })).status).toBe(200);
      expect(await t.sql(`SELECT * FROM outbox_events`)).toEqual([]);
    });
  });
});
