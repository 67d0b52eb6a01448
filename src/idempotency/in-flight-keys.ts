import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { REDIS_CLIENTS } from '../redis/redis-clients';

/** Deletes the marker only if it is still ours (it may have expired and been taken since). */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How often "Redis is down, in-flight markers are off" may be logged. */
const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

/**
 * "A request with this key is in flight", shared by every process: a Redis SET NX PX on the first
 * node of REDIS_URLS under REDIS_KEY_PREFIX, deleted when the request is answered. It turns a
 * concurrent reuse of a key into 409 IDEMPOTENCY_KEY_IN_USE. It is not the fence: if Redis does
 * not answer, or a marker expires under a request still running, the primary key of
 * idempotency_keys (written with the claim) still lets one answer per key commit.
 */
@Injectable()
export class InFlightKeys {
  private readonly logger = new Logger(InFlightKeys.name);
  private readonly redis: Redis;
  /** Longer than any claim can stay in flight: queue wait, lock retries, statements, commit check. */
  private readonly ttlMs: number;
  private lastFailOpenLog = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENTS) clients: Redis[],
  ) {
    this.redis = clients[0];
    this.ttlMs =
      config.CLAIM_QUEUE_TIMEOUT_MS +
      (config.LOCK_RETRY_COUNT + 1) * (config.LOCK_RETRY_DELAY_MS + config.LOCK_RETRY_JITTER_MS) +
      3 * config.DATABASE_STATEMENT_TIMEOUT_MS +
      5000;
  }

  /**
   * Marks the key in flight; returns the release function, or null when another request holds it.
   * Fails open (no marker, a warning) when Redis cannot answer.
   */
  async acquire(userId: string, key: string): Promise<(() => Promise<void>) | null> {
    const name = `${this.config.REDIS_KEY_PREFIX}idempotency:${userId}:${key}`;
    const token = randomUUID();
    try {
      const set = await this.redis.set(name, token, 'PX', this.ttlMs, 'NX');
      if (set === null) return null;
    } catch (error) {
      this.logFailOpen(error as Error);
      return async () => undefined;
    }
    return async () => {
      await this.redis.eval(RELEASE_SCRIPT, 1, name, token).catch(() => undefined);
    };
  }

  private logFailOpen(error: Error): void {
    const now = Date.now();
    if (now - this.lastFailOpenLog < FAIL_OPEN_LOG_INTERVAL_MS) return;
    this.lastFailOpenLog = now;
    this.logger.warn(`idempotency keys are not marked in flight, Redis did not answer: ${error.message}`);
  }
}
