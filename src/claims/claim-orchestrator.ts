import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { atMost } from '../common/at-most';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { BatchGroup, ClaimBatcher } from './claim-batcher';
import type { BatchAnswer, Claimant, CouponClaims } from './claim-outcome';
import { ClaimSettlement } from './claim-settlement';
import { DatabaseBreaker } from './database-breaker';

/**
 * Batches one process settles at once: a coupon whose lock is held elsewhere does not stall the
 * others, and more would only queue for pool connections (decisions.md, "A claim batch may span
 * coupons").
 */
const CONCURRENT_BATCHES = 2;

/** Coupons of one batch settled alone at the same time, after the combined lock attempt failed. */
const FALLBACK_COUPONS_AT_ONCE = 4;

/**
 * The claims' queue: concurrent claims join batches (ClaimBatcher), and a batch of several
 * coupons is settled together, or split into coupons settled alone when their locks cannot
 * all be had at once.
 */
@Injectable()
export class ClaimOrchestrator implements OnApplicationShutdown {
  private readonly batcher: ClaimBatcher<Claimant, BatchAnswer>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly settlement: ClaimSettlement,
    private readonly breaker: DatabaseBreaker,
    metrics: MetricsService,
  ) {
    this.batcher = new ClaimBatcher<Claimant, BatchAnswer>((groups) => this.settleBatch(groups), {
      maxBatchSize: config.CLAIM_BATCH_SIZE,
      maxWaitMs: config.CLAIM_BATCH_MAX_WAIT_MS,
      onBatch: (size) => metrics.observeBatch(size),
      maxConcurrentBatches: CONCURRENT_BATCHES,
      maxQueueWaitMs: config.CLAIM_QUEUE_TIMEOUT_MS,
    });
  }

  /** The claimant's answer once its batch settles; QueueWaitExpiredError if no batch took it in time. */
  submit(couponName: string, claimant: Claimant): Promise<BatchAnswer> {
    return this.batcher.submit(couponName, claimant);
  }

  /**
   * One answer per claimant, one promise per coupon of the batch. Several coupons are settled
   * together (measured: with 50 coupons and 256 claims in flight, per-coupon batches settled ~3
   * claims each and spent half their time waiting for a pool connection) when one attempt gets
   * all their locks at once; otherwise, each coupon alone, as a single coupon always is.
   */
  private settleBatch(groups: BatchGroup<Claimant>[]): Promise<BatchAnswer[]>[] {
    if (this.breaker.tripped) {
      const settling = this.breaker.confirmReachable().then(() => this.settleBatch(groups));
      return groups.map((_, i) => settling.then((promises) => promises[i]));
    }
    const batch = groups.map((g): CouponClaims => ({ couponName: g.key, claimants: g.requests }));
    if (batch.length === 1) return [this.settlement.settleAlone(batch[0])];
    const together = this.settlement.settleTogether(batch);
    // Alone, each coupon holds its lock while it waits for a pool connection: a few at a time, not
    // the whole batch at once against the pool (which would time out waiting for connections).
    const alone = atMost(FALLBACK_COUPONS_AT_ONCE);
    return batch.map((coupon, i) =>
      together.then(
        (settled) => settled?.[i] ?? alone(() => this.settlement.settleAlone(coupon)),
        (error) => Promise.reject(this.settlement.toDomainError(error, coupon.couponName)),
      ),
    );
  }

  /** Lets in-flight claims finish before the pools close. */
  async onApplicationShutdown(): Promise<void> {
    await this.batcher.whenIdle();
  }
}
