import { Logger } from '@nestjs/common';
import { QueueWait, endQueueWait, startBatchSpan, startQueueWait } from '../tracing/claim-spans';
import { QueueWaitExpiredError } from './claim-batcher.types';
import type { BatchGroup, BatchSettler, ClaimBatcherOptions } from './claim-batcher.types';

export { QueueWaitExpiredError };
export type { BatchGroup, BatchSettler, ClaimBatcherOptions };

interface Waiter<Request, Outcome> {
  key: string;
  request: Request;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
  /** performance.now() when it joined the queue. */
  queuedAt: number;
  /** Its queue-wait span, when its request is traced. */
  wait?: QueueWait;
}

/**
 * Claim coalescing across coupons. Concurrent requests join one queue; a batch takes them in
 * arrival order, up to `maxBatchSize`, skipping keys that are still being settled (one batch
 * at a time per key, so a coupon's claims are settled in arrival order), and groups them by
 * key. At most `maxConcurrentBatches` batches run at once; while they settle the queue fills,
 * so batches grow with the load. Many coupons then share one batch (one lock round, one
 * transaction) instead of paying for one each. A group that fails rejects every member with
 * the same error (its transaction wrote nothing). A request still queued after
 * `maxQueueWaitMs` (the batch ahead of it on its key is stuck) leaves the queue unsettled and
 * is rejected with QueueWaitExpiredError, so it can be retried, perhaps through another process.
 */
export class ClaimBatcher<Request, Outcome> {
  private readonly logger = new Logger(ClaimBatcher.name);
  private waiting: Waiter<Request, Outcome>[] = [];
  /** Waiters per key, so that "is any queued key free?" costs a look per key, not per waiter. */
  private readonly waitingPerKey = new Map<string, number>();
  private readonly keysInFlight = new Set<string>();
  private batchesInFlight = 0;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private startScheduled = false;
  /** Fires when the oldest waiter has waited `maxQueueWaitMs` (one timer, not one per request). */
  private expiry?: NodeJS.Timeout;

  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private readonly onBatch?: (size: number, keys: number) => void;
  private readonly maxConcurrentBatches: number;
  private readonly maxQueueWaitMs: number;

  constructor(
    private readonly settle: BatchSettler<Request, Outcome>,
    options: ClaimBatcherOptions,
  ) {
    this.maxBatchSize = options.maxBatchSize;
    this.maxWaitMs = options.maxWaitMs ?? 0;
    this.onBatch = options.onBatch;
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 2;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? 0;
  }

  submit(key: string, request: Request): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.waiting.push({ key, request, resolve, reject, queuedAt: performance.now(), wait: startQueueWait(key) });
      this.waitingPerKey.set(key, (this.waitingPerKey.get(key) ?? 0) + 1);
      this.inFlight++;
      this.scheduleStart();
      if (this.maxQueueWaitMs > 0 && !this.expiry) this.armExpiry();
    });
  }

  /** Requests accepted but not yet answered. */
  get pending(): number {
    return this.inFlight;
  }

  /** Resolves once every accepted request has been answered (graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Starts batches on a microtask, so that requests submitted in the same turn (one socket
   * read of many requests) share a batch instead of the first one going alone.
   */
  private scheduleStart(): void {
    if (this.startScheduled) return;
    this.startScheduled = true;
    queueMicrotask(() => {
      this.startScheduled = false;
      this.startBatches();
    });
  }

  private startBatches(): void {
    while (this.batchesInFlight < this.maxConcurrentBatches && this.hasFreeKey()) {
      this.batchesInFlight++;
      void this.runBatch();
    }
  }

  private hasFreeKey(): boolean {
    for (const key of this.waitingPerKey.keys()) if (!this.keysInFlight.has(key)) return true;
    return false;
  }

  private async runBatch(): Promise<void> {
    try {
      if (this.maxWaitMs > 0 && this.waiting.length < this.maxBatchSize) {
        await new Promise((resolve) => setTimeout(resolve, this.maxWaitMs));
      }
      const groups = this.take();
      if (groups.length === 0) return;
      try {
        this.onBatch?.(
          groups.reduce((sum, g) => sum + g.waiters.length, 0),
          groups.length,
        );
      } catch (error) {
        // An observer's failure must not strand the waiters just taken (never answered, keys held).
        this.logger.warn(`batch observer failed: ${(error as Error).message}`);
      }
      const span = startBatchSpan(() => groups.flatMap((g) => g.waiters.map((w) => w.wait)), groups.length);
      let settling: Promise<Outcome[]>[];
      try {
        settling = span.run(() => this.settle(groups.map((g) => ({ key: g.key, requests: g.waiters.map((w) => w.request) }))));
      } catch (error) {
        settling = groups.map(() => Promise.reject(error));
      }
      await Promise.all(groups.map((group, i) => this.answer(group, settling[i])));
      span.end();
    } catch (error) {
      this.logger.error(`claim batch stopped: ${(error as Error).message}`);
    } finally {
      this.batchesInFlight--;
      this.startBatches();
    }
  }

  /** The next batch: waiters of keys not in flight, in arrival order, grouped by key. */
  private take(): { key: string; waiters: Waiter<Request, Outcome>[] }[] {
    const groups = new Map<string, Waiter<Request, Outcome>[]>();
    const left: Waiter<Request, Outcome>[] = [];
    let taken = 0;
    for (const waiter of this.waiting) {
      if (taken >= this.maxBatchSize || this.keysInFlight.has(waiter.key)) {
        left.push(waiter);
        continue;
      }
      let group = groups.get(waiter.key);
      if (!group) groups.set(waiter.key, (group = []));
      group.push(waiter);
      endQueueWait(waiter.wait);
      taken++;
      this.leftQueue(waiter.key);
    }
    this.waiting = left;
    for (const key of groups.keys()) this.keysInFlight.add(key);
    return [...groups].map(([key, waiters]) => ({ key, waiters }));
  }

  private async answer(
    group: { key: string; waiters: Waiter<Request, Outcome>[] },
    settling: Promise<Outcome[]> | undefined,
  ): Promise<void> {
    try {
      const outcomes = await (settling ?? Promise.reject(new Error(`no settlement for ${group.key}`)));
      group.waiters.forEach((waiter, i) => waiter.resolve(outcomes[i]));
    } catch (error) {
      group.waiters.forEach((waiter) => waiter.reject(error));
    } finally {
      // The key is free for the next batch, even while a slower group of this one still settles:
      // start one now if its claims are queued, rather than when the whole batch ends.
      this.keysInFlight.delete(group.key);
      this.answered(group.waiters.length);
      if (this.waitingPerKey.has(group.key)) this.scheduleStart();
    }
  }

  /** One waiter of `key` left the queue (taken into a batch, or expired). */
  private leftQueue(key: string): void {
    const stillWaiting = this.waitingPerKey.get(key)! - 1;
    if (stillWaiting === 0) this.waitingPerKey.delete(key);
    else this.waitingPerKey.set(key, stillWaiting);
  }

  /** Rejects the waiters that have waited maxQueueWaitMs (the oldest are first), then waits for the next. */
  private armExpiry(): void {
    const oldest = this.waiting[0];
    if (!oldest) return;
    this.expiry = setTimeout(
      () => {
        this.expiry = undefined;
        const now = performance.now();
        let expired = 0;
        while (expired < this.waiting.length && now - this.waiting[expired].queuedAt >= this.maxQueueWaitMs) expired++;
        if (expired > 0) {
          const late = this.waiting.splice(0, expired);
          for (const waiter of late) this.leftQueue(waiter.key);
          const error = new QueueWaitExpiredError(`waited ${this.maxQueueWaitMs} ms for the batch ahead`);
          late.forEach((waiter) => {
            endQueueWait(waiter.wait, error);
            waiter.reject(error);
          });
          this.answered(late.length);
        }
        this.armExpiry();
      },
      Math.max(0, oldest.queuedAt + this.maxQueueWaitMs - performance.now()),
    );
    this.expiry.unref();
  }

  private answered(count: number): void {
    this.inFlight -= count;
    if (this.waiting.length === 0) {
      clearTimeout(this.expiry);
      this.expiry = undefined;
    }
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }
}
