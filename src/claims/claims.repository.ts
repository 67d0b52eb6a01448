import { Inject, Injectable } from '@nestjs/common';
import { DataSource, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { SessionLostError, isDatabaseUnavailable } from '../common/database-errors';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { eventsWritten } from '../events/event-types';
import { withSpan } from '../tracing/tracing';
import type { PgConnection } from '../common/database-ping';
import { IdempotencyKeysRepository } from '../idempotency/idempotency-keys.repository';
import type { Claimant, CouponClaims, CouponSettlement } from './claim-outcome';
import { writeSettlement } from './claim-transaction';
import { CommitConfirmation } from './commit-confirmation';

/**
 * The settlement's transaction: BEGIN, its body (writeSettlement, claim-transaction.ts, where
 * the hot path's SQL and the invariants it relies on are), COMMIT; and when the COMMIT's answer
 * is lost, CommitConfirmation looks whether it landed.
 */
@Injectable()
export class ClaimsRepository {
  /** Whether the settlement writes claim events to the outbox (src/events/event-types.ts). */
  private readonly eventsWritten: boolean;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly keys: IdempotencyKeysRepository,
    private readonly confirmation: CommitConfirmation,
  ) {
    this.eventsWritten = eventsWritten(config);
  }

  /** Settles claimants of one coupon in one transaction: first come, first served. */
  async settle(couponName: string, claimants: Claimant[]): Promise<CouponSettlement> {
    const [settlement] = await this.settleCoupons([{ couponName, claimants }]);
    return settlement;
  }

  /** Settles the claimants of several coupons (distinct names) in one transaction; one settlement per coupon, in order. */
  settleCoupons(batch: CouponClaims[]): Promise<CouponSettlement[]> {
    return withSpan('claim.transaction', { 'claim.coupons': batch.length }, () => this.settleInTransaction(batch));
  }

  private async settleInTransaction(batch: CouponClaims[]): Promise<CouponSettlement[]> {
    const runner = this.dataSource.createQueryRunner();
    const connection: PgConnection = await runner.connect();
    let open = false;
    let committing = false;
    let settlements: CouponSettlement[] | undefined;
    try {
      // One statement, where TypeORM's startTransaction('READ COMMITTED') sends two: a round trip
      // inside the coupons' lock saved per batch. This method owns BEGIN, COMMIT and ROLLBACK.
      await runner.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      open = true;
      settlements = await writeSettlement(runner, batch, this.keys, this.eventsWritten);
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
      const error =
        thrown instanceof QueryRunnerAlreadyReleasedError
          ? new SessionLostError(`session lost mid-transaction: ${thrown.message}`)
          : thrown;
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
        return withSpan('claim.commit_confirmation', {}, () =>
          this.confirmation.confirmCommit(batch, settlements!, error as Error, connection.processID),
        );
      }
      throw error;
    } finally {
      await runner.release();
    }
  }
}
