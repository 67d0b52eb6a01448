import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { DomainError } from '../common/domain-error';
import { jitteredRetryAfter } from '../common/retry-after';
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

/** Counters remembered as over their limit; past it expired ones are swept, then the oldest go. */
const MAX_LOCAL_DENIALS = 100_000;

const tooManyRequests = (waitMs: number) =>
  new DomainError('TOO_MANY_REQUESTS', 'Too many requests; retry later', jitteredRetryAfter(waitMs));

/**
 * Request counters shared by every process, on the first Redis node (REDIS_URLS) under
 * REDIS_KEY_PREFIX. When Redis cannot answer, the limiter lets requests through (fails open):
 * a limiter outage must not turn into a service outage, and the claim path reports a Redis
 * outage itself as LOCK_UNAVAILABLE.
 *
 * A counter Redis reported over its limit stays over it until its window's key expires (the
 * expiry is set once, by the window's first hit), so until then this process refuses that
 * counter's requests itself, without a Redis round trip: a flood past a limit costs a Map
 * lookup per request. The local deadline is the time the request was SENT plus the PTTL Redis
 * answered, never later than the key's real expiry: the local cache only refuses what Redis
 * would refuse, and admits nothing Redis would not.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly redis: Redis;
  private readonly hit: HitCommand;
  private lastFailOpenLog = 0;
  /** Counter key -> monotonic ms until which Redis is known to refuse it. */
  private readonly deniedUntil = new Map<string, number>();
  /** Requests refused from the local cache (tests and the bench read it). */
  refusedLocally = 0;

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
    const local = this.localRefusal(active);
    if (local) throw local;
    const sentAt = performance.now();
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
      if (counts[2 * i] <= bucket.limit) return;
      if (counts[2 * i + 1] >= retryAfterMs) {
        retryAfterMs = counts[2 * i + 1];
        exceeded = bucket;
      }
      this.deny(bucket.key, sentAt + counts[2 * i + 1]);
    });
    if (exceeded && retryAfterMs > 0) {
      this.metrics.countRateLimited(limitName(exceeded));
      throw tooManyRequests(retryAfterMs);
    }
  }

  /**
   * The 429 for these buckets when this process already knows one of them is over its limit
   * (no Redis round trip), else null. Counts the refusal in `rate_limited_total`; a request it
   * lets through is counted by `consume`.
   */
  localRefusal(buckets: RateLimitBucket[]): DomainError | null {
    if (this.deniedUntil.size === 0) return null;
    const now = performance.now();
    let waitMs = 0;
    let exceeded: RateLimitBucket | undefined;
    for (const bucket of buckets) {
      if (bucket.limit <= 0) continue;
      const until = this.deniedUntil.get(bucket.key);
      if (until === undefined) continue;
      if (until <= now) this.deniedUntil.delete(bucket.key);
      else if (until - now > waitMs) {
        waitMs = until - now;
        exceeded = bucket;
      }
    }
    if (!exceeded) return null;
    this.refusedLocally++;
    this.metrics.countRateLimited(limitName(exceeded));
    return tooManyRequests(waitMs);
  }

  private deny(key: string, until: number): void {
    this.deniedUntil.delete(key);
    this.deniedUntil.set(key, until);
    if (this.deniedUntil.size <= MAX_LOCAL_DENIALS) return;
    const now = performance.now();
    for (const [k, t] of this.deniedUntil) if (t <= now) this.deniedUntil.delete(k);
    // Forgetting a denial only costs a Redis round trip; the oldest entry is the first in Map order.
    while (this.deniedUntil.size > MAX_LOCAL_DENIALS) this.deniedUntil.delete(this.deniedUntil.keys().next().value as string);
  }

  private logFailOpen(error: Error): void {
    const now = Date.now();
    if (now - this.lastFailOpenLog < FAIL_OPEN_LOG_INTERVAL_MS) return;
    this.lastFailOpenLog = now;
    this.logger.warn(`rate limits are not enforced, Redis did not answer: ${error.message}`);
  }
}
