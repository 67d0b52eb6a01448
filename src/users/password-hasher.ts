import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { bcryptConcurrency, libuvThreadPoolSize } from '../config/config.loader';
import { jitteredRetryAfter } from '../common/retry-after';
import { MetricsService } from '../metrics/metrics.service';
import { FairHashingQueue, HashingQueueFullError } from './hashing-queue';
import { HashingThreads } from './hashing-threads';

/**
 * The hashing threads' nice value: under CPU contention the event loop (nice 0, weight 1024)
 * gets ~10x the CPU of a hash (nice 10, weight 110); alone on a core a hash runs at full speed.
 */
const HASHING_NICE = 10;

/** The address the process's own hashes (the admin account at start-up) queue under. */
export const INTERNAL_ADDRESS = 'internal';

/**
 * Every bcrypt hash and compare of this process (registration, login, the admin account) runs
 * through one FairHashingQueue: at most BCRYPT_MAX_CONCURRENT at once, so a flood of
 * registrations or wrong-password logins cannot take the CPU the claims need; the rest wait
 * their turn, round robin across client addresses, for up to BCRYPT_QUEUE_MAX_WAIT_MS. Past
 * that the caller gets 503 AUTH_BUSY before any work is done (a refused registration has
 * written nothing), with a Retry-After that says when its address can expect room.
 */
@Injectable()
export class PasswordHasher implements OnApplicationShutdown {
  private readonly logger = new Logger(PasswordHasher.name);
  /** Compared against when the username is unknown, so both cases cost one bcrypt compare. */
  private readonly dummyHash: string;
  private readonly queue: FairHashingQueue;
  private readonly threads: HashingThreads;
  private refusedSinceWarning = 0;
  private lastWarning = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    const started = performance.now();
    this.dummyHash = bcrypt.hashSync('dummy-password-for-timing', config.BCRYPT_COST);
    // The queue's drain rate starts from this hash's time; finished hashes then measure it.
    this.queue = new FairHashingQueue(bcryptConcurrency(config), config.BCRYPT_QUEUE_MAX_WAIT_MS, performance.now() - started);
    // Past the libuv pool's size (load tools and tests only) the extra jobs wait for a thread.
    this.threads = new HashingThreads(Math.min(this.queue.capacity, libuvThreadPoolSize()), HASHING_NICE);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.threads.close();
  }

  /** The AUTH_BUSY answer a hash from `address` would get now (its room promised), or null when it would be queued. */
  refusalFor(address: string): DomainError | null {
    const retryAfterMs = this.queue.refusal(address);
    return retryAfterMs === null ? null : authBusy(retryAfterMs);
  }

  get capacity(): number {
    return this.queue.capacity;
  }

  /** The hashing queue, for metrics and tests. */
  get line(): Pick<FairHashingQueue, 'inFlight' | 'waiting' | 'drainPerSecond'> {
    return this.queue;
  }

  hash(password: string, address: string): Promise<string> {
    return this.run(address, () => this.threads.hash(password, this.config.BCRYPT_COST));
  }

  verify(password: string, hash: string | undefined, address: string): Promise<boolean> {
    return this.run(address, () => this.threads.compare(password, hash ?? this.dummyHash)).then((ok) => ok && hash !== undefined);
  }

  /** Counts one AUTH_BUSY answer; warns at most once per interval, with how many there were. */
  countRefusal(): void {
    this.metrics.countShedLogin();
    this.refusedSinceWarning++;
    const now = Date.now();
    if (now - this.lastWarning < BUSY_WARNING_INTERVAL_MS) return;
    this.logger.warn(
      `password hashing queue full (${this.queue.capacity} at once, ${this.queue.waiting} waiting): ${this.refusedSinceWarning} logins/registrations ` +
        `answered 503 AUTH_BUSY since the last warning`,
    );
    this.lastWarning = now;
    this.refusedSinceWarning = 0;
  }

  private run<T>(address: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(address, task).catch((error: unknown) => {
      if (!(error instanceof HashingQueueFullError)) throw error;
      this.countRefusal();
      throw authBusy(error.retryAfterMs);
    });
  }
}

/** A flood is refused thousands of times a second: say so once per interval, not per request. */
const BUSY_WARNING_INTERVAL_MS = 10_000;

export const authBusy = (retryAfterMs: number) =>
  new DomainError('AUTH_BUSY', 'Too many logins and registrations at this moment; retry shortly', jitteredRetryAfter(retryAfterMs));
