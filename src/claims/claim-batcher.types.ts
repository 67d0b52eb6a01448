/** The contract of ClaimBatcher (claim-batcher.ts): what it is given and what it rejects with. */
/** The requests of one key in a batch, in arrival order. */
export interface BatchGroup<Request> {
  key: string;
  requests: Request[];
}

export interface BatchSettler<Request, Outcome> {
  /**
   * Settles one batch: one promise per group, in the order given, each resolving to one
   * outcome per request of its group, in order. A group's waiters are answered, and its key
   * is free for the next batch, as soon as its own promise settles.
   */
  (groups: BatchGroup<Request>[]): Promise<Outcome[]>[];
}

export interface ClaimBatcherOptions {
  /** Requests one batch takes at most. */
  maxBatchSize: number;
  /** How long a batch waits for company before settling a short batch (0, the default, = never waits). */
  maxWaitMs?: number;
  /** Told each batch's size (requests) and keys. */
  onBatch?: (size: number, keys: number) => void;
  /** Batches settling at once; 2 by default. */
  maxConcurrentBatches?: number;
  /** The longest a request waits for a batch to take it (0, the default, = no limit). */
  maxQueueWaitMs?: number;
}

/** A request that waited `maxQueueWaitMs` without joining a batch: it was never settled. */
export class QueueWaitExpiredError extends Error {
  override name = 'QueueWaitExpiredError';
}
