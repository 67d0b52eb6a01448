import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { bcryptConcurrency, libuvThreadPoolSize } from '../config/config.loader';
import { MetricsService } from '../metrics/metrics.service';
import { HashingGate } from './hashing-gate';
import { HashingThreads } from './hashing-threads';

/**
 * The hashing threads' nice value: under CPU contention the event loop (nice 0, weight 1024)
 * gets ~10x the CPU of a hash (nice 10, weight 110); alone on a core a hash runs at full speed.
 */
const HASHING_NICE = 10;

/**
 * Every bcrypt hash and compare of this process (registration, login, the admin account) runs
 * through one HashingGate: past BCRYPT_MAX_CONCURRENT the caller gets 503 AUTH_BUSY before any
 * work is done, so a flood of registrations or wrong-password logins cannot take the CPU the
 * claims need, and a refused registration has written nothing.
 */
@Injectable()
export class PasswordHasher implements OnApplicationShutdown {
  private readonly logger = new Logger(PasswordHasher.name);
  /** Compared against when the username is unknown, so both cases cost one bcrypt compare. */
  private readonly dummyHash: string;
  private readonly gate: HashingGate;
  private readonly threads: HashingThreads;
  private refusedSinceWarning = 0;
  private lastWarning = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.dummyHash = bcrypt.hashSync('dummy-password-for-timing', config.BCRYPT_COST);
    this.gate = new HashingGate(bcryptConcurrency(config));
    // Past the libuv pool's size (load tools and tests only) the extra jobs wait for a thread.
    this.threads = new HashingThreads(Math.min(this.gate.capacity, libuvThreadPoolSize()), HASHING_NICE);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.threads.close();
  }

  /** True while every hashing slot is taken: a new hash would be refused. */
  get busy(): boolean {
    return this.gate.full;
  }

  get capacity(): number {
    return this.gate.capacity;
  }

  hash(password: string): Promise<string> {
    return this.run(() => this.threads.hash(password, this.config.BCRYPT_COST));
  }

  verify(password: string, hash: string | undefined): Promise<boolean> {
    return this.run(() => this.threads.compare(password, hash ?? this.dummyHash)).then((ok) => ok && hash !== undefined);
  }

  /** Counts one AUTH_BUSY answer; warns at most once per interval, with how many there were. */
  countRefusal(): void {
    this.metrics.countShedLogin();
    this.refusedSinceWarning++;
    const now = Date.now();
    if (now - this.lastWarning < BUSY_WARNING_INTERVAL_MS) return;
    this.logger.warn(
      `password hashing at capacity (${this.gate.capacity} at once): ${this.refusedSinceWarning} logins/registrations ` +
        `answered 503 AUTH_BUSY since the last warning`,
    );
    this.lastWarning = now;
    this.refusedSinceWarning = 0;
  }

  private run<T>(task: () => Promise<T>): Promise<T> {
    const running = this.gate.tryRun(task);
    if (running) return running;
    this.countRefusal();
    return Promise.reject(authBusy());
  }
}

/** A flood is refused thousands of times a second: say so once per interval, not per request. */
const BUSY_WARNING_INTERVAL_MS = 10_000;

export const authBusy = () =>
  new DomainError('AUTH_BUSY', 'Too many logins and registrations at this moment; retry shortly', 1);
