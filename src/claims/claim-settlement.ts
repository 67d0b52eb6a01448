import { Injectable, Logger } from '@nestjs/common';
import { constraintOf, isCheckViolation, isDatabaseUnavailable, isForeignKeyViolation, isUniqueViolation } from '../common/database-errors';
import { DomainError, claimOutcomeUnknown, databaseUnavailable } from '../common/domain-error';
import { KEY_TAKEN_CONSTRAINT } from '../idempotency/idempotency-keys.repository';
import { LockBusyError, LockUnavailableError } from '../lock/lock.errors';
import { couponLockError, couponLockResource } from '../lock/coupon-lock';
import { LockOutcome, LockService } from '../lock/lock.service';
import { MetricsService } from '../metrics/metrics.service';
import type { BatchAnswer, CouponClaims } from './claim-outcome';
import { ClaimsRepository } from './claims.repository';
import { CommitOutcomeUnknownError } from './commit-confirmation';
import { DatabaseBreaker } from './database-breaker';
import { SoldOutMemory } from './sold-out-memory';

/**
 * Settles claims: the coupons' locks, then their transaction (ClaimsRepository). A coupon that
 * sells out is remembered; a failure becomes the domain error its claimants are answered with.
 */
@Injectable()
export class ClaimSettlement {
  private readonly logger = new Logger(ClaimSettlement.name);

  constructor(
    private readonly repository: ClaimsRepository,
    private readonly lock: LockService,
    private readonly metrics: MetricsService,
    private readonly soldOut: SoldOutMemory,
    private readonly breaker: DatabaseBreaker,
  ) {}

  /** The coupon's lock (with LOCK_RETRY_COUNT retries), then its own transaction. */
  async settleAlone(coupon: CouponClaims): Promise<BatchAnswer[]> {
    try {
      const { result, waitedMs } = await this.lock.withLock(couponLockResource(coupon.couponName), () => this.settleOrSplit([coupon]));
      this.metrics.observeLockWait(waitedMs);
      this.logger.debug(`settled ${coupon.claimants.length} claims of ${coupon.couponName}; lock wait ${waitedMs} ms`);
      return result[0].map((settled) => ({ ...settled, lockWaitMs: waitedMs }));
    } catch (error) {
      if (error instanceof LockBusyError) this.metrics.countLockFailure('busy');
      if (error instanceof LockUnavailableError) this.metrics.countLockFailure('unavailable');
      throw this.toDomainError(error, coupon.couponName);
    }
  }

  /**
   * Every coupon's lock in one Redlock attempt (all or nothing), then one transaction for all;
   * null when the attempt fails (another process or an admin update holds one of them): the
   * caller then settles each coupon alone, with the usual retries. Without this plan B, two
   * processes selling the same coupons would take turns 500 ms apart.
   */
  async settleTogether(batch: CouponClaims[]): Promise<BatchAnswer[][] | null> {
    let locked: LockOutcome<BatchAnswer[][]>;
    try {
      locked = await this.lock.withLock(
        batch.map((c) => couponLockResource(c.couponName)),
        () => this.settleOrSplit(batch),
        { retries: 0 },
      );
    } catch (error) {
      if (error instanceof LockBusyError || error instanceof LockUnavailableError) return null;
      throw error;
    }
    const { result, waitedMs } = locked;
    this.metrics.observeLockWait(waitedMs);
    this.logger.debug(`settled ${batch.length} coupons' claims together; lock wait ${waitedMs} ms`);
    return result.map((settled) => settled.map((claim) => ({ ...claim, lockWaitMs: waitedMs })));
  }

  /**
   * A constraint violation (possible only if someone wrote past the lock) aborts the whole
   * transaction; settle its coupons one by one, then a coupon's claimants one by one, so each
   * gets the answer the database gives it.
   */
  private async settleOrSplit(batch: CouponClaims[]): Promise<BatchAnswer[][]> {
    try {
      const settlements = await this.repository.settleCoupons(batch);
      settlements.forEach((settlement, i) => {
        if (settlement.couponId && settlement.remainingAmount === 0) {
          void this.soldOut.remember(batch[i].couponName, settlement.couponId, settlement.stockVersion);
        }
      });
      return settlements.map((settlement) => settlement.outcomes);
    } catch (error) {
      const fenced = isUniqueViolation(error) || isCheckViolation(error) || isForeignKeyViolation(error);
      if (!fenced) throw error;
      const names = batch.map((c) => c.couponName).join(', ');
      if (batch.length > 1) {
        this.logger.warn(`claim batch of ${names} hit the database fence; settling coupons one by one`);
        const results: BatchAnswer[][] = [];
        for (const coupon of batch) {
          // Each coupon commits alone now: an error of one must not answer for the others.
          const failed = (e: unknown) => [
            coupon.claimants.map(() => ({ kind: 'failed' as const, error: this.toDomainError(e, coupon.couponName) })),
          ];
          results.push(...(await this.settleOrSplit([coupon]).catch(failed)));
        }
        return results;
      }
      const [{ couponName, claimants }] = batch;
      if (claimants.length === 1) return [[this.fencedAnswer(error, couponName)]];
      this.logger.warn(`claim batch of ${couponName} hit the database fence; settling members one by one`);
      const results: BatchAnswer[] = [];
      for (const claimant of claimants) {
        results.push(
          ...(await this.settleOrSplit([{ couponName, claimants: [claimant] }]).then(
            ([settled]) => settled,
            (e) => [{ kind: 'failed' as const, error: this.toDomainError(e, couponName) }],
          )),
        );
      }
      return [results];
    }
  }

  private fencedAnswer(error: unknown, couponName: string): BatchAnswer {
    if (isUniqueViolation(error) && constraintOf(error) === KEY_TAKEN_CONSTRAINT) return { kind: 'key_taken' };
    if (isUniqueViolation(error)) return { kind: 'already_claimed' };
    if (isCheckViolation(error)) return { kind: 'sold_out' };
    // The token is valid but its user has been deleted since it was issued.
    this.logger.warn(`claim of ${couponName} by a user that no longer exists`);
    return { kind: 'failed', error: new DomainError('TOKEN_INVALID', 'The user of this token no longer exists') };
  }

  /** The error a settlement failure is answered with; a lost database trips the breaker. */
  toDomainError(error: unknown, couponName: string): unknown {
    if (error instanceof DomainError) return error;
    if (error instanceof CommitOutcomeUnknownError) {
      this.breaker.trip();
      return claimOutcomeUnknown();
    }
    if (error instanceof LockUnavailableError) this.logger.warn(error.message);
    const lockError = couponLockError(error, couponName);
    if (lockError) return lockError;
    if (isDatabaseUnavailable(error)) {
      // Every database failure of the claim path is mapped here: the next batch asks first.
      this.breaker.trip();
      this.logger.warn(`claim of ${couponName} failed, database unavailable: ${(error as Error).message}`);
      return databaseUnavailable();
    }
    return error;
  }
}
