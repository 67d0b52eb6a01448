import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { isCheckViolation, isDatabaseUnavailable, isForeignKeyViolation, isUniqueViolation } from '../common/database-errors';
import {
  DomainError,
  alreadyClaimed,
  couponNotFound,
  databaseUnavailable,
  lockBusy,
  saleEnded,
  saleNotStarted,
  soldOut,
} from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { LockBusyError, LockUnavailableError } from '../lock/lock.errors';
import { couponLockError, couponLockResource } from '../lock/coupon-lock';
import { LockService } from '../lock/lock.service';
import { RequestLogFields } from '../logging/request-logging';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimiter } from '../rate-limit/rate-limiter.service';
import { sameUsername } from '../users/dto/credentials.dto';
import { ClaimBatcher, QueueWaitExpiredError } from './claim-batcher';
import { Claimant, ClaimOutcome, ClaimsRepository } from './claims.repository';
import { RememberedRefusal, SoldOutMemory } from './sold-out-memory';

export interface ClaimView {
  coupon_name: string;
  user_id: string;
  claimed_at: string;
}

type SettledClaim = (ClaimOutcome | { kind: 'failed'; error: unknown }) & { lockWaitMs?: number };

@Injectable()
export class ClaimsService implements OnApplicationShutdown {
  private readonly logger = new Logger(ClaimsService.name);
  private readonly batcher: ClaimBatcher<Claimant, SettledClaim>;
  private readonly soldOut: SoldOutMemory;
  /** A batch lost the database and none has reached it since: check before taking a coupon lock. */
  private databaseLost = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly repository: ClaimsRepository,
    private readonly lock: LockService,
    private readonly metrics: MetricsService,
  ) {
    this.batcher = new ClaimBatcher<Claimant, SettledClaim>(
      (couponName, claimants) => this.settleBatch(couponName, claimants),
      config.CLAIM_BATCH_SIZE,
      config.CLAIM_BATCH_MAX_WAIT_MS,
      (_couponName, size) => this.metrics.observeBatch(size),
      config.CLAIM_QUEUE_TIMEOUT_MS,
    );
    this.soldOut = new SoldOutMemory(repository, config.SOLD_OUT_READ_REUSE_MS);
  }

  /** Claims a coupon; counts the outcome and adds coupon, outcome and lock wait to `logFields` (the request's line). */
  async claim(
    user: AuthenticatedUser,
    couponName: string,
    requestedUsername?: string,
    logFields: RequestLogFields = {},
  ): Promise<ClaimView> {
    const remembered = await this.refusalFromMemory(user, couponName, requestedUsername, logFields);
    if (remembered) throw remembered;
    const report = { lockWaitMs: undefined as number | undefined };
    let outcome = 'GRANTED';
    try {
      return await this.decide(user, couponName, requestedUsername, report);
    } catch (error) {
      outcome = error instanceof DomainError ? error.code : 'INTERNAL_ERROR';
      throw error;
    } finally {
      this.record(couponName, outcome, report.lockWaitMs ?? null, logFields);
    }
  }

  /** Whether this process remembers `couponName` as sold out (a Map lookup; the fast path's first filter). */
  knowsSoldOut(couponName: unknown): boolean {
    return this.soldOut.knows(couponName);
  }

  /**
   * The refusal for a claim this process can answer from its sold-out memory (ALREADY_CLAIMED,
   * SOLD_OUT or the sale window, judged on a read made after the claim arrived), counted and
   * logged like any claim; null when the claim needs the full path, including when the read
   * fails (the batch then meets the same database and answers for itself). Never grants. The
   * one refusal method of both entry points: `claim` and the fast path.
   */
  async refusalFromMemory(
    user: AuthenticatedUser,
    couponName: string,
    requestedUsername: string | undefined,
    logFields: RequestLogFields,
  ): Promise<DomainError | null> {
    if (requestedUsername !== undefined && !sameUsername(requestedUsername, user.username)) return null;
    const remembered = await this.soldOut.answer(couponName, user.id).catch(() => null);
    if (!remembered) return null;
    const refusal = refusalError(couponName, remembered);
    this.record(couponName, refusal.code, null, logFields);
    return refusal;
  }

  private record(couponName: string, outcome: string, lockWaitMs: number | null, logFields: RequestLogFields): void {
    this.metrics.countClaim(outcome);
    logFields.coupon = couponName;
    logFields.outcome = outcome;
    logFields.lock_wait_ms = lockWaitMs;
  }

  private async decide(
    user: AuthenticatedUser,
    couponName: string,
    requestedUsername: string | undefined,
    report: { lockWaitMs?: number },
  ): Promise<ClaimView> {
    if (requestedUsername !== undefined && !sameUsername(requestedUsername, user.username)) {
      throw new DomainError('USER_MISMATCH', 'user_id must be the username of the token holder');
    }
    // The per-user limit guards the lock and the database. A refusal from memory costs less
    // than the Redis round trip of the limit itself (measured: ~13% of CPU on that path), so
    // only claims that will reach a batch are counted.
    await this.rateLimiter.consume([
      { key: `claim:user:${user.id}`, limit: this.config.CLAIM_RATE_LIMIT_PER_USER, windowMs: this.config.CLAIM_RATE_LIMIT_WINDOW_MS },
    ]);
    const outcome = await this.batcher.submit(couponName, { userId: user.id, username: user.username }).catch((error: unknown) => {
      if (!(error instanceof QueueWaitExpiredError)) throw error;
      // Never settled: the batch ahead is stuck (its process lost the database); retry, perhaps elsewhere.
      this.metrics.countLockFailure('busy');
      throw lockBusy(couponName);
    });
    report.lockWaitMs = outcome.lockWaitMs;
    switch (outcome.kind) {
      case 'granted':
        return { coupon_name: couponName, user_id: user.username, claimed_at: outcome.claimedAt.toISOString() };
      case 'not_found':
        throw couponNotFound(couponName);
      case 'failed':
        throw outcome.error;
      default:
        throw refusalError(couponName, outcome);
    }
  }

  /** One lock, one transaction, one answer per claimant. */
  private async settleBatch(couponName: string, claimants: Claimant[]): Promise<SettledClaim[]> {
    if (this.databaseLost) {
      // Cut off from PostgreSQL but not from Redis, this process would take the lease and hold
      // it through a query timeout, keeping every other process from the coupon: ask first.
      if (!(await this.repository.answers(this.config.HEALTH_TIMEOUT_MS))) {
        this.logger.warn(`claim of ${couponName} refused: the database still does not answer`);
        throw databaseUnavailable();
      }
      this.databaseLost = false;
    }
    try {
      const { result, waitedMs } = await this.lock.withLock(couponLockResource(couponName), () =>
        this.settleOrSplit(couponName, claimants),
      );
      this.metrics.observeLockWait(waitedMs);
      this.logger.debug(`settled ${claimants.length} claims of ${couponName}; lock wait ${waitedMs} ms`);
      return result.map((settled) => ({ ...settled, lockWaitMs: waitedMs }));
    } catch (error) {
      if (isDatabaseUnavailable(error)) this.databaseLost = true;
      if (error instanceof LockBusyError) this.metrics.countLockFailure('busy');
      if (error instanceof LockUnavailableError) this.metrics.countLockFailure('unavailable');
      throw this.toDomainError(error, couponName);
    }
  }

  /**
   * A constraint violation (possible only if someone wrote past the lock) aborts the whole
   * batch; settle its members one by one so each gets the answer the database gives it.
   */
  private async settleOrSplit(couponName: string, claimants: Claimant[]): Promise<SettledClaim[]> {
    try {
      const settlement = await this.repository.settle(couponName, claimants);
      if (settlement.couponId && settlement.remainingAmount === 0) {
        void this.soldOut.remember(couponName, settlement.couponId, settlement.stockVersion);
      }
      return settlement.outcomes;
    } catch (error) {
      const fenced = isUniqueViolation(error) || isCheckViolation(error) || isForeignKeyViolation(error);
      if (!fenced) throw error;
      if (claimants.length === 1) return [this.fencedOutcome(error, couponName)];
      this.logger.warn(`claim batch of ${couponName} hit the database fence; settling members one by one`);
      const results: SettledClaim[] = [];
      for (const claimant of claimants) {
        results.push(...(await this.settleOrSplit(couponName, [claimant]).catch((e) => [{ kind: 'failed' as const, error: this.toDomainError(e, couponName) }])));
      }
      return results;
    }
  }

  private fencedOutcome(error: unknown, couponName: string): SettledClaim {
    if (isUniqueViolation(error)) return { kind: 'already_claimed' };
    if (isCheckViolation(error)) return { kind: 'sold_out' };
    // The token is valid but its user has been deleted since it was issued.
    this.logger.warn(`claim of ${couponName} by a user that no longer exists`);
    return { kind: 'failed', error: new DomainError('TOKEN_INVALID', 'The user of this token no longer exists') };
  }

  private toDomainError(error: unknown, couponName: string): unknown {
    if (error instanceof DomainError) return error;
    if (error instanceof LockUnavailableError) this.logger.warn(error.message);
    const lockError = couponLockError(error, couponName);
    if (lockError) return lockError;
    if (isDatabaseUnavailable(error)) {
      this.logger.warn(`claim of ${couponName} failed, database unavailable: ${(error as Error).message}`);
      return databaseUnavailable();
    }
    return error;
  }

  /** Lets in-flight claims finish before the pools close. */
  async onApplicationShutdown(): Promise<void> {
    await this.batcher.whenIdle();
  }
}

function refusalError(couponName: string, refusal: RememberedRefusal): DomainError {
  switch (refusal.kind) {
    case 'already_claimed':
      return alreadyClaimed(couponName);
    case 'not_started':
      return saleNotStarted(couponName, refusal.secondsUntilStart);
    case 'ended':
      return saleEnded(couponName);
    case 'sold_out':
      return soldOut(couponName);
  }
}
