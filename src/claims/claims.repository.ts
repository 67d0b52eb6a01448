import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DataSource, QueryRunner, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { SessionLostError, isDatabaseUnavailable } from '../common/database-errors';
import type { PgConnection } from '../common/database-ping';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { eventsWritten } from '../events/event-types';
import { SaleWindow, judgeClaims } from './claim-decision';
import { SoldOutMemorySource, StockState } from './sold-out-memory';

export interface Claimant {
  userId: string;
  username: string;
}

export type ClaimOutcome =
  | { kind: 'granted'; claimedAt: Date }
  | { kind: 'already_claimed' }
  | Exclude<SaleWindow, { kind: 'open' }>
  | { kind: 'sold_out' }
  | { kind: 'not_found' };

export interface Settlement {
  /** One outcome per claimant, in the order given. */
  outcomes: ClaimOutcome[];
  couponId: string | null;
  remainingAmount: number;
  stockVersion: number;
}

/** The claimants of one coupon in a batch, in arrival order. */
export interface CouponClaims {
  couponName: string;
  claimants: Claimant[];
}

/**
 * The sale window judged by the database's clock (one clock for every API process), read
 * once as `t.now` so both bounds see the same instant. Needs `coupons c` and `t(now)`.
 */
const SALE_WINDOW_COLUMNS = `
  CASE WHEN c.starts_at > t.now THEN 'not_started' WHEN c.ends_at <= t.now THEN 'ended' ELSE 'open' END AS sale_window,
  GREATEST(1, ceil(extract(epoch FROM c.starts_at - t.now)))::int AS seconds_until_start`;

interface SaleWindowRow {
  sale_window: SaleWindow['kind'];
  seconds_until_start: number | null;
}

const toSaleWindow = (row: SaleWindowRow): SaleWindow =>
  row.sale_window === 'not_started'
    ? { kind: 'not_started', secondsUntilStart: row.seconds_until_start ?? 1 }
    : { kind: row.sale_window };

/**
 * The hot path's SQL, all of it. Invariants it relies on (created by the migrations):
 *  - UNIQUE (user_id, coupon_id): a user can hold a coupon once, whatever the lock did;
 *  - CHECK (remaining_amount BETWEEN 0 AND amount) and the conditional decrement below:
 *    stock cannot go negative, so claims never exceed the amount;
 *  - the decrement and the inserts commit together, so remaining_amount = amount - rows.
 * The coupon rows are locked FOR UPDATE first, in name order (two batches sharing coupons
 * cannot deadlock), so concurrent settlements of a coupon queue in PostgreSQL even when a
 * Redlock lease has expired, and so do admin updates (which lock one row too): the window and
 * stock a batch judges cannot change before it commits.
 * A coupon must exist; then `judgeClaims` (claim-decision.ts) decides each of its claimants,
 * coupon by coupon: a batch of several coupons is several independent decisions in one
 * transaction (one round trip per statement for all of them, and one commit).
 */
@Injectable()
export class ClaimsRepository implements SoldOutMemorySource {
  private readonly logger = new Logger(ClaimsRepository.name);

  /** Whether the settlement writes claim events to the outbox (src/events/event-types.ts). */
  private readonly eventsWritten: boolean;

  constructor(
    private readonly dataSource: DataSource,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    this.eventsWritten = eventsWritten(config);
  }

  /** Settles claimants of one coupon in one transaction: first come, first served. */
  async settle(couponName: string, claimants: Claimant[]): Promise<Settlement> {
    const [settlement] = await this.settleCoupons([{ couponName, claimants }]);
    return settlement;
  }

  /** Settles the claimants of several coupons (distinct names) in one transaction; one settlement per coupon, in order. */
  async settleCoupons(batch: CouponClaims[]): Promise<Settlement[]> {
    const runner = this.dataSource.createQueryRunner();
    const connection: PgConnection = await runner.connect();
    let open = false;
    let committing = false;
    let settlements: Settlement[] | undefined;
    try {
      // One statement, where TypeORM's startTransaction('READ COMMITTED') sends two: a round trip
      // inside the coupons' lock saved per batch. This method owns BEGIN, COMMIT and ROLLBACK.
      await runner.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      open = true;
      settlements = await this.decide(runner, batch);
      // Once COMMIT is sent the transaction is over, committed or not (PostgreSQL rolls back a
      // failed commit); only a lost connection leaves its fate unknown, and confirmCommit looks.
      committing = true;
      open = false;
      await runner.query('COMMIT');
      return settlements;
    } catch (thrown) {
      // TypeORM releases the runner when its connection fails (PostgreSQL ended the session
      // while this process stalled, past DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS): the
      // "already released" that follows is that failure, and answers like it (503).
      const error = thrown instanceof QueryRunnerAlreadyReleasedError ? new SessionLostError(`session lost mid-transaction: ${thrown.message}`) : thrown;
      if (isDatabaseUnavailable(error)) {
        // The link is dead or wedged (a query got no answer): a ROLLBACK sent over it would wait
        // out a second query timeout (measured: 12 s instead of 6 before the batch answered), and
        // the pool would lend the wedged connection again. Closing it ends the session, which
        // rolls back whatever it held; the pool then drops it.
        void connection.end().catch(() => undefined);
      } else if (open && !runner.isReleased) {
        await runner.query('ROLLBACK').catch(() => undefined);
      }
      if (committing && settlements && isDatabaseUnavailable(error)) {
        // The connection died during COMMIT: the claims may or may not be in. Look, don't guess.
        return this.confirmCommit(batch, settlements, error as Error, connection.processID);
      }
      throw error;
    } finally {
      await runner.release();
    }
  }

  private async decide(runner: QueryRunner, batch: CouponClaims[]): Promise<Settlement[]> {
    const names = batch.map((b) => b.couponName);
    const coupons: { id: string; name: string; remaining_amount: number; stock_version: number }[] = await runner.query(
      'SELECT id, name, remaining_amount, stock_version FROM coupons WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE',
      [names],
    );
    const byName = new Map(coupons.map((c) => [c.name, c]));
    const found = batch.filter((b) => byName.has(b.couponName));

    // The clock is read after the row locks are held: a batch that waited behind an update judges
    // the window as it is when it may act, never as it was when it started waiting. Holders are
    // looked up per (coupon, claimant) pair: every claimant against every coupon of the batch
    // would be coupons x claimants index probes (10,000 for 50 coupons and 200 claims).
    const pairs = found.flatMap((b) => b.claimants.map((c) => ({ couponId: String(byName.get(b.couponName)!.id), userId: c.userId })));
    const judged: (SaleWindowRow & { id: string; holders: string[] })[] = found.length === 0 ? [] : await runner.query(
      `SELECT c.id, ${SALE_WINDOW_COLUMNS}, coalesce(h.holders, '{}') AS holders
         FROM coupons c
        CROSS JOIN (SELECT clock_timestamp() AS now) t
         LEFT JOIN (SELECT uc.coupon_id, array_agg(uc.user_id::text) AS holders
                      FROM unnest($2::bigint[], $3::bigint[]) AS g(coupon_id, user_id)
                      JOIN user_claims uc ON uc.coupon_id = g.coupon_id AND uc.user_id = g.user_id
                     GROUP BY uc.coupon_id) h ON h.coupon_id = c.id
        WHERE c.id = ANY($1::bigint[])`,
      [found.map((b) => byName.get(b.couponName)!.id), pairs.map((p) => p.couponId), pairs.map((p) => p.userId)],
    );
    const judgedById = new Map(judged.map((row) => [String(row.id), row]));

    const verdicts = batch.map(({ couponName, claimants }) => {
      const coupon = byName.get(couponName);
      if (!coupon) return null;
      const row = judgedById.get(String(coupon.id))!;
      const userIds = claimants.map((c) => c.userId);
      return judgeClaims(userIds, { holders: new Set(row.holders), window: toSaleWindow(row), remaining: coupon.remaining_amount });
    });
    const grants = batch.flatMap(({ couponName, claimants }, i) =>
      claimants.filter((_, j) => verdicts[i]?.[j].kind === 'grant').map((c) => ({ couponId: String(byName.get(couponName)!.id), userId: c.userId })),
    );

    const claimedAt = new Map<string, Date>();
    const claimKey = (couponId: string, userId: string) => `${couponId}:${userId}`;
    if (grants.length > 0) {
      const perCoupon = new Map<string, number>();
      for (const g of grants) perCoupon.set(g.couponId, (perCoupon.get(g.couponId) ?? 0) + 1);
      // Each coupon is decremented by its grants only if it has them (the CHECK and this condition
      // fence the stock), and only decremented coupons get rows. The same statement writes the
      // events (when they are on, $5): one claim.granted per row in claim order, then
      // coupon.sold_out for a coupon whose last unit this batch took. Under the coupon row lock,
      // so the outbox id order is the coupon's commit order (src/events/outbox.repository.ts).
      const inserted: { user_id: string; coupon_id: string; claimed_at: Date }[] = await runner.query(
        `WITH decremented AS (
           UPDATE coupons c SET remaining_amount = c.remaining_amount - w.granted, updated_at = now()
             FROM unnest($3::bigint[], $4::int[]) AS w(coupon_id, granted)
            WHERE c.id = w.coupon_id AND c.remaining_amount >= w.granted
            RETURNING c.id, c.name, c.remaining_amount),
         claimed AS (
           INSERT INTO user_claims (user_id, coupon_id)
           SELECT g.user_id, g.coupon_id
             FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS g(user_id, coupon_id, arrival)
             JOIN decremented ON decremented.id = g.coupon_id
            ORDER BY g.arrival
           RETURNING id, user_id, coupon_id, claimed_at),
         events AS (
           INSERT INTO outbox_events (event_type, coupon_id, coupon_name, payload, occurred_at)
           SELECT e.event_type, e.coupon_id, e.coupon_name, e.payload, e.occurred_at
             FROM (SELECT 'claim.granted' AS event_type, d.id AS coupon_id, d.name AS coupon_name, cl.id AS claim_id,
                          jsonb_build_object('user_id', u.username, 'claimed_at', cl.claimed_at) AS payload, cl.claimed_at AS occurred_at
                     FROM claimed cl JOIN decremented d ON d.id = cl.coupon_id JOIN users u ON u.id = cl.user_id
                   UNION ALL
                   SELECT 'coupon.sold_out', d.id, d.name, NULL, '{}'::jsonb, clock_timestamp()
                     FROM decremented d WHERE d.remaining_amount = 0) e
            WHERE $5::boolean
            ORDER BY e.coupon_id, e.claim_id NULLS LAST)
         SELECT user_id, coupon_id, claimed_at FROM claimed`,
        [grants.map((g) => g.userId), grants.map((g) => g.couponId), [...perCoupon.keys()], [...perCoupon.values()], this.eventsWritten],
      );
      if (inserted.length !== grants.length) {
        // Only possible if a row changed under FOR UPDATE; refuse rather than guess.
        throw new Error(`claim settlement of ${names.join(', ')} inserted ${inserted.length}/${grants.length} rows`);
      }
      for (const row of inserted) claimedAt.set(claimKey(String(row.coupon_id), String(row.user_id)), row.claimed_at);
    }

    return batch.map(({ couponName, claimants }, i): Settlement => {
      const coupon = byName.get(couponName);
      if (!coupon) return { outcomes: claimants.map(() => ({ kind: 'not_found' })), couponId: null, remainingAmount: 0, stockVersion: 0 };
      const couponId = String(coupon.id);
      let granted = 0;
      const outcomes = claimants.map((claimant, j): ClaimOutcome => {
        const verdict = verdicts[i]![j];
        if (verdict.kind === 'grant') {
          granted++;
          return { kind: 'granted', claimedAt: claimedAt.get(claimKey(couponId, claimant.userId))! };
        }
        if (verdict.kind === 'needs_state') throw new Error('judgeClaims asked for facts the settlement gave it');
        return verdict;
      });
      return { outcomes, couponId, remainingAmount: coupon.remaining_amount - granted, stockVersion: coupon.stock_version };
    });
  }

  /**
   * The COMMIT got no answer: the claims are in or not, and the server may still be committing
   * (a slow disk, a synchronous standby away). So the session that sent it is ended first and
   * seen gone (a backend finishes a commit before it exits); only then are the rows counted.
   * A session that will not go, or a database that cannot be asked, leaves the outcome unknown:
   * the original error (503), as decisions.md says.
   */
  private async confirmCommit(batch: CouponClaims[], settlements: Settlement[], cause: Error, sessionPid?: number): Promise<Settlement[]> {
    const granted = batch.flatMap(({ claimants }, i) =>
      claimants.filter((_, j) => settlements[i].outcomes[j].kind === 'granted').map((c) => ({ userId: c.userId, couponId: settlements[i].couponId! })),
    );
    const names = batch.map((b) => b.couponName).join(', ');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (sessionPid !== undefined && !(await this.sessionEnded(sessionPid))) continue;
        const [{ found }]: { found: number }[] = await this.dataSource.query(
          `SELECT count(*)::int AS found
             FROM user_claims uc JOIN unnest($1::bigint[], $2::bigint[]) AS g(user_id, coupon_id)
               ON uc.user_id = g.user_id AND uc.coupon_id = g.coupon_id`,
          [granted.map((g) => g.userId), granted.map((g) => g.couponId)],
        );
        if (found === granted.length) {
          this.logger.warn(`commit of ${names} reported "${cause.message}" but the claims are in; answering 200`);
          return settlements;
        }
        if (found === 0) throw cause;
        // Partial cannot happen in one transaction; anything else is a bug worth shouting about.
        throw new Error(`partial commit seen for ${names}: ${found}/${granted.length}`);
      } catch (error) {
        if (error === cause || !isDatabaseUnavailable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
    }
    this.logger.error(`could not confirm the commit of a claim batch for ${names}: ${cause.message}`);
    throw cause;
  }

  /**
   * Ends the session `pid` if it is still there (only one of this service's own sessions: the
   * same application_name) and waits up to a second to see it gone.
   */
  private async sessionEnded(pid: number): Promise<boolean> {
    await this.dataSource.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid = $1 AND application_name = current_setting('application_name')`,
      [pid],
    );
    for (let look = 0; look < 10; look++) {
      const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (rows.length === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  /** The stock version and the sale window now; null when the coupon does not exist. */
  async stockState(couponName: string): Promise<StockState | null> {
    const rows: (SaleWindowRow & { stock_version: number })[] = await this.dataSource.query(
      `SELECT c.stock_version, ${SALE_WINDOW_COLUMNS}
         FROM coupons c, (SELECT clock_timestamp() AS now) t
        WHERE c.name = $1`,
      [couponName],
    );
    return rows.length === 0 ? null : { stockVersion: rows[0].stock_version, window: toSaleWindow(rows[0]) };
  }

  /** All holders of a coupon; read once it is sold out, when the set cannot grow without a stock update. */
  async holderIds(couponId: string): Promise<string[]> {
    const rows: { user_id: string }[] = await this.dataSource.query(
      'SELECT user_id FROM user_claims WHERE coupon_id = $1',
      [couponId],
    );
    return rows.map((row) => String(row.user_id));
  }

  /** Up to `count` of a user's claims below the claim id `beforeId` (or from the newest), newest first, with their coupons' names. */
  heldBy(userId: string, beforeId: string | null, count: number): Promise<{ id: string; coupon_name: string; claimed_at: Date }[]> {
    return this.dataSource.query(
      `SELECT uc.id, c.name AS coupon_name, uc.claimed_at
         FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id
        WHERE uc.user_id = $1 AND ($2::bigint IS NULL OR uc.id < $2::bigint)
        ORDER BY uc.id DESC LIMIT $3`,
      [userId, beforeId, count],
    );
  }
}
