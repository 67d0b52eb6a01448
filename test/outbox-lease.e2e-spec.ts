import { OutboxRepository } from '../src/events/outbox.repository';
import type { LeaseOutcome } from '../src/events/outbox.repository';
import type { OutboxRow } from '../src/events/event-types';
import { TestApp, startTestApp } from './support/test-app';

/** Nothing listens on port 1: the app's own relay never connects, so only this test leases. */
const NO_BROKER = 'amqp://guest:guest@127.0.0.1:1';
/** One sale's backlog of one coupon: what the relay meets after a broker outage in a big sale. */
const BACKLOG = 20_000;
const LEASE_ROWS = 500;
/** The oldest due rows a lease chooses its coupons from (COUPON_WINDOW_ROWS in outbox.repository.ts). */
const COUPON_WINDOW = 2000;
/** A lease's hold on its rows (idle_in_transaction_session_timeout while publish runs). */
const HOLD_MS = 10_000;
/** A refused row's first backoff: longer than this test, so only the test can end it. */
const RETRY = { maxAttempts: 5, retryDelayMs: 60_000 };

const sendAll = (rows: OutboxRow[]): Promise<LeaseOutcome> => Promise.resolve({ sent: rows.map((r) => r.id), refused: [] });

/**
 * OutboxRepository.lease against PostgreSQL, with `publish` standing where the broker link
 * does: the order it hands rows out in, the wait behind a refused row, and a big backlog.
 */
describe('outbox leases', () => {
  let t: TestApp;
  let outbox: OutboxRepository;

  beforeAll(async () => {
    t = await startTestApp({ EVENTS_URL: NO_BROKER });
    outbox = t.app.get(OutboxRepository);
  });
  afterAll(() => t.close());

  const addEvents = (couponId: number, count: number) =>
    t.sql(
      `INSERT INTO outbox_events (event_type, coupon_id, coupon_name)
       SELECT 'claim.granted', $1::bigint, 'C' || $1::text FROM generate_series(1, $2::int)`,
      [couponId, count],
    );
  const idsOf = async (couponId: number) =>
    (await t.sql<{ id: string }>('SELECT id FROM outbox_events WHERE coupon_id = $1 ORDER BY id', [couponId])).map((r) => r.id);

  it(`drains ${BACKLOG} events of one coupon in id order, ${LEASE_ROWS} a lease (a per-row look behind each row made this quadratic)`, async () => {
    await addEvents(900_001, BACKLOG);
    const expected = await idsOf(900_001);
    const leased: string[] = [];
    let leases = 0;
    while (
      (await outbox.lease(
        LEASE_ROWS,
        HOLD_MS,
        (rows) => {
          leased.push(...rows.map((r) => r.id));
          return sendAll(rows);
        },
        RETRY,
      )) > 0
    )
      leases++;
    expect(leases).toBe(BACKLOG / LEASE_ROWS);
    expect(leased).toEqual(expected);
    expect(await idsOf(900_001)).toEqual([]);
  }, 120_000);

  it("a refused event holds back its coupon's later events until its backoff ends; other coupons go on", async () => {
    await addEvents(900_002, 5);
    await addEvents(900_003, 3);
    const [first, ...later] = await idsOf(900_002);
    const other = await idsOf(900_003);
    // The broker refuses the coupon's first event; its link stops there for that coupon.
    const firstLease: string[] = [];
    await outbox.lease(
      LEASE_ROWS,
      HOLD_MS,
      (rows) => {
        firstLease.push(...rows.map((r) => r.id));
        return Promise.resolve({
          sent: rows.filter((r) => other.includes(r.id)).map((r) => r.id),
          refused: [{ id: first, error: 'NOT_FOUND - no queue' }],
        });
      },
      RETRY,
    );
    expect(firstLease).toEqual([first, ...later, ...other]);
    // Waiting out its backoff: nothing of that coupon is leased, not even the rows behind it,
    // however many there are (more than the window a lease chooses coupons from); events of
    // another coupon, written after all of them, still go.
    await addEvents(900_002, COUPON_WINDOW + 100);
    const behind = (await idsOf(900_002)).slice(1);
    await addEvents(900_004, 2);
    const newer = await idsOf(900_004);
    const held: string[] = [];
    expect(await outbox.lease(LEASE_ROWS, HOLD_MS, (rows) => (held.push(...rows.map((r) => r.id)), sendAll(rows)), RETRY)).toBe(2);
    expect(held).toEqual(newer);
    // The backoff over, all five go in order.
    await t.sql(`UPDATE outbox_events SET next_attempt_at = clock_timestamp() WHERE id = $1`, [first]);
    const resumed: string[] = [];
    await outbox.lease(LEASE_ROWS, HOLD_MS, (rows) => (resumed.push(...rows.map((r) => r.id)), sendAll(rows)), RETRY);
    expect(resumed).toEqual([first, ...behind].slice(0, LEASE_ROWS));
    expect(later.every((id) => behind.includes(id))).toBe(true);
  });

  it('an event before the refused one still goes while it waits; the events after it wait', async () => {
    await t.sql('DELETE FROM outbox_events'); // what the tests before left: this one leases alone
    await addEvents(900_005, 3);
    const [before, refused, after] = await idsOf(900_005);
    // The broker refuses the second; the first got no answer (the link went), so it is due again.
    await outbox.lease(LEASE_ROWS, HOLD_MS, () => Promise.resolve({ sent: [], refused: [{ id: refused, error: 'nack' }] }), RETRY);
    const leased: string[] = [];
    await outbox.lease(LEASE_ROWS, HOLD_MS, (rows) => (leased.push(...rows.map((r) => r.id)), sendAll(rows)), RETRY);
    expect(leased).toEqual([before]);
    expect(await idsOf(900_005)).toEqual([refused, after]);
  });
});
