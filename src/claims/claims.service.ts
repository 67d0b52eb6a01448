import { Inject, Injectable } from '@nestjs/common';
import { DomainError, couponNotFound, idempotencyKeyInUse, lockBusy } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { Replay } from '../idempotency/idempotency-key';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { RequestLogFields } from '../logging/request-logging';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimiter } from '../rate-limit/rate-limiter.service';
import { sameUsername } from '../common/identifiers';
import { QueueWaitExpiredError } from './claim-batcher';
import { ClaimView, refusalError, storedClaimAnswer } from './claim-answer';
import { ClaimOrchestrator } from './claim-orchestrator';
import type { Claimant } from './claim-outcome';
import { ClaimRequest } from './claim-request';
import { SoldOutMemory } from './sold-out-memory';

export type { ClaimView } from './claim-answer';

/** The metrics and log outcome of an answer replayed from an Idempotency-Key. */
const REPLAYED = 'REPLAYED';

/**
 * The claim path's entry: a claim is answered from the sold-out memory when it can be, or
 * checked (user, rate limit) and handed to the batches (ClaimOrchestrator); every answer is
 * counted and logged here.
 */
@Injectable()
export class ClaimsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly orchestrator: ClaimOrchestrator,
    private readonly soldOut: SoldOutMemory,
    private readonly metrics: MetricsService,
    private readonly idempotency: IdempotencyService,
  ) {}

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
      const answer = idempotency
        ? await this.idempotency.once(user.id, idempotency, () => this.claimThroughBatch(request, report))
        : await this.claimThroughBatch(request, report);
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

  private async claimThroughBatch(request: ClaimRequest, report: { lockWaitMs?: number }): Promise<ClaimView | Replay> {
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
    const outcome = await this.orchestrator.submit(couponName, claimant).catch((error: unknown) => {
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
}
