import { Injectable, Logger } from '@nestjs/common';
import { DataSource, QueryRunner, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { SessionLostError, isDatabaseUnavailable } from '../common/database-errors';
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

/** What this file uses of the pg client under a query runner. */
interface PgConnection {
  query(config: { text: string; query_timeout: number }): Promise<unknown>;
  end(): Promise<void>;
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
 * The coupon row is locked FOR UPDATE first, so concurrent settlements of one coupon queue
 * in PostgreSQL even when a Redlock lease has expired, and so do admin updates (which lock it
 * too): the window and stock a batch judges cannot change before it commits.
 * The coupon must exist; then `judgeClaims` (claim-decision.ts) decides each claimant.
 */
@Injectable()
export class ClaimsRepository implements SoldOutMemorySource {
  private readonly logger = new Logger(ClaimsRepository.name);

  constructor(private readonly dataSource: DataSource) {}

  /** Settles claimants of one coupon in one transaction: first come, first served. */
  async settle(couponName: string, claimants: Claimant[]): Promise<Settlement> {
    const runner = this.dataSource.createQueryRunner();
    const connection: PgConnection = await runner.connect();
    let committing = false;
    let settlement: Settlement | undefined;
    try {
      await runner.startTransaction('READ COMMITTED');
      settlement = await this.decide(runner, couponName, claimants);
      committing = true;
      await runner.commitTransaction();
      return settlement;
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
      } else if (runner.isTransactionActive && !committing) {
        await runner.rollbackTransaction().catch(() => undefined);
      }
      if (committing && settlement && isDatabaseUnavailable(error)) {
        // The connection died during COMMIT: the claims may or may not be in. Look, don't guess.
        return this.confirmCommit(couponName, claimants, settlement, error as Error);
      }
      throw error;
    } finally {
      await runner.release();
    }
  }

  private async decide(runner: QueryRunner, couponName: string, claimants: Claimant[]): Promise<Settlement> {
    const coupons: { id: string; remaining_amount: number; stock_version: number }[] = await runner.query(
      'SELECT id, remaining_amount, stock_version FROM coupons WHERE name = $1 FOR UPDATE',
      [couponName],
    );
    if (coupons.length === 0) {
      return { outcomes: claimants.map(() => ({ kind: 'not_found' })), couponId: null, remainingAmount: 0, stockVersion: 0 };
    }
    const [{ id: couponId, remaining_amount: remaining, stock_version: stockVersion }] = coupons;
    const userIds = claimants.map((c) => c.userId);

    // The clock is read after the row lock is held: a batch that waited behind an update judges
    // the window as it is when it may act, never as it was when it started waiting.
    const [judged]: (SaleWindowRow & { holders: string[] })[] = await runner.query(
      `SELECT ${SALE_WINDOW_COLUMNS},
              ARRAY(SELECT uc.user_id::text FROM user_claims uc
                     WHERE uc.coupon_id = c.id AND uc.user_id = ANY($2::bigint[])) AS holders
         FROM coupons c, (SELECT clock_timestamp() AS now) t
        WHERE c.id = $1`,
      [couponId, userIds],
    );
    const verdicts = judgeClaims(userIds, { holders: new Set(judged.holders), window: toSaleWindow(judged), remaining });
    const grantees = userIds.filter((_, i) => verdicts[i].kind === 'grant');

    const claimedAt = new Map<string, Date>();
    if (grantees.length > 0) {
      const inserted: { user_id: string; claimed_at: Date }[] = await runner.query(
        `WITH decremented AS (
           UPDATE coupons SET remaining_amount = remaining_amount - $3, updated_at = now()
            WHERE id = $2 AND remaining_amount >= $3
            RETURNING id)
         INSERT INTO user_claims (user_id, coupon_id)
         SELECT g.user_id, decremented.id
           FROM decremented, unnest($1::bigint[]) WITH ORDINALITY AS g(user_id, arrival)
          ORDER BY g.arrival
         RETURNING user_id, claimed_at`,
        [grantees, couponId, grantees.length],
      );
      if (inserted.length !== grantees.length) {
        // Only possible if the row changed under FOR UPDATE; refuse rather than guess.
        throw new Error(`claim settlement of ${couponName} inserted ${inserted.length}/${grantees.length} rows`);
      }
      for (const row of inserted) claimedAt.set(String(row.user_id), row.claimed_at);
    }

    const outcomes = claimants.map((claimant, index): ClaimOutcome => {
      const verdict = verdicts[index];
      if (verdict.kind === 'grant') return { kind: 'granted', claimedAt: claimedAt.get(claimant.userId)! };
      if (verdict.kind === 'needs_state') throw new Error('judgeClaims asked for facts the settlement gave it');
      return verdict;
    });
    return { outcomes, couponId, remainingAmount: remaining - grantees.length, stockVersion };
  }

  private async confirmCommit(
    couponName: string,
    claimants: Claimant[],
    settlement: Settlement,
    cause: Error,
  ): Promise<Settlement> {
    const granted = claimants.filter((_, i) => settlement.outcomes[i].kind === 'granted').map((c) => c.userId);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const rows: { user_id: string }[] = await this.dataSource.query(
          'SELECT user_id FROM user_claims WHERE coupon_id = $1 AND user_id = ANY($2::bigint[])',
          [settlement.couponId, granted],
        );
        if (rows.length === granted.length) {
          this.logger.warn(`commit of ${couponName} reported "${cause.message}" but the claims are in; answering 200`);
          return settlement;
        }
        if (rows.length === 0) throw cause;
        // Partial cannot happen in one transaction; anything else is a bug worth shouting about.
        throw new Error(`partial commit seen for ${couponName}: ${rows.length}/${granted.length}`);
      } catch (error) {
        if (error === cause || !isDatabaseUnavailable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
    }
    this.logger.error(`could not confirm the commit of a claim batch for ${couponName}: ${cause.message}`);
    throw cause;
  }

  /**
   * Whether PostgreSQL answers a round trip within `timeoutMs`. A connection that stays silent
   * is closed, not lent again wedged; the ping itself ends within the connect timeout.
   */
  async answers(timeoutMs: number): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    const ping = (async () => {
      const connection: PgConnection = await runner.connect();
      try {
        await connection.query({ text: 'SELECT 1', query_timeout: timeoutMs });
      } catch (error) {
        void connection.end().catch(() => undefined);
        throw error;
      } finally {
        await runner.release();
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([ping.then(() => true, () => false), late]).finally(() => clearTimeout(timer));
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
}
