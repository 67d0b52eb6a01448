import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { isCheckViolation, isDatabaseUnavailable, isForeignKeyViolation, isUniqueViolation } from '../common/database-errors';
import {
  DomainError,
  alreadyClaimed,
  couponNotFound,
  databaseUnavailable,
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
import { ClaimBatcher } from './claim-batcher';
import { Claimant, ClaimOutcome, ClaimsRepository, StockState } from './claims.repository';

export interface ClaimView {
  coupon_name: string;
  user_id: string;
  claimed_at: string;
}

type SettledClaim = (ClaimOutcome | { kind: 'failed'; error: unknown }) & { lockWaitMs?: number };

/**
 * What this process knows about a sold-out coupon: while its stock_version stays the same,
 * the stock stays at zero and its holders cannot change. Holders never lose a claim, so a
 * remembered holder is ALREADY_CLAIMED at any version.
 */
interface SoldOutCoupon {
  couponId: string;
  stockVersion: number;
  holders: Set<string> | null;
  /** The latest stock-state read, shared by every refusal for SOLD_OUT_RECHECK_MS. */
  checked?: { at: number; state: Promise<StockState | null> };
}

/** Above this many holders the sold-out answer goes through the database instead of memory. */
const SOLD_OUT_MEMORY_LIMIT = 200_000;

@Injectable()
export class ClaimsService implements OnApplicationShutdown {
  private readonly logger = new Logger(ClaimsService.name);
  private readonly batcher: ClaimBatcher<Claimant, SettledClaim>;
  private readonly soldOut = new Map<string, SoldOutCoupon>();
  private readonly recheckMs: number;

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
    );
    this.recheckMs = config.SOLD_OUT_RECHECK_MS;
  }

  /** Claims a coupon; counts the outcome and adds coupon, outcome and lock wait to `logFields` (the request's line). */
  async claim(
    user: AuthenticatedUser,
    couponName: string,
    requestedUsername?: string,
    logFields: RequestLogFields = {},
  ): Promise<ClaimView> {
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
    return typeof couponName === 'string' && Boolean(this.soldOut.get(couponName)?.holders);
  }

  /**
   * The refusal for a claim this process can answer from memory alone (the coupon is known sold
   * out: ALREADY_CLAIMED, SOLD_OUT or the sale window), counted and logged like any claim; null
   * when the claim needs the full path, including on any failure. Never grants.
   */
  async refusalFromMemory(
    user: AuthenticatedUser,
    couponName: string,
    requestedUsername: string | undefined,
    logFields: RequestLogFields,
  ): Promise<DomainError | null> {
    if (requestedUsername !== undefined && !sameUsername(requestedUsername, user.username)) return null;
    const refusal = await this.answerFromMemory(couponName, user.id).catch(() => null);
    if (refusal) this.record(couponName, refusal.code, null, logFields);
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
    const remembered = await this.answerFromMemory(couponName, user.id);
    if (remembered) throw remembered;
    // The per-user limit guards the lock and the database. A refusal from memory costs less
    // than the Redis round trip of the limit itself (measured: ~13% of CPU on that path), so
    // only claims that will reach a batch are counted.
    await this.rateLimiter.consume([
      { key: `claim:user:${user.id}`, limit: this.config.CLAIM_RATE_LIMIT_PER_USER, windowMs: this.config.CLAIM_RATE_LIMIT_WINDOW_MS },
    ]);
    const outcome = await this.batcher.submit(couponName, { userId: user.id, username: user.username });
    report.lockWaitMs = outcome.lockWaitMs;
    switch (outcome.kind) {
      case 'granted':
        return { coupon_name: couponName, user_id: user.username, claimed_at: outcome.claimedAt.toISOString() };
      case 'already_claimed':
        throw alreadyClaimed(couponName);
      case 'not_started':
        throw saleNotStarted(couponName, outcome.secondsUntilStart);
      case 'ended':
        throw saleEnded(couponName);
      case 'sold_out':
        throw soldOut(couponName);
      case 'not_found':
        throw couponNotFound(couponName);
      case 'failed':
        throw outcome.error;
    }
  }

  /**
   * The refusal for a coupon this process saw sell out, without a lock or a transaction; null
   * when the claim must go through the batch. Same order as the settlement: holder first,
   * then the window (database clock), then stock, trusted only while no update bumped the
   * stock version, whichever process made the update.
   */
  private async answerFromMemory(couponName: string, userId: string): Promise<DomainError | null> {
    const known = this.soldOut.get(couponName);
    if (!known?.holders) return null;
    if (known.holders.has(userId)) return alreadyClaimed(couponName);
    const state = await this.recentStockState(couponName, known).catch((error) => {
      throw this.toDomainError(error, couponName);
    });
    if (!state || state.stockVersion !== known.stockVersion) {
      if (this.soldOut.get(couponName) === known) this.soldOut.delete(couponName);
      return null;
    }
    if (state.window.kind === 'not_started') return saleNotStarted(couponName, state.window.secondsUntilStart);
    if (state.window.kind === 'ended') return saleEnded(couponName);
    return soldOut(couponName);
  }

  /**
   * One stock-state read per coupon per SOLD_OUT_RECHECK_MS, shared by every concurrent
   * refusal: a crowd hammering a sold-out coupon costs a few reads a second, not one each.
   * An update made through another process is therefore seen within that interval.
   */
  private recentStockState(couponName: string, known: SoldOutCoupon): Promise<StockState | null> {
    const now = Date.now();
    if (known.checked && now - known.checked.at < this.recheckMs) return known.checked.state;
    const state = this.repository.stockState(couponName);
    known.checked = { at: now, state };
    state.catch(() => {
      if (known.checked?.state === state) known.checked = undefined;
    });
    return state;
  }

  /** One lock, one transaction, one answer per claimant. */
  private async settleBatch(couponName: string, claimants: Claimant[]): Promise<SettledClaim[]> {
    try {
      const { result, waitedMs } = await this.lock.withLock(couponLockResource(couponName), () =>
        this.settleOrSplit(couponName, claimants),
      );
      this.metrics.observeLockWait(waitedMs);
      this.logger.debug(`settled ${claimants.length} claims of ${couponName}; lock wait ${waitedMs} ms`);
      return result.map((settled) => ({ ...settled, lockWaitMs: waitedMs }));
    } catch (error) {
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
        this.rememberSoldOut(couponName, settlement.couponId, settlement.stockVersion);
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

  private rememberSoldOut(couponName: string, couponId: string, stockVersion: number): void {
    const known = this.soldOut.get(couponName);
    if (known && known.couponId === couponId && known.stockVersion >= stockVersion) return;
    const entry: SoldOutCoupon = { couponId, stockVersion, holders: null };
    this.soldOut.set(couponName, entry);
    this.repository
      .holderIds(couponId)
      .then((ids) => {
        if (ids.length <= SOLD_OUT_MEMORY_LIMIT) entry.holders = new Set(ids);
      })
      .catch((error: Error) => {
        if (this.soldOut.get(couponName) === entry) this.soldOut.delete(couponName);
        this.logger.warn(`could not load holders of sold-out ${couponName}: ${error.message}`);
      });
  }

  /** Lets in-flight claims finish before the pools close. */
  async onApplicationShutdown(): Promise<void> {
    await this.batcher.whenIdle();
  }
}
