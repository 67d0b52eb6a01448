import { Logger } from '@nestjs/common';

export interface BatchSettler<Request, Outcome> {
  /** Settles one batch for one key; returns one outcome per request, in order. */
  (key: string, requests: Request[]): Promise<Outcome[]>;
}

interface Waiter<Request, Outcome> {
  request: Request;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
  /** performance.now() when it joined the queue. */
  queuedAt: number;
}

interface KeyQueue<Request, Outcome> {
  waiting: Waiter<Request, Outcome>[];
  draining: boolean;
  /** Fires when the oldest waiter has waited `maxQueueWaitMs` (one timer per key, not per request). */
  expiry?: NodeJS.Timeout;
}

/** A request that waited `maxQueueWaitMs` without joining a batch: it was never settled. */
export class QueueWaitExpiredError extends Error {
  override name = 'QueueWaitExpiredError';
}

/**
 * Per-key claim coalescing. Concurrent requests for one coupon join its queue; a single
 * drain loop per coupon settles them in batches of at most `maxBatchSize`, in arrival
 * order. While one batch settles, the next one fills up, so batches grow with the load.
 * A batch that fails rejects every member with the same error (its transaction wrote nothing).
 * A request still queued after `maxQueueWaitMs` (the batch ahead of it is stuck) leaves the
 * queue unsettled and is rejected with QueueWaitExpiredError, so it can be retried elsewhere.
 */
export class ClaimBatcher<Request, Outcome> {
  private readonly logger = new Logger(ClaimBatcher.name);
  private readonly queues = new Map<string, KeyQueue<Request, Outcome>>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly settle: BatchSettler<Request, Outcome>,
    private readonly maxBatchSize: number,
    /** How long a leader waits for company before settling a short batch (0 = never waits). */
    private readonly maxWaitMs: number,
    private readonly onBatch?: (key: string, size: number) => void,
    /** The longest a request waits for a batch to take it (0 = no limit). */
    private readonly maxQueueWaitMs = 0,
  ) {}

  submit(key: string, request: Request): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = { waiting: [], draining: false };
        this.queues.set(key, queue);
      }
      queue.waiting.push({ request, resolve, reject, queuedAt: performance.now() });
      this.inFlight++;
      if (!queue.draining) {
        queue.draining = true;
        void this.drain(key, queue);
      }
      // Still queued after drain took its batch: a batch ahead is running, so bound the wait.
      if (this.maxQueueWaitMs > 0 && queue.waiting.length > 0 && !queue.expiry) this.armExpiry(queue);
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

  private async drain(key: string, queue: KeyQueue<Request, Outcome>): Promise<void> {
    try {
      while (queue.waiting.length > 0) {
        if (this.maxWaitMs > 0 && queue.waiting.length < this.maxBatchSize) {
          await new Promise((resolve) => setTimeout(resolve, this.maxWaitMs));
        }
        const batch = queue.waiting.splice(0, this.maxBatchSize);
        this.onBatch?.(key, batch.length);
        try {
          const outcomes = await this.settle(
            key,
            batch.map((w) => w.request),
          );
          batch.forEach((waiter, i) => waiter.resolve(outcomes[i]));
        } catch (error) {
          batch.forEach((waiter) => waiter.reject(error));
        } finally {
          this.answered(batch.length);
        }
      }
    } catch (error) {
      this.logger.error(`claim queue for ${key} stopped: ${(error as Error).message}`);
    } finally {
      queue.draining = false;
      if (queue.waiting.length > 0) {
        queue.draining = true;
        void this.drain(key, queue);
      } else {
        clearTimeout(queue.expiry);
        queue.expiry = undefined;
        this.queues.delete(key);
      }
    }
  }

  /** Rejects the waiters that have waited maxQueueWaitMs (the oldest are first), then waits for the next. */
  private armExpiry(queue: KeyQueue<Request, Outcome>): void {
    const oldest = queue.waiting[0];
    if (!oldest) return;
    queue.expiry = setTimeout(() => {
      queue.expiry = undefined;
      const now = performance.now();
      let expired = 0;
      while (expired < queue.waiting.length && now - queue.waiting[expired].queuedAt >= this.maxQueueWaitMs) expired++;
      if (expired > 0) {
        const late = queue.waiting.splice(0, expired);
        const error = new QueueWaitExpiredError(`waited ${this.maxQueueWaitMs} ms for the batch ahead`);
        late.forEach((waiter) => waiter.reject(error));
        this.answered(late.length);
      }
      this.armExpiry(queue);
    }, Math.max(0, oldest.queuedAt + this.maxQueueWaitMs - performance.now()));
  }

  private answered(count: number): void {
    this.inFlight -= count;
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }
}
