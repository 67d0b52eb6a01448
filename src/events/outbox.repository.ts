import { Injectable } from '@nestjs/common';
import { DataSource, QueryRunner } from 'typeorm';
import { OutboxRow } from './event-types';

/** What became of each row of a lease, by outbox id. */
export interface LeaseOutcome {
  /** Confirmed by the broker: deleted. */
  sent: string[];
  /** Refused by the broker (nack): tried again after a backoff, or dead-lettered at the last try. */
  refused: { id: string; error: string }[];
}

export interface OutboxStats {
  pending: number;
  dead: number;
  oldestPendingAgeSeconds: number;
}

/**
 * For a row `o`: no earlier row of its coupon waits out a backoff after the broker refused it.
 * A coupon's rows stop at such a row, so a retried event is not overtaken by the coupon's later
 * events. A waiting row has been refused (attempts > 0), so each row costs one probe of the small
 * index of refused rows (outbox_events_waiting_idx); the same look over the pending rows walked a
 * coupon's whole backlog for every row: 23 s a lease behind 20,000 events of one sale.
 */
const NOT_BEHIND_A_WAITING_ROW = `NOT EXISTS (SELECT 1 FROM outbox_events w
   WHERE w.coupon_id = o.coupon_id AND w.id < o.id AND w.dead_at IS NULL
     AND w.attempts > 0 AND w.next_attempt_at > clock_timestamp())`;

/** How many coupons one lease may take. A lease is a transaction: it holds what it took until it commits. */
const COUPONS_PER_LEASE = 32;
/** The oldest due rows a lease looks at to choose its coupons. */
const COUPON_WINDOW_ROWS = 2000;

/**
 * The relay's SQL (the writes of events live beside the changes they record, in the claims and
 * coupons repositories).
 *
 * A lease is one transaction: it takes up to COUPONS_PER_LEASE coupons with due rows, each by a
 * transaction-level advisory lock (pg_try_advisory_xact_lock: taken or skipped, never waited
 * for), then their oldest due rows in id order FOR UPDATE SKIP LOCKED. `publish` runs with the
 * transaction open; sent rows are deleted and refused ones rescheduled before it commits. So:
 *  - one coupon's events are relayed by one process at a time, in id order, which is their
 *    commit order (each is written under the coupon row lock). Row locks alone would not do:
 *    SKIP LOCKED lets a second relay take a coupon's later rows while the first still
 *    publishes its earlier ones.
 *  - the row select is a new statement after the advisory lock is held, so it sees the deletes
 *    of the relay that held the coupon before (committed before its lock was released).
 *  - a relay that dies mid-lease (process killed, connection cut) rolls back: its rows are
 *    leased again and published again (a duplicate after a fault, never a loss).
 */
@Injectable()
export class OutboxRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Leases up to `limit` due rows and hands them to `publish`, which says what became of each;
   * the outcome is written and the lease committed. Rows with no outcome stay as they were.
   * `maxAttempts`: a refused row's tries before it is dead; `retryDelayMs` doubles per try.
   * `holdMs` bounds how long the lease may sit idle waiting for `publish`. Returns the rows leased.
   */
  async lease(
    limit: number,
    holdMs: number,
    publish: (rows: OutboxRow[]) => Promise<LeaseOutcome>,
    retry: { maxAttempts: number; retryDelayMs: number },
  ): Promise<number> {
    // An idle relay polls often: one indexed look, not a transaction of four statements.
    const [due] = await this.dataSource.query(
      'SELECT 1 FROM outbox_events WHERE dead_at IS NULL AND next_attempt_at <= clock_timestamp() LIMIT 1',
    );
    if (!due) return 0;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    let open = false;
    try {
      await runner.query('BEGIN');
      open = true;
      // The lease idles while the broker confirms; the service's default would end it sooner.
      await runner.query(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [String(holdMs)]);
      const rows = await this.leaseRows(runner, limit);
      if (rows.length === 0) {
        await runner.query('COMMIT');
        open = false;
        return 0;
      }
      const outcome = await publish(rows);
      await this.settle(runner, outcome, retry);
      await runner.query('COMMIT');
      open = false;
      return rows.length;
    } finally {
      if (open && !runner.isReleased) await runner.query('ROLLBACK').catch(() => undefined);
      await runner.release();
    }
  }

  private async leaseRows(runner: QueryRunner, limit: number): Promise<OutboxRow[]> {
    // The coupons of the oldest due rows (a window of the primary key, so a backlog of a
    // million rows after an outage costs no more per lease than ten), oldest first: no coupon
    // starves. The advisory lock sits outside the subqueries: PostgreSQL does not push a
    // volatile condition into them, so only the chosen coupons are tried. Rows held behind a
    // waiting row are not due here either: a coupon blocked with thousands of rows must not fill
    // the window and starve every other coupon until its backoff ends.
    const coupons: { coupon_id: string }[] = await runner.query(
      `SELECT due.coupon_id FROM (
         SELECT coupon_id, min(id) AS first_id FROM (
           SELECT id, coupon_id FROM outbox_events o
            WHERE dead_at IS NULL AND next_attempt_at <= clock_timestamp() AND ${NOT_BEHIND_A_WAITING_ROW}
            ORDER BY id LIMIT $2) oldest
          GROUP BY coupon_id ORDER BY first_id LIMIT $1) due
        WHERE pg_try_advisory_xact_lock(hashtextextended('outbox_events:' || due.coupon_id, 0))`,
      [COUPONS_PER_LEASE, COUPON_WINDOW_ROWS],
    );
    if (coupons.length === 0) return [];
    return runner.query(
      `SELECT id, event_id, event_type, coupon_name, payload, occurred_at, attempts FROM outbox_events o
        WHERE coupon_id = ANY($1::bigint[]) AND dead_at IS NULL AND next_attempt_at <= clock_timestamp()
          AND ${NOT_BEHIND_A_WAITING_ROW}
        ORDER BY id LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [coupons.map((c) => c.coupon_id), limit],
    );
  }

  private async settle(runner: QueryRunner, outcome: LeaseOutcome, retry: { maxAttempts: number; retryDelayMs: number }): Promise<void> {
    if (outcome.sent.length > 0) await runner.query('DELETE FROM outbox_events WHERE id = ANY($1::bigint[])', [outcome.sent]);
    if (outcome.refused.length === 0) return;
    await runner.query(
      `UPDATE outbox_events o
          SET attempts = o.attempts + 1, last_error = r.error,
              next_attempt_at = clock_timestamp() + make_interval(secs => LEAST($2::float8 * 2 ^ LEAST(o.attempts, 30) / 1000, 3600)),
              dead_at = CASE WHEN o.attempts + 1 >= $3 THEN clock_timestamp() END
         FROM unnest($1::bigint[], $4::text[]) AS r(id, error)
        WHERE o.id = r.id`,
      [outcome.refused.map((r) => r.id), retry.retryDelayMs, retry.maxAttempts, outcome.refused.map((r) => r.error.slice(0, 500))],
    );
  }

  /** The outbox at a glance, for the gauges. */
  async stats(): Promise<OutboxStats> {
    const [row] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE dead_at IS NULL)::int AS pending,
              count(*) FILTER (WHERE dead_at IS NOT NULL)::int AS dead,
              coalesce(extract(epoch FROM clock_timestamp() - min(occurred_at) FILTER (WHERE dead_at IS NULL)), 0)::float8 AS oldest
         FROM outbox_events`,
    );
    return { pending: row.pending, dead: row.dead, oldestPendingAgeSeconds: row.oldest };
  }

  /** Dead-lettered rows, oldest first, for an operator. */
  deadLetters(limit: number): Promise<
    {
      id: string;
      event_id: string;
      event_type: string;
      coupon_name: string;
      attempts: number;
      last_error: string | null;
      occurred_at: Date;
      dead_at: Date;
    }[]
  > {
    return this.dataSource.query(
      `SELECT id, event_id, event_type, coupon_name, attempts, last_error, occurred_at, dead_at
         FROM outbox_events WHERE dead_at IS NOT NULL ORDER BY id LIMIT $1`,
      [limit],
    );
  }

  /** Puts dead-lettered rows (these event ids, or all when null) back in line with fresh tries; how many. */
  async replay(eventIds: string[] | null): Promise<number> {
    const [rows]: [unknown[], number] = await this.dataSource.query(
      `UPDATE outbox_events SET dead_at = NULL, attempts = 0, next_attempt_at = '-infinity'
        WHERE dead_at IS NOT NULL AND ($1::uuid[] IS NULL OR event_id = ANY($1::uuid[]))
        RETURNING id`,
      [eventIds],
    );
    return rows.length;
  }
}
