import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { constraintOf, isCheckViolation, isDatabaseUnavailable, isForeignKeyViolation, isUniqueViolation } from '../common/database-errors';
import { atMost } from '../common/at-most';
import { databaseAnswers } from '../common/database-ping';
import { DomainError, claimOutcomeUnknown, couponNotFound, databaseUnavailable, idempotencyKeyInUse, lockBusy } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { LockBusyError, LockUnavailableError } from '../lock/lock.errors';
import { couponLockError, couponLockResource } from '../lock/coupon-lock';
import { LockOutcome, LockService } from '../lock/lock.service';
import { Replay } from '../idempotency/idempotency-key';
import { KEY_TAKEN_CONSTRAINT } from '../idempotency/idempotency-keys.repository';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { RequestLogFields } from '../logging/request-logging';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimiter } from '../rate-limit/rate-limiter.service';
import { sameUsername } from '../common/identifiers';
import { BatchGroup, ClaimBatcher, QueueWaitExpiredError } from './claim-batcher';
import { ClaimView, refusalError, storedClaimAnswer } from './claim-answer';
import { ClaimRequest } from './claim-request';
import { Claimant, ClaimOutcome, ClaimsRepository, CommitOutcomeUnknownError, CouponClaims } from './claims.repository';
import { SoldOutMemory } from './sold-out-memory';

export type { ClaimView } from './claim-answer';

/**
 * Batches one process settles at once: a coupon whose lock is held elsewhere does not stall the
 * others, and more would only queue for pool connections (decisions.md, "A claim batch may span
 * coupons").
 */
const CONCURRENT_BATCHES = 2;

/** Coupons of one batch settled alone at the same time, after the combined lock attempt failed. */
const FALLBACK_COUPONS_AT_ONCE = 4;

/** `key_taken`: the claimant's Idempotency-Key already holds an answer; nothing of its claim was written. */
type SettledClaim = (ClaimOutcome | { kind: 'failed'; error: unknown } | { kind: 'key_taken' }) & { lockWaitMs?: number };

/** The metrics and log outcome of an answer replayed from an Idempotency-Key. */
const REPLAYED = 'REPLAYED';

@Injectable()
export class ClaimsService implements OnApplicationShutdown {
  private readonly logger = new Logger(ClaimsService.name);
  private readonly batcher: ClaimBatcher<Claimant, SettledClaim>;
  private readonly soldOut: SoldOutMemory;
  /** A batch lost the database and none has reached it since: ask it before taking coupon locks. */
  private databaseLost = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly repository: ClaimsRepository,
    private readonly lock: LockService,
    private readonly metrics: MetricsService,
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
  ) {
    this.batcher = new ClaimBatcher<Claimant, SettledClaim>(
      (groups) => this.settleBatch(groups),
      config.CLAIM_BATCH_SIZE,
      config.CLAIM_BATCH_MAX_WAIT_MS,
      (size) => this.metrics.observeBatch(size),
      CONCURRENT_BATCHES,
      config.CLAIM_QUEUE_TIMEOUT_MS,
    );
    this.soldOut = new SoldOutMemory(repository, {
      reuseMs: config.SOLD_OUT_READ_REUSE_MS,
      maxCoupons: config.SOLD_OUT_MEMORY_MAX_COUPONS,
      maxHolders: config.SOLD_OUT_MEMORY_MAX_HOLDERS,
    });
  }

  /**
   * Claims a coupon; counts the outcome and adds coupon, outcome and lock wait to the request's
   * log line. With an Idempotency-Key: one request of the key in flight, a decided answer
   * replayed (a Replay), 422 for another body.
   */
  async claim(request: ClaimRequest): Promise<ClaimView | Replay> {
    const remembered = await this.answerFromMemory(request);
    if (remembered instanceof Replay) return remembered;
    if (remembered) throw remembered;
    const report = { lockWaitMs: undefined as number | undefined };
    let outcome = 'GRANTED';
    try {
      const { user, idempotency } = request;
      const answer = idempotency ? await this.idempotency.once(user.id, idempotency, () => this.decide(request, report)) : await this.decide(request, report);
      if (answer instanceof Replay) outcome = REPLAYED;
      return answer;
    } catch (error) {
      outcome = error instanceof DomainError ? error.code : 'INTERNAL_ERROR';
      throw error;
    } finally {
      this.record(request.couponName, outcome, report.lockWaitMs ?? null, request.logFields);
    }
  }

  /** Whether this process remembers `couponName` as sold out (a Map lookup; the fast path's first filter). */
  knowsSoldOut(couponName: unknown): boolean {
    return this.soldOut.knows(couponName);
  }

  /**
   * The answer for a claim this process can give from its sold-out memory (ALREADY_CLAIMED,
   * SOLD_OUT or the sale window, judged on a read made after the claim arrived), counted and
   * logged like any claim; null when the claim needs the full path, including when a read
   * fails (the batch then meets the same database and answers for itself). Never grants. With an
   * Idempotency-Key the refusal is kept under the key, unless the key already holds an answer:
   * then that one is replayed (a retry of the request that was granted gets its 200, never
   * ALREADY_CLAIMED). The one memory method of both entry points: `claim` and the fast path.
   */
  async answerFromMemory(request: ClaimRequest): Promise<DomainError | Replay | null> {
    const { user, couponName, requestedUsername, idempotency } = request;
    if (requestedUsername !== undefined && !sameUsername(requestedUsername, user.username)) return null;
    const remembered = await this.soldOut.answer(couponName, user.id).catch(() => null);
    if (!remembered) return null;
    let answer: DomainError | Replay = refusalError(couponName, remembered);
    const kept = idempotency && storedClaimAnswer(couponName, user.username, remembered);
    if (idempotency && kept) {
      const taken = await this.idempotency.recordUnlessTaken({ userId: user.id, ...idempotency, answer: kept }).catch(() => undefined);
      if (taken === undefined) return null;
      if (taken) answer = taken;
    }
    this.record(couponName, answer instanceof Replay ? REPLAYED : answer.code, null, request.logFields);
    return answer;
  }

  private record(couponName: string, outcome: string, lockWaitMs: number | null, logFields: RequestLogFields): void {
    this.metrics.countClaim(outcome);
    logFields.coupon = couponName;
    logFields.outcome = outcome;
    logFields.lock_wait_ms = lockWaitMs;
  }

  private async decide(request: ClaimRequest, report: { lockWaitMs?: number }): Promise<ClaimView | Replay> {
    const { user, couponName, requestedUsername, idempotency } = request;
    if (requestedUsername !== undefined && !sameUsername(requestedUsername, user.username)) {
      throw new DomainError('USER_MISMATCH', 'user_id must be the username of the token holder');
    }
    // The per-user limit guards the lock and the database. A refusal from memory costs less
    // than the Redis round trip of the limit itself (measured: ~13% of CPU on that path), so
    // only claims that will reach a batch are counted.
    await this.rateLimiter.consume([
      { key: `claim:user:${user.id}`, limit: this.config.CLAIM_RATE_LIMIT_PER_USER, windowMs: this.config.CLAIM_RATE_LIMIT_WINDOW_MS },
    ]);
    const claimant: Claimant = { userId: user.id, username: user.username, idempotency };
    const outcome = await this.batcher.submit(couponName, claimant).catch((error: unknown) => {
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
      case 'key_taken': {
        // Another request of this key decided first (its transaction committed the key): its answer.
        const replay = await this.idempotency.replayIfStored(user.id, idempotency!);
        if (!replay) throw idempotencyKeyInUse();
        return replay;
      }
      default:
        throw refusalError(couponName, outcome);
    }
  }

  /**
   * One answer per claimant, one promise per coupon of the batch. Several coupons are settled
   * together (measured: with 50 coupons and 256 claims in flight, per-coupon batches settled ~3
   * claims each and spent half their time waiting for a pool connection) when one attempt gets
   * all their locks at once; otherwise, each coupon alone, as a single coupon always is.
   */
  private settleBatch(groups: BatchGroup<Claimant>[]): Promise<SettledClaim[]>[] {
    if (this.databaseLost) {
      const settling = this.databaseAnswers().then(() => this.settleBatch(groups));
      return groups.map((_, i) => settling.then((promises) => promises[i]));
    }
    const batch = groups.map((g): CouponClaims => ({ couponName: g.key, claimants: g.requests }));
    if (batch.length === 1) return [this.settleAlone(batch[0])];
    const together = this.settleTogether(batch);
    // Alone, each coupon holds its lock while it waits for a pool connection: a few at a time, not
    // the whole batch at once against the pool (which would time out waiting for connections).
    const alone = atMost(FALLBACK_COUPONS_AT_ONCE);
    return batch.map((coupon, i) =>
      together.then(
        (settled) => settled?.[i] ?? alone(() => this.settleAlone(coupon)),
        (error) => Promise.reject(this.toDomainError(error, coupon.couponName)),
      ),
    );
  }

  /** The coupon's lock (with LOCK_RETRY_COUNT retries), then its own transaction. */
  private async settleAlone(coupon: CouponClaims): Promise<SettledClaim[]> {
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
  private async settleTogether(batch: CouponClaims[]): Promise<SettledClaim[][] | null> {
    let locked: LockOutcome<SettledClaim[][]>;
    try {
      locked = await this.lock.withLock(batch.map((c) => couponLockResource(c.couponName)), () => this.settleOrSplit(batch), { retries: 0 });
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
  private async settleOrSplit(batch: CouponClaims[]): Promise<SettledClaim[][]> {
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
        const results: SettledClaim[][] = [];
        for (const coupon of batch) {
          // Each coupon commits alone now: an error of one must not answer for the others.
          const failed = (e: unknown) => [coupon.claimants.map(() => ({ kind: 'failed' as const, error: this.toDomainError(e, coupon.couponName) }))];
          results.push(...(await this.settleOrSplit([coupon]).catch(failed)));
        }
        return results;
      }
      const [{ couponName, claimants }] = batch;
      if (claimants.length === 1) return [[this.fencedOutcome(error, couponName)]];
      this.logger.warn(`claim batch of ${couponName} hit the database fence; settling members one by one`);
      const results: SettledClaim[] = [];
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

  private fencedOutcome(error: unknown, couponName: string): SettledClaim {
    if (isUniqueViolation(error) && constraintOf(error) === KEY_TAKEN_CONSTRAINT) return { kind: 'key_taken' };
    if (isUniqueViolation(error)) return { kind: 'already_claimed' };
    if (isCheckViolation(error)) return { kind: 'sold_out' };
    // The token is valid but its user has been deleted since it was issued.
    this.logger.warn(`claim of ${couponName} by a user that no longer exists`);
    return { kind: 'failed', error: new DomainError('TOKEN_INVALID', 'The user of this token no longer exists') };
  }

  /**
   * Cut off from PostgreSQL but not from Redis, this process would take coupon leases and hold
   * them through a query timeout, keeping every other process from those coupons: after a lost
   * database, a batch asks it first (within HEALTH_TIMEOUT_MS) and answers 503 if it is silent.
   */
  private async databaseAnswers(): Promise<void> {
    if (!(await databaseAnswers(this.dataSource, this.config.HEALTH_TIMEOUT_MS))) {
      this.logger.warn('claims refused: the database still does not answer');
      throw databaseUnavailable();
    }
    this.databaseLost = false;
  }

  private toDomainError(error: unknown, couponName: string): unknown {
    if (error instanceof DomainError) return error;
    if (error instanceof CommitOutcomeUnknownError) {
      this.databaseLost = true;
      return claimOutcomeUnknown();
    }
    if (error instanceof LockUnavailableError) this.logger.warn(error.message);
    const lockError = couponLockError(error, couponName);
    if (lockError) return lockError;
    if (isDatabaseUnavailable(error)) {
      // Every database failure of the claim path is mapped here: the next batch asks first.
      this.databaseLost = true;
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
