/** A hash the queue cannot start within its bound; `retryAfterMs` is when this client can expect room. */
export class HashingQueueFullError extends Error {
  override name = 'HashingQueueFullError';
  constructor(readonly retryAfterMs: number) {
    super('the password hashing queue is full');
  }
}

interface Job {
  task: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** How much one finished hash moves the measured hash time (an exponential moving average). */
const HASH_TIME_WEIGHT = 0.2;
/** Refused addresses whose promised time is remembered; past it the oldest are forgotten. */
const MAX_PROMISES = 100_000;
/** Never more waiting than this, whatever the bound allows: an admission walks every address's line. */
const MAX_WAITING = 10_000;
/** How long after its promised time a refused address is still let in past the bound (Retry-After's jitter, a slow client). */
const PROMISE_HONOURED_MS = 30_000;

/**
 * At most `capacity` password hashes at once; the rest wait in line, one line per client
 * address, served round robin in arrival order (each address's next hash in turn), so one
 * address cannot take the hashing others wait for. A hash is refused only when its expected
 * wait (its round-robin position over the measured drain rate) is past `maxWaitMs`, or when
 * the whole line already holds twice the hashes that bound allows (at most MAX_WAITING);
 * `maxWaitMs` 0 never queues.
 *
 * A refusal says when its client can expect room: every refused address gets a time of its
 * own, one drain interval after the last one promised, so a crowd refused together comes back
 * at the rate the line drains instead of all at once. An address refused again before its
 * time keeps its time; one that comes back at its time (up to PROMISE_HONOURED_MS later) is let
 * in even past `maxWaitMs` (not past the hard limit of twice the bound), so a client that
 * honours Retry-After is refused once, even when the measured drain rate was optimistic.
 */
export class FairHashingQueue {
  private running = 0;
  private queued = 0;
  /** Lines by address; Map order is the round-robin order (an address served goes to the back). */
  private readonly lines = new Map<string, Job[]>();
  private readonly promised = new Map<string, number>();
  private lastPromise = -Infinity;
  private hashMs: number;
  /** When each running hash started: one running longer than the measured time shows the rate has dropped before any finishes. */
  private readonly runningSince = new Set<{ at: number }>();

  constructor(
    readonly capacity: number,
    readonly maxWaitMs: number,
    /** One hash's time at start-up, until finished hashes measure it. */
    initialHashMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`FairHashingQueue capacity must be a positive integer, got ${capacity}`);
    this.hashMs = Math.max(1, initialHashMs);
  }

  get inFlight(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queued;
  }

  /** Hashes finished per second at the measured hash time. */
  get drainPerSecond(): number {
    return (this.capacity * 1000) / this.currentHashMs();
  }

  /** The measured hash time, or longer while the oldest running hash has already taken longer. */
  private currentHashMs(): number {
    let longest = this.hashMs;
    const now = this.now();
    for (const { at } of this.runningSince) longest = Math.max(longest, now - at);
    return longest;
  }

  /**
   * The expected wait of a new hash from `address`: the hashes served before it (every other
   * address's line up to this one's length plus one, and this address's own line) over the
   * drain rate; 0 when a slot is free and nobody waits.
   */
  expectedWaitMs(address: string): number {
    if (this.running < this.capacity && this.queued === 0) return 0;
    const own = this.lines.get(address)?.length ?? 0;
    let ahead = own;
    for (const [other, line] of this.lines) if (other !== address) ahead += Math.min(line.length, own + 1);
    return ((ahead + 1) * this.currentHashMs()) / this.capacity;
  }

  /** Null when a hash from `address` would be admitted now, else the ms until it can expect room (promised). */
  refusal(address: string): number | null {
    const wait = this.expectedWaitMs(address);
    const hashMs = this.currentHashMs();
    const full = this.queued >= Math.min(MAX_WAITING, 2 * Math.ceil((this.maxWaitMs * this.capacity) / hashMs));
    if (wait === 0 || (wait <= this.maxWaitMs && !full)) return null;
    const now = this.now();
    const kept = this.promised.get(address);
    if (kept !== undefined && kept > now) return kept - now;
    if (kept !== undefined && now - kept <= PROMISE_HONOURED_MS && !full) return null;
    const slot = Math.max(now + Math.max(0, wait - this.maxWaitMs), this.lastPromise + hashMs / this.capacity);
    this.lastPromise = slot;
    this.promised.delete(address);
    this.promised.set(address, slot);
    if (this.promised.size > MAX_PROMISES) this.promised.delete(this.promised.keys().next().value as string);
    return slot - now;
  }

  /** Runs `task` when its turn comes; rejects with HashingQueueFullError when it cannot be served within the bound. */
  run<T>(address: string, task: () => Promise<T>): Promise<T> {
    const refusedFor = this.refusal(address);
    if (refusedFor !== null) return Promise.reject(new HashingQueueFullError(refusedFor));
    // Admitted: a promise this address held is kept now.
    this.promised.delete(address);
    return new Promise<T>((resolve, reject) => {
      const job: Job = { task, resolve: resolve as (value: unknown) => void, reject };
      const line = this.lines.get(address);
      if (line) line.push(job);
      else this.lines.set(address, [job]);
      this.queued++;
      this.startNext();
    });
  }

  private startNext(): void {
    while (this.running < this.capacity && this.queued > 0) {
      const [address, line] = this.lines.entries().next().value as [string, Job[]];
      const job = line.shift()!;
      this.lines.delete(address);
      if (line.length > 0) this.lines.set(address, line);
      this.queued--;
      this.start(job);
    }
  }

  private start(job: Job): void {
    this.running++;
    const started = this.now();
    const since = { at: started };
    this.runningSince.add(since);
    let result: Promise<unknown>;
    try {
      result = job.task();
    } catch (error) {
      result = Promise.reject(error);
    }
    result
      .then(
        (value) => {
          this.hashMs += HASH_TIME_WEIGHT * (this.now() - started - this.hashMs);
          job.resolve(value);
        },
        (error: unknown) => job.reject(error),
      )
      .finally(() => {
        this.running--;
        this.runningSince.delete(since);
        this.startNext();
      });
  }
}
