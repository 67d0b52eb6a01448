import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ExecutionError, Lock, Redlock, ResourceLockedError } from '@sesamecare-oss/redlock';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { LockBusyError, LockUnavailableError } from './lock.errors';
import { REDIS_CLIENTS } from './redis-clients';

export interface LockOutcome<T> {
  result: T;
  /** Milliseconds spent acquiring the lock. */
  waitedMs: number;
  /** False when the lease ran out before the work finished (the database fence still held). */
  heldThroughout: boolean;
}

/**
 * Redlock over the configured Redis nodes. The lock keeps claimants of one coupon from
 * fighting over its row; correctness never depends on it (see claims.repository.ts).
 */
@Injectable()
export class LockService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LockService.name);
  private readonly redlock: Redlock;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENTS) private readonly clients: Redis[],
  ) {
    this.redlock = new Redlock(clients, {
      retryCount: config.LOCK_RETRY_COUNT,
      retryDelay: config.LOCK_RETRY_DELAY_MS,
      retryJitter: config.LOCK_RETRY_JITTER_MS,
      // We never auto-extend: a batch is short and the database decides the outcome anyway.
      automaticExtensionThreshold: 0,
    });
  }

  private get quorum(): number {
    return Math.floor(this.clients.length / 2) + 1;
  }

  /** Waits (bounded) for the first connections, so claims right after start-up are not refused. */
  async onModuleInit(): Promise<void> {
    const bound = this.config.REDIS_COMMAND_TIMEOUT_MS * 2;
    await Promise.all(
      this.clients.map((client) =>
        client.status === 'ready'
          ? undefined
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, bound);
              client.once('ready', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
      ),
    );
  }

  /** The Redis key for a resource, after the configured prefix (tests isolate themselves by it). */
  key(resource: string): string {
    return `${this.config.REDIS_KEY_PREFIX}${resource}`;
  }

  async withLock<T>(resource: string, work: () => Promise<T>): Promise<LockOutcome<T>> {
    const started = Date.now();
    const lock = await this.acquire(resource);
    const waitedMs = Date.now() - started;
    let heldThroughout = false;
    let result: T;
    try {
      result = await work();
    } finally {
      // The work is committed (or rolled back) by now; a failed release must not change that.
      heldThroughout = await this.release(lock, resource);
    }
    return { result, waitedMs, heldThroughout };
  }

  private async acquire(resource: string): Promise<Lock> {
    // A node whose connection is down cannot vote. Without a connected quorum every Redlock
    // attempt is bound to fail, so answer LOCK_UNAVAILABLE now instead of after the retries
    // (measured: quorum-lost claims took over 6 s under load waiting on doomed attempts).
    const connected = this.clients.filter((client) => client.status === 'ready').length;
    if (connected < this.quorum) {
      throw new LockUnavailableError(`only ${connected} of ${this.clients.length} Redis nodes are connected`);
    }
    try {
      return await this.redlock.acquire([this.key(resource)], this.config.LOCK_TTL_MS);
    } catch (error) {
      throw await this.classify(error, resource);
    }
  }

  /** Releases the lock; returns whether it was still valid when the work ended. */
  private async release(lock: Lock, resource: string): Promise<boolean> {
    const stillValid = lock.expiration > Date.now();
    if (!stillValid) {
      this.logger.warn(`lock on ${resource} was lost (lease expired) before the work finished; the database fence decided`);
    }
    try {
      await lock.release();
    } catch (error) {
      this.logger.warn(`releasing lock on ${resource} failed (it will expire): ${(error as Error).message}`);
    }
    return stillValid;
  }

  /** Busy when enough nodes answered "locked"; unavailable when too few answered at all. */
  private async classify(error: unknown, resource: string): Promise<Error> {
    if (!(error instanceof ExecutionError) || error.attempts.length === 0) {
      return new LockUnavailableError(`lock on ${resource} failed: ${(error as Error)?.message}`);
    }
    const last = await error.attempts[error.attempts.length - 1];
    const unreachable = [...last.votesAgainst.values()].filter((e) => !(e instanceof ResourceLockedError)).length;
    if (last.membershipSize - unreachable < last.quorumSize) {
      return new LockUnavailableError(
        `only ${last.membershipSize - unreachable} of ${last.membershipSize} Redis nodes answered`,
      );
    }
    return new LockBusyError(`lock on ${resource} still held after ${error.attempts.length} attempts`);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.quit().catch(() => client.disconnect())));
  }
}
