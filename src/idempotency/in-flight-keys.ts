import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { REDIS_CLIENTS } from '../redis/redis-clients';

/** Deletes the marker only if it is still ours (it may have expired and been taken since). */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * A marker's lifetime, renewed every MARKER_RENEW_MS while its request runs: a process that dies
 * (SIGKILL, OOM) leaves its keys "in flight" for at most this long, not for a claim's worst case.
 */
export const MARKER_TTL_MS = 3000;
const MARKER_RENEW_MS = 1000;

/** How often "Redis is down, in-flight markers are off" may be logged. */
const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

/**
 * "A request with this key is in flight", shared by every process: a Redis SET NX PX on the first
 * node of REDIS_URLS under REDIS_KEY_PREFIX, renewed while the request runs and deleted when it
 * is answered. It turns a concurrent reuse of a key into 409 IDEMPOTENCY_KEY_IN_USE. It is not
 * the fence: if Redis does not answer, or a marker lapses under a request still running (a
 * frozen process), the primary key of idempotency_keys, written in the claim's transaction,
 * still lets one answer per key commit.
 */
@Injectable()
export class InFlightKeys implements OnApplicationShutdown {
  private readonly logger = new Logger(InFlightKeys.name);
  private readonly redis: Redis;
  /** Markers this process holds: Redis key -> its token. */
  private readonly held = new Map<string, string>();
  private readonly renewal: NodeJS.Timeout;
  private lastFailOpenLog = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENTS) clients: Redis[],
  ) {
    this.redis = clients[0];
    this.renewal = setInterval(() => this.renew(), MARKER_RENEW_MS);
    this.renewal.unref();
  }

  /**
   * Marks the key in flight; returns the release function, or null when another request holds it.
   * Fails open (no marker, a warning) when Redis cannot answer.
   */
  async acquire(userId: string, key: string): Promise<(() => Promise<void>) | null> {
    const name = `${this.config.REDIS_KEY_PREFIX}idempotency:${userId}:${key}`;
    const token = randomUUID();
    try {
      const set = await this.redis.set(name, token, 'PX', MARKER_TTL_MS, 'NX');
      if (set === null) return null;
    } catch (error) {
      this.logFailOpen(error as Error);
      return () => Promise.resolve();
    }
    this.held.set(name, token);
    return async () => {
      // A lapsed marker may have been taken by another request of this process since: keep its entry.
      if (this.held.get(name) === token) this.held.delete(name);
      await this.redis.eval(RELEASE_SCRIPT, 1, name, token).catch(() => undefined);
    };
  }

  /** One pipeline for every marker held: a long claim keeps its key, a dead process's keys lapse. */
  private renew(): void {
    if (this.held.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const name of this.held.keys()) pipeline.pexpire(name, MARKER_TTL_MS);
    pipeline.exec().catch(() => undefined);
  }

  private logFailOpen(error: Error): void {
    const now = Date.now();
    if (now - this.lastFailOpenLog < FAIL_OPEN_LOG_INTERVAL_MS) return;
    this.lastFailOpenLog = now;
    this.logger.warn(`idempotency keys are not marked in flight, Redis did not answer: ${error.message}`);
  }

  onApplicationShutdown(): void {
    clearInterval(this.renewal);
  }
}
