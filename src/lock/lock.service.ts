import { Inject, Injectable, Logger } from '@nestjs/common';
import { ExecutionError, Lock, Redlock, ResourceLockedError } from '@sesamecare-oss/redlock';
import type Redis from 'ioredis';
import { withTimeout } from '../common/with-timeout';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { REDIS_CLIENTS, quorumOf } from '../redis/redis-clients';
import { withSpan } from '../tracing/tracing';
import { LockBusyError, LockUnavailableError } from './lock.errors';

export interface LockOutcome<T> {
  result: T;
  /** Milliseconds spent acquiring the lock. */
  waitedMs: number;
}

/** A granted lock and the monotonic instant (performance.now()) its lease ends. */
interface Lease {
  lock: Lock;
  validUntil: number;
}

/** Redlock's allowance for clock drift between the Redis nodes: 1% of the TTL plus 2 ms. */
const leaseDrift = (ttlMs: number) => Math.round(0.01 * ttlMs) + 2;

/**
 * Redlock over the configured Redis nodes. The lock keeps claimants of one coupon from
 * fighting over its row; correctness never depends on it (see claims/claim-transaction.ts).
 */
@Injectable()
export class LockService {
  private readonly logger = new Logger(LockService.name);
  private readonly redlock: Redlock;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENTS) private readonly clients: Redis[],
  ) {
    this.redlock = new Redlock(clients, {
      // One attempt per call; acquire() below does the retries (see why there).
      retryCount: 0,
      // We never auto-extend: a batch is short and the database decides the outcome anyway.
      automaticExtensionThreshold: 0,
    });
  }

  private get quorum(): number {
    return quorumOf(this.clients.length);
  }

  /** The Redis key for a resource, after the configured prefix (tests isolate themselves by it). */
  key(resource: string): string {
    return `${this.config.REDIS_KEY_PREFIX}${resource}`;
  }

  /**
   * Runs `work` holding the lock on `resource` (or on every one of `resources` at once, all or
   * nothing on each node). `retries` overrides LOCK_RETRY_COUNT: 0 for a caller with a plan B.
   */
  async withLock<T>(resource: string | string[], work: () => Promise<T>, options: { retries?: number } = {}): Promise<LockOutcome<T>> {
    const resources = typeof resource === 'string' ? [resource] : resource;
    const name = resources.length === 1 ? resources[0] : `${resources.length} resources (${resources[0]}, ...)`;
    const started = performance.now();
    const lease = await withSpan('lock.acquire', { 'lock.resource': name }, () =>
      this.acquire(resources, name, options.retries ?? this.config.LOCK_RETRY_COUNT),
    );
    const waitedMs = Math.round(performance.now() - started);
    try {
      return { result: await work(), waitedMs };
    } finally {
      // The work is committed (or rolled back) by now; a failed release must not change that.
      await withSpan('lock.release', { 'lock.resource': name }, () => this.release(lease, name));
    }
  }

  /**
   * Up to 1 + `retries` (LOCK_RETRY_COUNT unless told) Redlock attempts, LOCK_RETRY_DELAY_MS (+- jitter) apart. The
   * retries are ours, not redlock's: redlock keeps the keys a failed attempt did set on a
   * minority of nodes until its whole retry window is over, so two processes that split the
   * vote (one key each) block each other, and everyone else, for the whole window, again and
   * again (measured: a 3-process sale with one of three Redis nodes dead answered LOCK_BUSY
   * for 80 s). A single redlock attempt releases its partial keys before it throws, as the
   * Redlock algorithm asks, so the next attempt of anyone starts from free nodes.
   */
  private async acquire(resources: string[], name: string, retries: number): Promise<Lease> {
    const keys = resources.map((resource) => this.key(resource));
    for (let attempt = 0; ; attempt++) {
      // A node whose connection is down cannot vote. Without a connected quorum every attempt
      // is bound to fail, so answer LOCK_UNAVAILABLE now instead of after the retries
      // (measured: quorum-lost claims took over 6 s under load waiting on doomed attempts).
      const connected = this.clients.filter((client) => client.status === 'ready').length;
      if (connected < this.quorum) {
        throw new LockUnavailableError(`only ${connected} of ${this.clients.length} Redis nodes are connected`);
      }
      try {
        return await this.attemptOnce(keys);
      } catch (error) {
        if (attempt >= retries) throw await this.classify(error, name, attempt + 1);
      }
      const jitter = Math.floor((Math.random() * 2 - 1) * this.config.LOCK_RETRY_JITTER_MS);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, this.config.LOCK_RETRY_DELAY_MS + jitter)));
    }
  }

  /**
   * One redlock attempt, bounded. Every command has REDIS_COMMAND_TIMEOUT_MS, so an attempt
   * (votes, then the release of a failed one) settles within two of those; the bound is a
   * fence against a vote that never settles (redlock waits forever on a tie, which an odd
   * node count rules out). A lock granted after the bound is given back at once.
   */
  private async attemptOnce(keys: string[]): Promise<Lease> {
    // The lease is timed on the monotonic clock from before the first vote was sent, like
    // redlock's own validity but immune to a wall-clock jump: Redis expires the keys TTL after
    // they were set, so no jump of this host's clock may make us trust a lease for longer.
    const requestedAt = performance.now();
    const attempt = this.redlock.acquire(keys, this.config.LOCK_TTL_MS, { retryCount: 0 });
    const lock = await this.bounded(attempt, 'no quorum answer', () => {
      attempt.then(
        (late) => late.release().catch(() => undefined),
        () => undefined,
      );
    });
    const lease = { lock, validUntil: requestedAt + this.config.LOCK_TTL_MS - leaseDrift(this.config.LOCK_TTL_MS) };
    // Redlock can grant a lease that is already spent (slow votes, or a TTL shorter than the
    // command timeout): give it back and count the attempt as failed rather than work unlocked.
    if (lease.validUntil <= performance.now()) {
      await lock.release().catch(() => undefined);
      throw new Error('the lock was granted already expired');
    }
    return lease;
  }

  /** Every command has REDIS_COMMAND_TIMEOUT_MS; a whole attempt or release gets three of them. */
  private bounded<T>(work: Promise<T>, what: string, onLate: () => void): Promise<T> {
    const boundMs = this.config.REDIS_COMMAND_TIMEOUT_MS * 3;
    return withTimeout(work, boundMs, `${what} within ${boundMs} ms`, onLate);
  }

  /** Releases the lock, and says so in the log when its lease ran out before the work ended. */
  private async release({ lock, validUntil }: Lease, resource: string): Promise<void> {
    if (validUntil <= performance.now()) {
      this.logger.warn(`lock on ${resource} was lost (lease expired) before the work finished; the database fence decided`);
    }
    try {
      // One retry: a single lost vote would otherwise leave the key blocking everyone for the TTL.
      const release = this.redlock.release(lock, { retryCount: 1, retryDelay: 50, retryJitter: 0 });
      await this.bounded(release, 'release not confirmed', () => void release.catch(() => undefined));
    } catch (error) {
      this.logger.warn(`releasing lock on ${resource} failed (it will expire): ${(error as Error).message}`);
    }
  }

  /** Judged by the last attempt: busy when enough nodes answered "locked"; unavailable when too few answered at all. */
  private async classify(error: unknown, resource: string, attempts: number): Promise<Error> {
    if (!(error instanceof ExecutionError) || error.attempts.length === 0) {
      return new LockUnavailableError(`lock on ${resource} failed: ${(error as Error)?.message}`);
    }
    const last = await error.attempts[error.attempts.length - 1];
    const unreachable = [...last.votesAgainst.values()].filter((e) => !(e instanceof ResourceLockedError)).length;
    if (last.membershipSize - unreachable < last.quorumSize) {
      return new LockUnavailableError(`only ${last.membershipSize - unreachable} of ${last.membershipSize} Redis nodes answered`);
    }
    return new LockBusyError(`lock on ${resource} still held after ${attempts} attempts`);
  }
}
