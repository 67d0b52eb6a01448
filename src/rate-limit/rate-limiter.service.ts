import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { REDIS_CLIENTS } from '../redis/redis-clients';

/** One counter: at most `limit` hits per `windowMs` for `key` (a limit of 0 is no limit). */
export interface RateLimitBucket {
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * Fixed windows, counted atomically in one script call for every bucket of a request: INCR,
 * and the expiry set only by the hit that created the counter, so a flood cannot extend it.
 * Returns [count, pttl] per key.
 */
const HIT_SCRIPT = `
local result = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    ttl = tonumber(ARGV[i])
    redis.call('PEXPIRE', key, ttl)
  end
  result[#result + 1] = count
  result[#result + 1] = ttl
end
return result`;

type HitCommand = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number[]>;

/** The limits the routes apply (users/account-limits.ts, ClaimsService): their 429 counters start at 0. */
const LIMITS = ['login:address', 'login:username', 'registration:address', 'claim:user'];

/** The limit a bucket counts for, its key without the subject: `login:username`, `claim:user`. */
const limitName = (bucket: RateLimitBucket): string => bucket.key.split(':', 2).join(':');

/** How often "Redis is down, limits are off" may be logged: once, not once per request. */
const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

/**
 * Request counters shared by every process, on the first Redis node (REDIS_URLS) under
 * REDIS_KEY_PREFIX. When Redis cannot answer, the limiter lets requests through (fails open):
 * a limiter outage must not turn into a service outage, and the claim path reports a Redis
 * outage itself as LOCK_UNAVAILABLE.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly redis: Redis;
  private readonly hit: HitCommand;
  private lastFailOpenLog = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENTS) clients: Redis[],
    private readonly metrics: MetricsService,
  ) {
    this.redis = clients[0];
    // defineCommand sends EVALSHA and falls back to EVAL once if the script is not cached.
    this.redis.defineCommand('rateLimitHit', { lua: HIT_SCRIPT });
    const command = (this.redis as unknown as { rateLimitHit: HitCommand }).rateLimitHit;
    this.hit = command.bind(this.redis);
    for (const limit of LIMITS) this.metrics.countRateLimited(limit, 0);
  }

  /** The Redis key of a counter, after the configured prefix. */
  key(name: string): string {
    return `${this.config.REDIS_KEY_PREFIX}ratelimit:${name}`;
  }

  /** Counts one request against every bucket; throws 429 TOO_MANY_REQUESTS when one is exceeded. */
  async consume(buckets: RateLimitBucket[]): Promise<void> {
    const active = buckets.filter((bucket) => bucket.limit > 0);
    if (active.length === 0) return;
    let counts: number[];
    try {
      counts = await this.hit(active.length, ...active.map((b) => this.key(b.key)), ...active.map((b) => b.windowMs));
    } catch (error) {
      this.metrics.countRateLimitFailOpen();
      this.logFailOpen(error as Error);
      return;
    }
    let retryAfterMs = 0;
    let exceeded: RateLimitBucket | undefined;
    active.forEach((bucket, i) => {
      if (counts[2 * i] > bucket.limit && counts[2 * i + 1] >= retryAfterMs) {
        retryAfterMs = counts[2 * i + 1];
        exceeded = bucket;
      }
    });
    if (exceeded && retryAfterMs > 0) {
      this.metrics.countRateLimited(limitName(exceeded));
      throw new DomainError('TOO_MANY_REQUESTS', 'Too many requests; retry later', Math.max(1, Math.ceil(retryAfterMs / 1000)));
    }
  }

  private logFailOpen(error: Error): void {
    const now = Date.now();
    if (now - this.lastFailOpenLog < FAIL_OPEN_LOG_INTERVAL_MS) return;
    this.lastFailOpenLog = now;
    this.logger.warn(`rate limits are not enforced, Redis did not answer: ${error.message}`);
  }
}
